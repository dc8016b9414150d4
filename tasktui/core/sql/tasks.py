"""Task table queries, shaped for authentik databases with millions of rows.

authentik's only index with `mtime` is (state, mtime, result_expiry), so every "most recent"
query walks it once per state (LATERAL over the list of states, each an index scan backwards
by mtime) instead of sorting the whole table: the first screen costs the same on a thousand or
a million tasks, with no index of ours on the watched database.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import sql

from tasktui.core.models import Fingerprint, TaskRow
from tasktui.core.shape import TableShape, quote_ident
from tasktui.core.status import LEVEL_SEVERITY, effective_status

# Distinct states by a loose index scan (recursive skip over the state index): milliseconds
# on any table size, where SELECT DISTINCT would read every row.
DISTINCT_STATES = """
WITH RECURSIVE s(state) AS (
    (SELECT state FROM authentik_tasks_task ORDER BY state LIMIT 1)
    UNION ALL
    SELECT (SELECT t.state FROM authentik_tasks_task AS t WHERE t.state > s.state ORDER BY t.state LIMIT 1)
    FROM s WHERE s.state IS NOT NULL
)
SELECT state FROM s WHERE state IS NOT NULL
"""

# The server's clock: finished tasks are re-read from the last round's time on this clock.
SERVER_NOW = "SELECT now()"

# Finished tasks by stored status (unfinished ones are counted from the window); run on a
# timer, never per event, under a short timeout of their own (tasktui.core.counts).
FINISHED_COUNTS = """
SELECT aggregated_status, count(*) FROM authentik_tasks_task WHERE state = ANY (%(states)s) GROUP BY aggregated_status
"""


def estimate_rows(state: str) -> sql.Composed:
    """The planner's estimate of the tasks in `state` (EXPLAIN reads statistics, not rows)."""
    return sql.SQL("EXPLAIN (FORMAT JSON) SELECT 1 FROM authentik_tasks_task WHERE state = {}").format(
        sql.Literal(state)
    )


_SEVERITY = (
    "CASE lower(l.log_level) "
    + " ".join(f"WHEN '{level}' THEN {rank}" for level, rank in LEVEL_SEVERITY.items() if rank > 0)
    + " ELSE 0 END"
)
_LEVEL_BY_SEVERITY = {1: "info", 2: "warning", 3: "error"}


_NIL_TENANT = "00000000-0000-0000-0000-000000000000"


def _content_type_join(shape: TableShape) -> str:
    """`ct.label` ("app.model") for the task's related object. authentik looks the content type up
    in the task's tenant schema; where a tenant's schema names ids differently from the task
    schema's (TableShape.tenant_content_types), its tasks are joined to their own schema's table."""
    label = "app_label || '.' || model"
    if not shape.tenant_content_types:
        return (
            f"LEFT JOIN (SELECT id, {label} AS label FROM django_content_type) AS ct"
            " ON ct.id = t.rel_obj_content_type_id"
        )
    branches = [f"SELECT '{_NIL_TENANT}'::uuid AS tenant_key, id, {label} AS label FROM django_content_type"]
    for tenant_uuid, schema_name in shape.tenant_content_types:
        # The select is run with parameters: a "%" in a schema name must not read as one.
        schema = quote_ident(schema_name).replace("%", "%%")
        branches.append(f"SELECT '{uuid.UUID(tenant_uuid)}'::uuid, id, {label} FROM {schema}.django_content_type")
    tenants = ",".join(str(uuid.UUID(tenant)) for tenant, _ in shape.tenant_content_types)
    key = f"CASE WHEN t.tenant_id = ANY ('{{{tenants}}}'::uuid[]) THEN t.tenant_id ELSE '{_NIL_TENANT}'::uuid END"
    return (
        "LEFT JOIN (" + " UNION ALL ".join(branches) + ") AS ct"
        f" ON ct.tenant_key = {key} AND ct.id = t.rel_obj_content_type_id"
    )


@dataclass(frozen=True)
class TaskQueries:
    """The task queries for one table shape (columns that older releases lack become NULLs)."""

    select: str  # SELECT … FROM task t [joins]: the row shape read by `read_task`
    fingerprint_select: str  # SELECT … FROM task t: what can change of a row, read by `read_fingerprint`
    effective_status: str  # SQL expression of the effective status (see tasktui.core.status)
    related_type: str  # SQL expression: the related object's "app.model", else its content type id
    tenant_name: str  # SQL expression: the tenant's name (NULL when unknown)
    tenant_id: str  # SQL expression: the tenant's uuid as text (NULL when tasks have none)
    uid: str  # SQL expression: the task's _uid (NULL in layouts without it)
    related: str  # SQL expression: "app.model:id" of the related object, '?' for what is unknown (TaskRow.related)

    @classmethod
    def for_shape(cls, shape: TableShape) -> TaskQueries:
        has_tenant_join = shape.has_tenant and shape.has_tenant_table
        tenant_id = "t.tenant_id::text" if shape.has_tenant else "NULL::text"
        tenant_name = "tn.name" if has_tenant_join else "NULL::text"
        uid = "t._uid" if "_uid" in shape.task_columns else "NULL::text"
        worst = (
            f"CASE WHEN t.state = 'done' THEN (SELECT max({_SEVERITY}) FROM authentik_tasks_tasklog AS l"
            " WHERE l.task_id = t.message_id AND NOT l.previous) END"
            if shape.has_tasklog
            else "NULL::int"
        )
        retries = "t.retries" if shape.has_retries else "NULL::bigint"
        eta = "t.eta" if shape.has_eta else "NULL::timestamptz"
        columns = [
            "t.message_id::text",
            "t.queue_name",
            "t.actor_name",
            uid,
            "t.state",
            "t.aggregated_status",
            worst,
            tenant_id,
            tenant_name,
            "ct.label" if shape.has_content_type_table else "NULL::text",
            "t.rel_obj_content_type_id",
            "t.rel_obj_id",
            retries,
            eta,
            "t.mtime",
            "t.result_expiry",
        ]
        joins = []
        if has_tenant_join:
            joins.append("LEFT JOIN authentik_tenants_tenant AS tn ON tn.tenant_uuid = t.tenant_id")
        if shape.has_content_type_table:
            joins.append(_content_type_join(shape))
        select = "SELECT " + ", ".join(columns) + " FROM authentik_tasks_task AS t " + " ".join(joins)
        # No joins: names of tenants and related objects do not change under a task.
        fingerprint_columns = [
            "t.message_id::text",
            "t.state",
            "t.aggregated_status",
            worst,
            "t.mtime",
            eta,
            retries,
            "t.rel_obj_id",
            uid,
            "t.actor_name",
            "t.queue_name",
        ]
        fingerprint_select = "SELECT " + ", ".join(fingerprint_columns) + " FROM authentik_tasks_task AS t"
        rank = "CASE t.aggregated_status WHEN 'error' THEN 3 WHEN 'warning' THEN 2 WHEN 'info' THEN 1 ELSE 0 END"
        # tasktui.core.status.effective_status, exactly (a property test holds the two together):
        # an unfinished task shows its stored status, else its state; a done one the worse of its
        # stored status (kept when it is one tasktui does not know) and its current attempt's logs.
        effective = (
            "CASE WHEN t.state <> 'done' THEN COALESCE(NULLIF(t.aggregated_status, ''), t.state)"
            f" ELSE (CASE GREATEST({rank}, COALESCE({worst}, 0)) WHEN {rank}"
            " THEN COALESCE(NULLIF(t.aggregated_status, ''), 'done')"
            " WHEN 3 THEN 'error' WHEN 2 THEN 'warning' ELSE 'info' END) END"
        )
        related_type = (
            "COALESCE(ct.label, t.rel_obj_content_type_id::text)"
            if shape.has_content_type_table
            else "t.rel_obj_content_type_id::text"
        )
        # As TaskRow.related spells it: NULL when there is no related object at all.
        related = (
            f"CASE WHEN {related_type} IS NULL AND t.rel_obj_id IS NULL THEN NULL"
            f" ELSE COALESCE({related_type}, '?') || ':' || COALESCE(t.rel_obj_id, '?') END"
        )
        return cls(
            related=related,
            select=select,
            fingerprint_select=fingerprint_select,
            effective_status=effective,
            related_type=related_type,
            tenant_name=tenant_name,
            tenant_id=tenant_id,
            uid=uid,
        )

    @property
    def recent_by_state(self) -> str:
        """The newest rows of each state: %(states)s text[] with %(limits)s int[] per state,
        optionally only rows changed after %(since)s / before %(before)s (keyset paging)."""
        return (
            "SELECT r.* FROM unnest(%(states)s::text[], %(limits)s::int[]) AS s(state, lim)"
            " CROSS JOIN LATERAL (" + self.select + " WHERE t.state = s.state"
            " AND (%(since)s::timestamptz IS NULL OR t.mtime > %(since)s::timestamptz)"
            " AND (%(before)s::timestamptz IS NULL OR t.mtime < %(before)s::timestamptz)"
            " ORDER BY t.mtime DESC LIMIT s.lim) AS r"
        )

    @property
    def done_with_problems(self) -> str:
        """How many done tasks show Warning or Error (their current attempt's logs say so)."""
        return (
            "SELECT count(*) FROM authentik_tasks_task AS t WHERE t.state = 'done'"
            f" AND ({self.effective_status}) IN ('warning', 'error')"
        )

    @property
    def by_ids(self) -> str:
        """Re-read changed rows: %(ids)s text[] of message ids."""
        return self.select + " WHERE t.message_id = ANY (%(ids)s::uuid[])"

    @property
    def fingerprints_by_state(self) -> str:
        """`recent_by_state`, reading fingerprints (see `read_fingerprint`)."""
        return (
            "SELECT r.* FROM unnest(%(states)s::text[], %(limits)s::int[]) AS s(state, lim)"
            " CROSS JOIN LATERAL (" + self.fingerprint_select + " WHERE t.state = s.state"
            " AND (%(since)s::timestamptz IS NULL OR t.mtime > %(since)s::timestamptz)"
            " AND (%(before)s::timestamptz IS NULL OR t.mtime < %(before)s::timestamptz)"
            " ORDER BY t.mtime DESC LIMIT s.lim) AS r"
        )

    @property
    def fingerprints_by_ids(self) -> str:
        """Fingerprints of rows by id: %(ids)s text[] of message ids."""
        return self.fingerprint_select + " WHERE t.message_id = ANY (%(ids)s::uuid[])"


def read_task(row: tuple[Any, ...]) -> TaskRow:
    (
        message_id, queue, actor, uid, state, aggregated, worst, tenant_id, tenant_name,
        ct_label, ct_id, rel_obj_id, retries, eta, mtime, result_expiry,
    ) = row  # fmt: skip
    worst_level = _LEVEL_BY_SEVERITY.get(worst) if worst else None
    return TaskRow(
        message_id=message_id,
        queue_name=queue,
        actor_name=actor,
        uid=uid,
        state=state,
        aggregated_status=aggregated,
        effective_status=effective_status(state, aggregated, worst_level),
        tenant_id=tenant_id,
        tenant_name=tenant_name,
        rel_obj_type=ct_label or (str(ct_id) if ct_id is not None else None),
        rel_obj_id=rel_obj_id,
        retries=retries,
        eta=eta,
        mtime=mtime,
        result_expiry=result_expiry,
    )


def read_fingerprint(row: tuple[Any, ...]) -> tuple[str, Fingerprint]:
    """(message id, what can change of it), comparable with `TaskRow.fingerprint`."""
    message_id, state, aggregated, worst, mtime, eta, retries, rel_obj_id, uid, actor, queue = row
    worst_level = _LEVEL_BY_SEVERITY.get(worst) if worst else None
    effective = effective_status(state, aggregated, worst_level)
    return message_id, (state, aggregated, effective, mtime, eta, retries, rel_obj_id, uid, actor, queue)


def window_params(
    states: list[str], limits: list[int], *, since: datetime | None = None, before: datetime | None = None
) -> dict[str, Any]:
    return {"states": states, "limits": limits, "since": since, "before": before}
