"""The console's core: database access, SQL, models, the change feed and diffing.

Nothing under tasktui.core imports Textual; the UI (tasktui.ui) is built on top of it and the
command-line tools use it directly.
"""
