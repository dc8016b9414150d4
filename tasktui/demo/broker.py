"""authentik's broker life cycle as SQL calls, for the demo's simulated workers and for tests.

Each function makes the same writes authentik's PostgresBroker and middleware make at that
step (reference §3-§6), so the console sees exactly what it would see on a real installation.
"""

from __future__ import annotations

import pickle
import sys
import types
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from tasktui.core.locks import task_lock_key, worker_lock_key
from tasktui.core.sql import retry as retry_sql
from tasktui.demo.sql import broker as broker_sql

MIDDLEWARE_LOGGER = "authentik.tasks.middleware.TaskLogMiddleware"


def _django_stub(module: str, name: str) -> type:
    """A class that pickles under authentik's module path, as real messages do: they embed a
    Django Tenant (and on retries a Task), so unpickling them would import authentik."""
    parts = module.split(".")
    for depth in range(1, len(parts) + 1):
        sys.modules.setdefault(".".join(parts[:depth]), types.ModuleType(".".join(parts[:depth])))
    mod = sys.modules[module]
    cls = getattr(mod, name, None)
    if cls is None:
        cls = type(name, (), {"__module__": module})
        setattr(mod, name, cls)
    return cls


def encode_message(
    message_id: str,
    actor: str,
    *,
    args: tuple = (),
    kwargs: dict | None = None,
    queue: str = "default",
    retries: int = 0,
    tenant_name: str = "Default",
) -> bytes:
    """A pickled dramatiq message dict, shaped like authentik's (with a Tenant model inside)."""
    tenant = _django_stub("authentik.tenants.models", "Tenant")()
    tenant.__dict__.update({"schema_name": "public", "name": tenant_name})
    options: dict[str, Any] = {"model_create_defaults": {"tenant": tenant}}
    if retries:
        options["retries"] = retries
    return pickle.dumps(
        {
            "queue_name": queue,
            "actor_name": actor,
            "args": tuple(args),
            "kwargs": dict(kwargs or {}),
            "options": options,
            "message_id": message_id,
            "message_timestamp": 0,
        }
    )


def encode_exception_result(exc_type: str, message: str) -> bytes:
    """What dramatiq's Results middleware stores for a failed message."""
    return pickle.dumps({"__t": "dramatiq.results.Result", "exn": {"type": exc_type, "msg": message}})


async def default_tenant(conn: psycopg.AsyncConnection) -> uuid.UUID:
    row = await (await conn.execute(broker_sql.DEFAULT_TENANT)).fetchone()
    assert row is not None, "the mirror has a default tenant"
    return row[0]


async def log(
    conn: psycopg.AsyncConnection,
    task_id: str,
    event: str,
    *,
    level: str = "info",
    logger: str = MIDDLEWARE_LOGGER,
    attributes: dict | None = None,
) -> None:
    await conn.execute(
        retry_sql.INSERT_LOG,
        {"event": event, "level": level, "logger": logger, "attributes": Jsonb(attributes or {}), "task_id": task_id},
    )


async def enqueue(
    conn: psycopg.AsyncConnection,
    actor: str,
    *,
    tenant_id: uuid.UUID,
    uid: str | None = None,
    queue: str = "default",
    args: tuple = (),
    kwargs: dict | None = None,
    delay_ms: int | None = None,
    rel_obj: tuple[int, str] | None = None,
    message_id: str | None = None,
    tenant_name: str = "Default",
) -> str:
    """Send a new message: one transaction with the task row and its "queued" log."""
    message_id = message_id or str(uuid.uuid4())
    async with conn.transaction():
        await conn.execute(
            broker_sql.ENQUEUE,
            {
                "message_id": message_id,
                "queue": queue,
                "actor": actor,
                "message": encode_message(
                    message_id, actor, args=args, kwargs=kwargs, queue=queue, tenant_name=tenant_name
                ),
                "rel_obj_id": rel_obj[1] if rel_obj else None,
                "uid": uid,
                "rel_obj_content_type_id": rel_obj[0] if rel_obj else None,
                "tenant_id": tenant_id,
                # In the INSERT itself, as authentik does (eta from the producer's clock): a row
                # inserted with no eta and delayed afterwards would fire the enqueue NOTIFY, whose
                # WHEN is evaluated per row event, not at commit.
                "eta": None if delay_ms is None else datetime.now(UTC) + timedelta(milliseconds=delay_ms),
                "retries": 0,
            },
        )
        await log(conn, message_id, "Task has been queued", attributes={"delay": delay_ms})
    return message_id


async def pending(conn: psycopg.AsyncConnection, queue: str = "default", limit: int = 20) -> list[str]:
    rows = await (await conn.execute(broker_sql.PENDING, {"queue": queue, "limit": limit})).fetchall()
    return [str(r[0]) for r in rows]


async def claim(locks_conn: psycopg.AsyncConnection, message_id: str, queue: str = "default") -> bool:
    """Claim on the worker's locks connection: consumed + the task's session advisory lock."""
    key = task_lock_key(queue, message_id)
    row = await (await locks_conn.execute(broker_sql.CLAIM, {"message_id": message_id, "lock_key": key})).fetchone()
    return row is not None


async def release(locks_conn: psycopg.AsyncConnection, message_id: str, queue: str = "default") -> None:
    await locks_conn.execute(broker_sql.UNLOCK, {"lock_key": task_lock_key(queue, message_id)})


@dataclass(frozen=True)
class ClaimedTask:
    """What a consumer learns about a message it claimed (authentik decodes it from `message`)."""

    message_id: str
    actor_name: str
    uid: str | None
    retries: int
    tenant_id: uuid.UUID

    @property
    def logger(self) -> str:
        """The logger of the actor's own logs: the task uid, `actor_name[:_uid]`."""
        return f"{self.actor_name}:{self.uid}" if self.uid else self.actor_name


async def read_claimed(conn: psycopg.AsyncConnection, message_id: str) -> ClaimedTask | None:
    row = await (await conn.execute(broker_sql.CLAIMED_TASK, {"message_id": message_id})).fetchone()
    if row is None:
        return None
    actor_name, uid, retries, tenant_id = row
    return ClaimedTask(message_id, actor_name, uid, int(retries), tenant_id)


async def requeue(conn: psycopg.AsyncConnection, message_ids: list[str]) -> None:
    """Worker shutdown: messages it held but did not finish go back to `queued`."""
    if message_ids:
        await conn.execute(broker_sql.REQUEUE, {"message_ids": message_ids})


async def any_rejected(conn: psycopg.AsyncConnection) -> bool:
    row = await (await conn.execute(broker_sql.ANY_REJECTED)).fetchone()
    return bool(row and row[0])


async def advance(conn: psycopg.AsyncConnection, message_id: str, from_state: str, to_state: str) -> None:
    await conn.execute(
        broker_sql.ADVANCE_STATE, {"message_id": message_id, "from_state": from_state, "to_state": to_state}
    )


async def start_processing(conn: psycopg.AsyncConnection, message_id: str) -> None:
    """consumed -> preprocess -> (log) -> running, as the middleware chain does."""
    await advance(conn, message_id, "consumed", "preprocess")
    await log(conn, message_id, "Task is being processed")
    await advance(conn, message_id, "preprocess", "running")


async def save_task_fields(conn: psycopg.AsyncConnection, message_id: str) -> None:
    """CurrentTask's save of the non-broker fields: a write that changes nothing visible."""
    await conn.execute(broker_sql.SAVE_TASK_FIELDS, {"message_id": message_id})


async def succeed(conn: psycopg.AsyncConnection, message_id: str) -> None:
    """running -> postprocess, success log, fields saved, result stored, ack -> done (message emptied)."""
    await advance(conn, message_id, "running", "postprocess")
    await log(conn, message_id, "Task finished processing without errors")
    await save_task_fields(conn, message_id)
    await conn.execute(broker_sql.STORE_RESULT, {"message_id": message_id, "result": pickle.dumps(None)})
    await conn.execute(broker_sql.ACK, {"message_id": message_id})


def exception_attributes(exc_type: str, message: str, frames: list[dict] | None = None) -> dict:
    """structlog's ExceptionDictTransformer shape, as authentik stores it in log attributes."""
    return {
        "exception": [
            {
                "exc_type": exc_type,
                "exc_value": message,
                "syntax_error": None,
                "is_cause": False,
                "frames": frames
                or [
                    {"filename": "/authentik/tasks/middleware.py", "lineno": 212, "name": "process", "locals": None},
                    {"filename": "/authentik/sources/ldap/sync.py", "lineno": 88, "name": "sync", "locals": None},
                ],
            }
        ]
    }


async def fail(
    conn: psycopg.AsyncConnection,
    message_id: str,
    exc_type: str,
    exc_message: str,
    *,
    retry_delay_ms: int | None,
    retries: int,
    actor: str = "",
    queue: str = "default",
    frames: list[dict] | None = None,
    thrown: bool = False,
) -> None:
    """running -> postprocess with an error log; then a retry with an eta, or reject.

    `retries` is the count the task ran with. dramatiq 1.17's Retries middleware raises the
    message's count before it checks whether the retries are spent, so a message rejected for
    that is stored with `retries + 1` (the column keeps `retries`); one the actor `throws`
    (`thrown`) is aborted before the count is raised."""
    await advance(conn, message_id, "running", "postprocess")
    await log(
        conn, message_id, exc_message, level="error", attributes=exception_attributes(exc_type, exc_message, frames)
    )
    await save_task_fields(conn, message_id)
    if retry_delay_ms is not None:
        async with conn.transaction():
            await conn.execute(
                broker_sql.RETRY_LATER,
                {
                    "message_id": message_id,
                    "retries": retries + 1,
                    "delay": retry_delay_ms,
                    "message": encode_message(message_id, actor, queue=queue, retries=retries + 1),
                },
            )
            await conn.execute(retry_sql.MARK_LOGS_PREVIOUS, {"task_id": message_id})
            await log(conn, message_id, "Task will be retried", attributes={"delay": retry_delay_ms})
        return
    rejected = encode_message(message_id, actor, queue=queue, retries=retries if thrown else retries + 1)
    await conn.execute(broker_sql.NACK, {"message_id": message_id, "message": rejected})
    await conn.execute(
        broker_sql.STORE_EXCEPTION, {"message_id": message_id, "result": encode_exception_result(exc_type, exc_message)}
    )


async def register_worker(conn: psycopg.AsyncConnection, hostname: str, version: str) -> str:
    """A worker process boots: replace its host's row with a new id (autocommit connection)."""
    worker_id = str(uuid.uuid4())
    async with conn.transaction():
        await conn.execute(broker_sql.WORKER_DELETE_HOST, {"hostname": hostname})
        await conn.execute(broker_sql.WORKER_INSERT, {"id": worker_id, "hostname": hostname, "version": version})
    return worker_id


async def worker_heartbeat(conn: psycopg.AsyncConnection, worker_id: str) -> None:
    await conn.execute(broker_sql.WORKER_HEARTBEAT, {"id": worker_id})


async def hold_worker_lock(locks_conn: psycopg.AsyncConnection, worker_id: str) -> None:
    """The liveness proof: a session advisory lock held for the worker's whole life."""
    await locks_conn.execute(broker_sql.ADVISORY_LOCK, {"lock_key": worker_lock_key(worker_id)})


async def due_schedules(conn: psycopg.AsyncConnection, schema: str, content_type: int) -> list[str]:
    """The scheduler's pick in one tenant schema: ids of the schedules to send now."""
    query = sql.SQL(broker_sql.DUE_SCHEDULES).format(schema=sql.Identifier(schema))
    rows = await (await conn.execute(query, {"content_type": content_type})).fetchall()
    return [schedule_id for (schedule_id,) in rows]


async def set_next_run(conn: psycopg.AsyncConnection, schema: str, schedule_id: str, seconds: float) -> None:
    query = sql.SQL(broker_sql.SET_NEXT_RUN).format(schema=sql.Identifier(schema))
    await conn.execute(query, {"id": schedule_id, "seconds": seconds})
