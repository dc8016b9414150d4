"""Setting the demo's scene in the mirror tables: the second tenant, content types, every tenant's
schedules (one of them blocked by a task that hangs), and hours of finished tasks loaded in bulk
so the console opens on a populated table."""

from __future__ import annotations

import json
import pickle
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg import sql

from tasktui.core import db
from tasktui.demo import broker
from tasktui.demo.catalogue import (
    CONTENT_TYPES,
    MAX_RETRIES,
    OTHER_CONTENT_TYPES,
    QUEUE,
    STUCK_SENT_MINUTES_AGO,
    TENANTS,
)
from tasktui.demo.scenario import Scenario, TaskRequest, backoff_ms, content_type_key, random_uuid
from tasktui.demo.sql import seed as seed_sql
from tasktui.errors import UserFacingError

NOT_A_MIRROR = (
    "this database holds a real authentik installation (django_migrations lists other apps than"
    " authentik_tasks); the demo writes simulated tasks only into tasktui's standalone mirror"
)

# Results middleware keeps a result for 10 minutes (dramatiq's default result TTL).
RESULT_TTL = timedelta(minutes=10)
_NONE_RESULT = pickle.dumps(None)


async def prepare_installation(conn: psycopg.AsyncConnection, scenario: Scenario) -> None:
    """Create the demo's tenants and content types (idempotent) and load their ids into `scenario`."""
    if await db.fetch_value(conn, seed_sql.FOREIGN_MIGRATIONS):
        raise UserFacingError(NOT_A_MIRROR)
    async with conn.transaction():
        for spec in TENANTS:
            if spec.schema_name == "public":
                continue  # the mirror's default tenant
            await conn.execute(
                seed_sql.INSERT_TENANT,
                {"tenant_uuid": scenario.tenant_uuid(spec), "schema_name": spec.schema_name, "name": spec.name},
            )
        for app_label, model in (*CONTENT_TYPES.values(), *OTHER_CONTENT_TYPES):
            await conn.execute(seed_sql.INSERT_CONTENT_TYPE, {"app_label": app_label, "model": model})
        for spec in TENANTS:
            if spec.schema_name == "public":
                continue
            schema = sql.Identifier(spec.schema_name)
            for statement in (
                seed_sql.CREATE_TENANT_SCHEMA,
                seed_sql.CREATE_TENANT_CONTENT_TYPES,
                seed_sql.COPY_TENANT_CONTENT_TYPES,
            ):
                await conn.execute(sql.SQL(statement).format(schema=schema))
    tenant_rows = await (await conn.execute(seed_sql.TENANTS)).fetchall()
    scenario.build_tenants({schema_name: tenant_uuid for tenant_uuid, schema_name, _ in tenant_rows})
    type_rows = await (await conn.execute(seed_sql.CONTENT_TYPES)).fetchall()
    scenario.content_type_ids = {content_type_key(app, model): ct_id for ct_id, app, model in type_rows}


async def seed_schedules(conn: psycopg.AsyncConnection, scenario: Scenario) -> bool:
    """Every tenant's schedule table and schedules (idempotent). False when the mirror has no
    schedule table (made by an older tasktui): the demo then sends no scheduled tasks."""
    if not await db.fetch_value(conn, seed_sql.SCHEDULE_TABLE_EXISTS):
        return False
    async with conn.transaction():
        for tenant in scenario.tenants:
            if tenant.spec.schema_name == "public":
                continue  # the mirror's own table
            schema = sql.Identifier(tenant.spec.schema_name)
            for statement in (seed_sql.CREATE_TENANT_SCHEDULES, seed_sql.CREATE_TENANT_SCHEDULE_TRIGGER):
                await conn.execute(sql.SQL(statement).format(schema=schema))
        for schedule in scenario.schedules():
            obj = schedule.obj
            insert = sql.SQL(seed_sql.INSERT_SCHEDULE).format(schema=sql.Identifier(schedule.tenant.spec.schema_name))
            await conn.execute(
                insert,
                {
                    "id": schedule.id,
                    "actor": schedule.actor.name,
                    "args": pickle.dumps(()),
                    "kwargs": pickle.dumps({}),
                    "options": pickle.dumps({"uid": schedule.uid} if schedule.uid else {}),
                    "crontab": schedule.crontab,
                    "paused": schedule.paused,
                    # Due at once (the first scheduler pass sends it), except the stuck one: due
                    # again one period after its task was sent, and skipped ever since.
                    "overdue": STUCK_SENT_MINUTES_AGO - schedule.every if schedule.stuck else 0,
                    "uid": schedule.uid,
                    "rel_obj_id": obj.object_id if obj else None,
                    "rel_obj_content_type_id": (
                        scenario.content_type_ids[content_type_key(*CONTENT_TYPES[obj.kind])] if obj else None
                    ),
                },
            )
    return True


async def seed_stuck_task(conn: psycopg.AsyncConnection, scenario: Scenario) -> TaskRequest:
    """The stuck schedule's task, sent STUCK_SENT_MINUTES_AGO minutes ago and still queued (the
    first worker to claim it hangs in it). Left as it is when it exists already."""
    request = scenario.stuck_request()
    assert request.rel_obj is not None
    await conn.execute(
        seed_sql.INSERT_SENT_TASK,
        {
            "message_id": request.message_id,
            "queue": QUEUE,
            "actor": request.actor.name,
            "message": broker.encode_message(
                request.message_id, request.actor.name, queue=QUEUE, tenant_name=request.tenant.spec.name
            ),
            "minutes_ago": STUCK_SENT_MINUTES_AGO,
            "rel_obj_id": request.rel_obj[1],
            "uid": request.uid,
            "rel_obj_content_type_id": scenario.content_type_ids[request.rel_obj[0]],
            "tenant_id": request.tenant.tenant_uuid,
            "logger": broker.MIDDLEWARE_LOGGER,
        },
    )
    return request


async def has_tasks(conn: psycopg.AsyncConnection) -> bool:
    return bool(await db.fetch_value(conn, seed_sql.ANY_TASK))


async def task_count(conn: psycopg.AsyncConnection) -> int:
    return int(await db.fetch_value(conn, seed_sql.TASK_COUNT))


@dataclass
class _Log:
    at: datetime
    level: str
    event: str
    logger: str
    attributes: dict
    previous: bool = False


async def seed_history(conn: psycopg.AsyncConnection, scenario: Scenario, count: int, *, hours: float) -> int:
    """Insert `count` finished tasks, ending over the last `hours`, with their logs: one
    transaction, two COPYs. Returns the number of log rows."""
    rng = random.Random(f"{scenario.seed}:history-times")
    now = datetime.now(UTC)
    span = max(hours * 3600.0, 120.0)
    log_rows = 0
    async with conn.transaction():
        cursor = conn.cursor()
        task_rows: list[tuple] = []
        logs: list[tuple] = []
        for request in scenario.history_requests(count):
            # The newest finished a minute before the live workers start.
            end = now - timedelta(seconds=rng.uniform(60.0, span))
            task_row, task_logs = _finished_task(rng, scenario, request, end)
            task_rows.append(task_row)
            logs.extend(task_logs)
        async with cursor.copy(seed_sql.COPY_TASKS) as copy:
            for row in task_rows:
                await copy.write_row(row)
        async with cursor.copy(seed_sql.COPY_TASKLOGS) as copy:
            for row in logs:
                await copy.write_row(row)
        log_rows = len(logs)
    # Fresh statistics, so the console's first queries on thousands of rows plan well.
    await conn.execute(seed_sql.ANALYZE_TASK_TABLES)
    return log_rows


def _finished_task(
    rng: random.Random, scenario: Scenario, request: TaskRequest, end: datetime
) -> tuple[tuple, list[tuple]]:
    """One task's row and log rows, replaying its attempts as the broker would have written them."""
    plan = request.plan
    logger = f"{request.actor.name}:{request.uid}" if request.uid else request.actor.name
    clock = 0.0  # seconds since the send; shifted to end at `end` below
    entries: list[tuple[float, str, str, str, dict]] = [(0.0, "info", "Task has been queued", "", {"delay": None})]
    retries = 0
    state = "done"
    exception: tuple[str, str] | None = None
    # The retry count in the rejected message's options: dramatiq 1.17's Retries raises it before it
    # finds the retries spent (so one more than the column), but not for an exception the actor throws.
    message_retries = 0
    # Index of the first entry of the current attempt: everything before it is `previous`.
    current_from = 0
    for attempt in plan.attempts:
        clock += rng.uniform(0.005, 1.5)  # waiting in the queue, then claimed
        entries.append((clock, "info", "Task is being processed", "", {}))
        for planned in attempt.logs:
            entries.append(
                (clock + planned.at * attempt.duration, planned.level, planned.event, logger, planned.attributes)
            )
        clock += attempt.duration + rng.uniform(0.01, 0.04)
        failure = attempt.failure
        if failure is None:
            entries.append((clock, "info", "Task finished processing without errors", "", {}))
            break
        attributes = broker.exception_attributes(failure.exc_type, attempt.failure_text, failure.frame_dicts())
        entries.append((clock, "error", attempt.failure_text, "", attributes))
        if failure.permanent or retries >= MAX_RETRIES:
            state, exception = "rejected", (failure.exc_type, attempt.failure_text)
            message_retries = retries if failure.permanent else retries + 1
            break
        delay = backoff_ms(rng, retries, scenario.time_scale)
        retries += 1
        current_from = len(entries)
        entries.append((clock + 0.01, "info", "Task will be retried", "", {"delay": delay}))
        # The fallback poll picks a retry up anywhere from 30 s early to tens of seconds late.
        clock += max(0.5, delay / 1000 + rng.uniform(-30.0, 40.0))
    start = end - timedelta(seconds=clock)
    message_id = request.message_id
    logs = [
        (
            random_uuid(rng),
            event,
            level,
            logger_name or broker.MIDDLEWARE_LOGGER,
            start + timedelta(seconds=offset),
            json.dumps(attributes),
            index < current_from,
            message_id,
        )
        for index, (offset, level, event, logger_name, attributes) in enumerate(entries)
    ]
    if state == "done":
        # Since 2025.12 a finished message is emptied; the result is the actor's return value.
        message, result = b"", _NONE_RESULT
    else:
        assert exception is not None
        message = broker.encode_message(
            message_id, request.actor.name, queue=QUEUE, retries=message_retries, tenant_name=request.tenant.spec.name
        )
        result = broker.encode_exception_result(*exception)
    content_type_id = scenario.content_type_ids[request.rel_obj[0]] if request.rel_obj else None
    task = (
        message_id,
        QUEUE,
        request.actor.name,
        message,
        state,
        end,
        result,
        end + RESULT_TTL,
        request.rel_obj[1] if request.rel_obj else None,
        request.uid,
        "[]",
        "[]",
        state,  # the aggregated-status trigger overwrites it
        content_type_id,
        request.tenant.tenant_uuid,
        None,
        retries,
    )
    return task, logs
