"""The SQL half of a task filter (tasktui.core.filters): each facet's condition, built from the
expressions of tasktui.core.sql.tasks.TaskQueries so that it reads the same values the console's
rows are made of."""

from __future__ import annotations

import string

# Case-insensitive means ASCII letters only, in SQL and in memory alike: the server's lower()
# follows the database's locale (a C-locale database lowers nothing but ASCII), Python's does not.
_UPPER, _LOWER = string.ascii_uppercase, string.ascii_lowercase


def folded(expression: str) -> str:
    """`expression` with ASCII capitals lowered (tasktui.core.filters.fold, in SQL)."""
    return f"translate({expression}, '{_UPPER}', '{_LOWER}')"


def one_of(expressions: tuple[str, ...], param: str, array_type: str = "text[]") -> str:
    """Any of the expressions equals one of %(param)s (NULL equals nothing)."""
    return "(" + " OR ".join(f"{e} = ANY (%({param})s::{array_type})" for e in expressions) + ")"


def none_of(expressions: tuple[str, ...], param: str) -> str:
    """No expression equals one of %(param)s (NULL counts as none)."""
    return f"NOT COALESCE({one_of(expressions, param)}, false)"


def contains(expressions: tuple[str, ...], param: str) -> str:
    """Any of the expressions contains %(param)s, a LIKE pattern of folded text."""
    return "(" + " OR ".join(f"{folded(e)} LIKE %({param})s" for e in expressions) + ")"
