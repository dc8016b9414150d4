"""tasktui: a live terminal console for authentik's Postgres-backed task system."""

__version__ = "0.1.0"
