"""Queries behind "is it draining?": what each queue holds now, and what arrived and completed
minute by minute over the last few minutes.

What authentik's columns can tell (reference §3): `mtime` is set when a message is first sent
(insert), when a consumer claims it, and when it ends (done or rejected) — never by the running
states or a re-enqueue. So:

* completions are exact: tasks now done or rejected whose `mtime` falls in the window;
* arrivals are messages first sent in the window. A finished task's `mtime` no longer says when it
  was sent, but its first task log does: authentik writes "Task has been queued" in the enqueue
  transaction, and task logs are kept with the task. Every message sent in the window has an
  `mtime` in the window too (it only moves forward), so the candidates are one bounded index scan
  per state and a log look-up each (the (task_id) index). Without a task log table (2025.8)
  arrivals are unknown.

Every scan walks authentik's (state, mtime, …) index and is bounded by %(cap)s rows.
"""

from __future__ import annotations

from tasktui.core.shape import TableShape

# Queue names by a loose index scan over authentik's (queue_name) index: milliseconds on any
# table size (authentik itself only uses "default").
QUEUE_NAMES = """
WITH RECURSIVE q(queue_name) AS (
    (SELECT queue_name FROM authentik_tasks_task ORDER BY queue_name LIMIT 1)
    UNION ALL
    SELECT (SELECT t.queue_name FROM authentik_tasks_task AS t WHERE t.queue_name > q.queue_name
            ORDER BY t.queue_name LIMIT 1)
    FROM q WHERE q.queue_name IS NOT NULL
)
SELECT queue_name FROM q WHERE queue_name IS NOT NULL LIMIT %(limit)s
"""

_NOW = """
SELECT u.queue_name,
    count(*) FILTER (WHERE u.state = 'queued' AND (u.eta IS NULL OR u.eta <= %(now)s)),
    count(*) FILTER (WHERE u.state = 'queued' AND u.eta > %(now)s),
    count(*) FILTER (WHERE u.state = 'queued' AND u.eta <= %(now)s - %(poll_grace)s),
    count(*) FILTER (WHERE u.state <> 'queued'),
    min(CASE WHEN u.state = 'queued' AND (u.eta IS NULL OR u.eta <= %(now)s - %(poll_grace)s)
        THEN COALESCE(u.eta + %(poll_grace)s, u.mtime) END),
    max(u.mtime) FILTER (WHERE u.state <> 'queued'),
    min(u.eta) FILTER (WHERE u.state = 'queued' AND u.eta > %(now)s)
FROM (
    SELECT t.queue_name, t.state, {eta} AS eta, t.mtime
    FROM authentik_tasks_task AS t
    WHERE t.state = ANY (%(unfinished)s)
    LIMIT %(cap)s
) AS u
GROUP BY u.queue_name
"""


def queue_now(shape: TableShape) -> str:
    """Per queue, now: waiting (queued and due: no eta, or eta passed), delayed (eta ahead),
    overdue retries (eta passed more than %(poll_grace)s ago: only the broker's fallback poll
    picks those up, normally within a minute), in flight (consumed … postprocess), since when
    the oldest waiting task is due (an eta-delayed one counts from eta + the poll grace, a sent
    one from its mtime: its enqueue, or the rejection a retry brought back), the last claim (in-flight
    mtime) and the next eta."""
    return _NOW.format(eta="t.eta" if shape.has_eta else "NULL::timestamptz")


# Tasks that reached done or rejected after %(start)s, per queue and minute (0 = the last 60 s
# before %(now)s; a worker clock ahead of the server's counts in minute 0), with the newest.
COMPLETIONS = """
SELECT c.queue_name, LEAST(%(minutes)s - 1, GREATEST(0, floor(extract(epoch FROM %(now)s - c.mtime) / 60)))::int,
    count(*), max(c.mtime)
FROM unnest(%(final)s::text[]) AS s(state)
CROSS JOIN LATERAL (
    SELECT t.queue_name, t.mtime FROM authentik_tasks_task AS t
    WHERE t.state = s.state AND t.mtime > %(start)s
    ORDER BY t.mtime DESC LIMIT %(cap)s
) AS c
GROUP BY 1, 2
"""

# Messages first sent after %(start)s, per queue and minute: candidates are tasks of any state
# changed since then; each one's sending time is its first task log (see the module docstring),
# else its mtime.
ARRIVALS = """
SELECT a.queue_name, LEAST(%(minutes)s - 1, GREATEST(0, floor(extract(epoch FROM %(now)s - a.sent) / 60)))::int,
    count(*)
FROM (
    SELECT r.queue_name,
        COALESCE((SELECT min(l."timestamp") FROM authentik_tasks_tasklog AS l WHERE l.task_id = r.message_id),
                 r.mtime) AS sent
    FROM unnest(%(states)s::text[]) AS s(state)
    CROSS JOIN LATERAL (
        SELECT t.message_id, t.queue_name, t.mtime FROM authentik_tasks_task AS t
        WHERE t.state = s.state AND t.mtime > %(start)s
        ORDER BY t.mtime DESC LIMIT %(cap)s
    ) AS r
) AS a
WHERE a.sent > %(start)s
GROUP BY 1, 2
"""

# The last completion of one queue within the last day, for a queue with waiting work and none
# completed in the window (a stall's "nothing consumed for …").
LAST_COMPLETION = """
SELECT max(c.mtime) FROM unnest(%(final)s::text[]) AS s(state)
CROSS JOIN LATERAL (
    SELECT t.mtime FROM authentik_tasks_task AS t
    WHERE t.state = s.state AND t.queue_name = %(queue)s AND t.mtime > %(now)s - interval '1 day'
    ORDER BY t.mtime DESC LIMIT 1
) AS c
"""
