"""authentik's schedules: `load_schedules(session) -> ScheduleReport`.

Where `authentik_tasks_schedules_schedule` exists (one table per tenant schema; reference §1.4,
§10): each schedule's actor:uid, crontab, next run, paused or not, and its latest task (by
mtime: the last change of the newest task it sent — for a finished task, when it finished).
authentik stores no "last run" of its own.

authentik's scheduler sends an unpaused schedule once its next_run has passed, **unless any of
its tasks is unfinished** (queued, consumed or running) — then it skips it, and keeps skipping it
for as long as that task stays unfinished. One stuck task thus silently stops its schedule for
good. Alarms:

* **blocked** (error): past its next run by more than OVERDUE_GRACE with an unfinished task —
  named, with its state and since when, as the reason the scheduler skips the schedule;
* **overdue** (warning): past its next run by more than OVERDUE_GRACE with no unfinished task —
  no scheduler ran: no live worker, or the scheduler's lock is stuck.

OVERDUE_GRACE is twice authentik's scheduler interval (60 s): within it, a schedule just came
due and the scheduler has not had its turn yet. A paused schedule has next_run parked at the
epoch (pgtrigger set_next_run_on_paused) and is never overdue.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

import psycopg
from psycopg import sql

from tasktui.core import db
from tasktui.core.incidents.jsonable import JsonReport
from tasktui.core.models import TaskRow
from tasktui.core.session import Session
from tasktui.core.shape import quote_ident
from tasktui.core.sql import schedules as schedules_sql
from tasktui.core.sql.tasks import TaskQueries, read_task
from tasktui.core.status import UNFINISHED_STATES
from tasktui.core.workers import describe_age
from tasktui.errors import MissingPrivilege, MissingTables

OVERDUE_GRACE = timedelta(minutes=2)
MAX_SCHEMAS = 100
MAX_SCHEDULES = 2000  # per schema
MAX_TENANTS = 1000
MAX_UNFINISHED = 10_000  # unfinished scheduled tasks read to find each schedule's blocker
# A paused schedule's next_run is parked at the epoch; anything this old is "not set".
_PARKED = datetime(1971, 1, 1, tzinfo=UTC)

NO_SCHEDULE_TABLE = (
    "this database has no schedule table (authentik_tasks_schedules_schedule): authentik keeps one per tenant"
    " schema from 2025.8 on; a tasktui mirror made before schedules were mirrored lacks it"
)


class ScheduleStatus(StrEnum):
    OK = "ok"  # next run ahead
    DUE = "due"  # next run passed, within the grace: the scheduler's turn is coming
    PAUSED = "paused"
    BLOCKED = "blocked"  # overdue, and an unfinished task makes the scheduler skip it
    OVERDUE = "overdue"  # overdue with nothing unfinished: no scheduler ran


@dataclass(frozen=True)
class ScheduleInfo(JsonReport):
    id: str
    schema: str  # the tenant schema whose table holds it
    tenant: str | None  # that tenant's name
    actor_name: str
    uid: str | None
    identifier: str | None
    crontab: str
    paused: bool
    next_run: datetime | None  # None while paused
    overdue_by: timedelta | None  # how far past next_run (not paused); None when not yet due
    latest_task: TaskRow | None
    blocking_task: TaskRow | None  # its oldest unfinished task, if any
    status: ScheduleStatus

    @property
    def display_uid(self) -> str:
        """As authentik shows a schedule: `actor_name:uid`."""
        return f"{self.actor_name}:{self.uid}" if self.uid else self.actor_name


@dataclass(frozen=True)
class ScheduleAlarm(JsonReport):
    code: Literal["blocked", "overdue"]
    severity: Literal["error", "warning"]
    message: str
    schedule_id: str
    task_id: str | None  # the blocking task


@dataclass(frozen=True)
class ScheduleReport(JsonReport):
    checked_at: datetime  # the database's now()
    schedules: tuple[ScheduleInfo, ...]
    alarms: tuple[ScheduleAlarm, ...]
    schemas: tuple[str, ...]  # schemas whose schedule table was read
    unreadable: tuple[str, ...]  # schemas whose schedule table this role may not read
    capped: bool  # a schema had more than MAX_SCHEDULES
    elapsed: float


async def load_schedules(session: Session) -> ScheduleReport:
    """Every schedule of every tenant schema this role may read. Raises MissingTables when the
    database has no schedule table, MissingPrivilege when none may be read, UserFacingError on
    a database problem. A few bounded reads; no locks taken, nothing written."""
    try:
        return await _load(session)
    except psycopg.Error as exc:
        raise db.user_error(exc, session.target) from None


async def _load(session: Session) -> ScheduleReport:
    started = time.monotonic()
    conn = session.conn
    shape = session.shape
    found = await (
        await conn.execute(schedules_sql.SCHEDULE_SCHEMAS, {"task_schema": shape.schema, "limit": MAX_SCHEMAS})
    ).fetchall()
    if not found:
        raise MissingTables(f"{NO_SCHEDULE_TABLE} (connected to {session.label})")
    readable = [(schema, has_types) for schema, may_read, has_types in found if may_read]
    unreadable = tuple(schema for schema, may_read, _ in found if not may_read)
    if not readable:
        raise MissingPrivilege(
            f"this role may not read the schedule table ({schedules_sql.SCHEDULE_TABLE}) of schema"
            f" {', '.join(unreadable)}; it needs SELECT on it"
        )
    tenants: dict[str, str] = {}
    if shape.has_tenant_table:
        tenants = dict(await (await conn.execute(schedules_sql.TENANTS_BY_SCHEMA, {"limit": MAX_TENANTS})).fetchall())
    task_select = TaskQueries.for_shape(shape).select
    rows_by_schema: list[tuple[str, list[tuple[Any, ...]]]] = []
    content_types = []
    capped = False
    for schema, has_types in readable:
        content_type = None
        if has_types:
            query = sql.SQL(schedules_sql.SCHEDULE_CONTENT_TYPE).format(schema=sql.Identifier(schema))
            content_type = await db.fetch_value(conn, query)
            if content_type is not None:
                content_types.append(content_type)
        params = {"content_type": content_type, "limit": MAX_SCHEDULES + 1}
        statement = schedules_sql.schedules(quote_ident(schema).replace("%", "%%"), task_select)
        rows = await (await conn.execute(statement, params)).fetchall()
        capped |= len(rows) > MAX_SCHEDULES
        rows_by_schema.append((schema, rows[:MAX_SCHEDULES]))
    # Each schedule's oldest unfinished task (schedule ids are uuids: unique across schemas).
    params = {"unfinished": list(UNFINISHED_STATES), "content_types": content_types, "limit": MAX_UNFINISHED}
    blockers: dict[str, TaskRow] = {}
    for row in await (await conn.execute(schedules_sql.unfinished_tasks(task_select), params)).fetchall():
        task = read_task(row)
        if task.rel_obj_id is not None:
            blockers.setdefault(task.rel_obj_id, task)
    now = await db.fetch_value(conn, "SELECT now()")
    assert isinstance(now, datetime)
    schedules = [
        _schedule(row, now, schema, tenants.get(schema), blockers) for schema, rows in rows_by_schema for row in rows
    ]
    return ScheduleReport(
        checked_at=now,
        schedules=tuple(schedules),
        alarms=tuple(alarm for info in schedules if (alarm := _alarm(info, now)) is not None),
        schemas=tuple(schema for schema, _ in readable),
        unreadable=unreadable,
        capped=capped,
        elapsed=time.monotonic() - started,
    )


def _task(columns: tuple[Any, ...]) -> TaskRow | None:
    return read_task(columns) if columns[0] is not None else None


def _schedule(
    row: tuple[Any, ...], now: datetime, schema: str, tenant: str | None, blockers: dict[str, TaskRow]
) -> ScheduleInfo:
    schedule_id, actor, uid, identifier, crontab, paused, next_run, _ = row[:8]
    latest = _task(row[8:])
    blocker = blockers.get(schedule_id)
    if paused or next_run < _PARKED:
        status, next_at, overdue = ScheduleStatus.PAUSED, None, None
    else:
        next_at = next_run
        late = now - next_run
        overdue = late if late > timedelta(0) else None
        if overdue is None:
            status = ScheduleStatus.OK
        elif overdue <= OVERDUE_GRACE:
            status = ScheduleStatus.DUE
        else:
            status = ScheduleStatus.BLOCKED if blocker is not None else ScheduleStatus.OVERDUE
    return ScheduleInfo(
        id=schedule_id,
        schema=schema,
        tenant=tenant,
        actor_name=actor,
        uid=uid,
        identifier=identifier,
        crontab=crontab,
        paused=bool(paused),
        next_run=next_at,
        overdue_by=overdue,
        latest_task=latest,
        blocking_task=blocker,
        status=status,
    )


def _alarm(info: ScheduleInfo, now: datetime) -> ScheduleAlarm | None:
    where = f" ({info.tenant})" if info.tenant else f" (schema {info.schema})"
    name = f"schedule {info.display_uid}{where}"
    if info.status is ScheduleStatus.BLOCKED and info.blocking_task is not None and info.overdue_by is not None:
        task = info.blocking_task
        return ScheduleAlarm(
            "blocked",
            "error",
            f"{name} is {describe_age(info.overdue_by, suffix=False)} overdue: task {task.message_id} is still"
            f" {task.state} (last change {describe_age(now - task.mtime)}), and authentik skips a schedule while"
            " any of its tasks is unfinished",
            info.id,
            task.message_id,
        )
    if info.status is ScheduleStatus.OVERDUE and info.overdue_by is not None:
        return ScheduleAlarm(
            "overdue",
            "warning",
            f"{name} is {describe_age(info.overdue_by, suffix=False)} overdue with no unfinished task:"
            " no scheduler has run (no live worker?)",
            info.id,
            None,
        )
    return None
