"""The one-shot check behind `tasktui status`: queue depth and rejected tasks, bounded reads over
authentik's (state, mtime, …) index."""

from __future__ import annotations

from tasktui.core.shape import TableShape

# Per queue and unfinished state: how many (up to %(cap)s per state, the oldest first), how many
# of the queued are retries whose eta is ahead, and how long the oldest task that is due has
# waited — since its eta, else since its last enqueue or claim (the workers' "queued for more
# than N minutes" alarm dates a task the same way).
_QUEUE_DEPTHS = """
SELECT u.queue_name, u.state, count(*),
    count(*) FILTER (WHERE u.state = 'queued' AND u.eta > now()),
    extract(epoch FROM max(now() - COALESCE(u.eta, u.mtime))
        FILTER (WHERE u.state = 'queued' AND (u.eta IS NULL OR u.eta <= now())))::float8
FROM unnest(%(unfinished)s::text[]) AS s(state)
CROSS JOIN LATERAL (
    SELECT t.queue_name, t.state, {eta} AS eta, t.mtime
    FROM authentik_tasks_task AS t
    WHERE t.state = s.state
    ORDER BY t.mtime
    LIMIT %(cap)s
) AS u
GROUP BY u.queue_name, u.state
"""


def queue_depths(shape: TableShape) -> str:
    """(queue, state, tasks, delayed, oldest due task's wait in seconds or NULL) rows."""
    return _QUEUE_DEPTHS.format(eta="t.eta" if shape.has_eta else "NULL::timestamptz")


# Rejected tasks that finished in the last %(minutes)s minutes, counted up to %(cap)s.
RECENTLY_REJECTED = """
SELECT count(*) FROM (
    SELECT 1 FROM authentik_tasks_task AS t
    WHERE t.state = 'rejected' AND t.mtime > now() - %(minutes)s * interval '1 minute'
    LIMIT %(cap)s
) AS recent
"""
