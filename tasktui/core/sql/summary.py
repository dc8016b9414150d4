"""The summary row of one installation: what waits and what runs (counts up to %(cap)s per state,
over authentik's (state, mtime, …) index)."""

from __future__ import annotations

from tasktui.core.shape import TableShape

_UNFINISHED_COUNTS = """
SELECT count(*) FILTER (WHERE u.state = 'queued' AND (u.eta IS NULL OR u.eta <= now())),
    count(*) FILTER (WHERE u.state = 'queued' AND u.eta > now()),
    count(*) FILTER (WHERE u.state <> 'queued')
FROM unnest(%(unfinished)s::text[]) AS s(state)
CROSS JOIN LATERAL (
    SELECT t.state, {eta} AS eta FROM authentik_tasks_task AS t WHERE t.state = s.state LIMIT %(cap)s
) AS u
"""


def unfinished_counts(shape: TableShape) -> str:
    """(waiting for a worker, delayed retries, claimed by a worker)."""
    return _UNFINISHED_COUNTS.format(eta="t.eta" if shape.has_eta else "NULL::timestamptz")
