"""What failed: a task's last error, and the failed tasks of a time window (the errors view).

A task "failed" when it is `rejected`, or `done` while its current attempt logged an error
(authentik 2025.10+ still stores such a task as plain `done`; reference §2.2). Both are read
over authentik's own (state, mtime, …) index, one bounded backward scan per state, so the cost
follows the number of failures in the window, not the size of the table.
"""

from __future__ import annotations

from tasktui.core.shape import TableShape
from tasktui.core.status import levels_at_least

# Log levels that mark a log as an error (authentik's Task.error and structlog's levels).
_ERROR_LEVELS = "(" + ", ".join(f"'{level}'" for level in levels_at_least(3)) + ")"

# At most this many characters of an error text are sent (one more: the text was longer, and its
# group key ends in "…"); tasktui.core.error_groups masks and groups them.
ERROR_TEXT_CHARS = 1000


def last_error(shape: TableShape, task: str) -> str:
    """SQL: the current attempt's last error of the task aliased `task`, "ExcType: message" from
    structlog's exception list when the log has one, else the log's event text ('' when nothing
    was logged)."""
    sources = []
    if shape.has_tasklog:
        sources.append(
            "(SELECT COALESCE(NULLIF(concat_ws(': ', l.attributes #>> '{exception,-1,exc_type}',"
            " l.attributes #>> '{exception,-1,exc_value}'), ''), l.event)"
            f" FROM authentik_tasks_tasklog AS l WHERE l.task_id = {task}.message_id AND NOT l.previous"
            f' AND lower(l.log_level) IN {_ERROR_LEVELS} ORDER BY l."timestamp" DESC LIMIT 1)'
        )
    if shape.has_legacy_messages:
        sources.append(
            "(SELECT COALESCE(NULLIF(concat_ws(': ', e #>> '{attributes,exception,-1,exc_type}',"
            " e #>> '{attributes,exception,-1,exc_value}'), ''), e ->> 'event')"
            " FROM authentik_tasks_task AS lt CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN"
            " jsonb_typeof(lt._messages) = 'array' THEN lt._messages ELSE '[]'::jsonb END) WITH ORDINALITY AS x(e, i)"
            f" WHERE lt.message_id = {task}.message_id AND lower(e ->> 'log_level') IN {_ERROR_LEVELS}"
            " ORDER BY x.i DESC LIMIT 1)"
        )
    return "COALESCE(" + ", ".join([*sources, "''"]) + ")"


def logged_an_error(shape: TableShape, task: str) -> str:
    """SQL: the current attempt of the task aliased `task` logged an error — in the task log
    (2025.10+), or as authentik's own trigger judged its legacy `_messages` (2025.8 rows)."""
    conditions = []
    if shape.has_tasklog:
        # A scalar subquery, not EXISTS: the planner turns an EXISTS under OR into one hashed scan
        # of the whole task log (0.8 s on 3 million logs, growing with the table); this is one
        # (task_id) index look-up per task of the window.
        conditions.append(
            f"(SELECT true FROM authentik_tasks_tasklog AS l WHERE l.task_id = {task}.message_id"
            f" AND NOT l.previous AND lower(l.log_level) IN {_ERROR_LEVELS} LIMIT 1) IS NOT NULL"
        )
    if shape.has_legacy_messages:
        conditions.append(f"{task}.aggregated_status = 'error'")
    return "(" + " OR ".join(conditions) + ")" if conditions else "false"


# The two states a failure ends in; each is scanned on its own (see _failures).
FAILURE_STATES = ("rejected", "done")


def _failures(shape: TableShape, columns: str) -> str:
    """Failed tasks changed at or after %(since)s, newest first: per state a LATERAL backward
    scan of the (state, mtime) index over at most %(scan)s tasks (a done task costs a task log
    look-up to tell whether it failed), keeping at most %(limit)s failures. Columns of the
    scanned rows, as `t`: message_id, actor_name, state, mtime, tenant_id, aggregated_status."""
    tenant = "t.tenant_id" if shape.has_tenant else "NULL::uuid"
    return (
        "SELECT r.* FROM unnest(%(states)s::text[]) AS s(state) CROSS JOIN LATERAL ("
        f"SELECT {columns} FROM ("
        f"SELECT t.message_id, t.actor_name, t.state, t.mtime, {tenant} AS tenant_id, t.aggregated_status"
        " FROM authentik_tasks_task AS t WHERE t.state = s.state AND t.mtime >= %(since)s"
        " ORDER BY t.mtime DESC LIMIT %(scan)s) AS t"
        f" WHERE s.state = 'rejected' OR {logged_an_error(shape, 't')}"
        " ORDER BY t.mtime DESC LIMIT %(limit)s) AS r"
    )


# Per state, how many tasks the scan read and the oldest of them: a state whose scan read
# %(scan)s tasks was cut there (the failures found are complete from that oldest one on).
SCANNED = """
SELECT s.state, c.n, c.oldest FROM unnest(%(states)s::text[]) AS s(state)
CROSS JOIN LATERAL (
    SELECT count(*) AS n, min(x.mtime) AS oldest FROM (
        SELECT t.mtime FROM authentik_tasks_task AS t WHERE t.state = s.state AND t.mtime >= %(since)s
        ORDER BY t.mtime DESC LIMIT %(scan)s
    ) AS x
) AS c
"""


def failed_tasks(shape: TableShape) -> str:
    """One row per failed task of the window: message id, actor, state, tenant id, mtime, error
    number (equal texts, equal numbers) and the error's first %(error_chars)s characters on the
    first row of each number only, so each distinct text is sent once."""
    columns = (
        "t.message_id, t.actor_name, t.state, t.tenant_id::text AS tenant_id, t.mtime,"
        f" left({last_error(shape, 't')}, %(error_chars)s) AS error"
    )
    # "C" collation: byte order is all grouping needs, and several times faster on many texts.
    return f"""
WITH found AS MATERIALIZED ({_failures(shape, columns)})
SELECT f.message_id::text, f.actor_name, f.state, f.tenant_id, f.mtime,
    dense_rank() OVER (ORDER BY f.error COLLATE "C"),
    CASE WHEN row_number() OVER (PARTITION BY f.error COLLATE "C" ORDER BY f.message_id) = 1 THEN f.error END
FROM found AS f
"""


def count_failed(shape: TableShape) -> str:
    """How many tasks failed since %(since)s, counted up to %(limit)s per state (over at most
    %(scan)s tasks per state)."""
    return f"SELECT count(*) FROM ({_failures(shape, 't.message_id')}) AS failed"


# Tenant names, to name the tenants an error touches (a handful of rows).
TENANT_NAMES = "SELECT tenant_uuid::text, name FROM authentik_tenants_tenant LIMIT %(limit)s"
