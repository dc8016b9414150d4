"""Exports: the newest tasks a filter matches, and the versions an incident bundle names."""

from __future__ import annotations

from tasktui.core.sql.tasks import TaskQueries


def newest_matching(queries: TaskQueries, where: str) -> str:
    """The newest %(limit)s tasks matching `where` (a TaskFilter's condition over
    `queries.select`): per state on authentik's (state, mtime, …) index, newest first, then
    merged — never a sort of the whole table. %(states)s text[] are the states to look in."""
    return (
        "SELECT r.* FROM unnest(%(states)s::text[]) AS s(state) CROSS JOIN LATERAL ("
        + queries.select
        + f" WHERE t.state = s.state AND ({where}) ORDER BY t.mtime DESC LIMIT %(limit)s) AS r"
        " ORDER BY r.mtime DESC, r.message_id LIMIT %(limit)s"
    )


SERVER_VERSION = "SELECT current_setting('server_version')"
