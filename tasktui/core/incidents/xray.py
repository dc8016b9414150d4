"""X-ray of a task: `xray_task(session, message_id) -> TaskXray`. Read-only: tasktui never
cancels or terminates a backend, and reads locks from pg_locks without taking any.

From the task's advisory lock (authentik's consumer holds "authentik.tasks.<queue>.lock.<id>" on
its "locks" connection from the claim until some turn after the ack; reference §3, §9):

* the session (pid) that holds it, and the other advisory locks that session holds — named as
  tasks or worker liveness locks where tasktui can compute their keys (tasks unfinished or
  finished within LINGER; every worker row), else shown as raw keys;
* the worker behind it: the worker whose liveness lock ("goauthentik.io/worker/status/<id>")
  is held by the same session, else the only worker whose liveness-lock session connects from the
  same client address. authentik holds its liveness lock on a connection of its own, so over a
  local socket (no address) the worker can only be named when both locks share a session;
* that worker's heartbeat and liveness, as the worker panel judges them;
* its Postgres sessions, where pg_stat_activity shows them: the lock session, the liveness-lock
  session and every other session from the same client address — backend state, wait event, how
  long the current query (or the idle spell) has lasted, and the query's first characters;
* a verdict. A task in a running state whose lock nobody holds is **orphaned** (its worker is
  gone; authentik re-claims it at some consumer's next poll and runs it again from the start).
  A finished task whose lock is still held is normal for about 30 s (lazy unlock).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

import psycopg

from tasktui.core import db
from tasktui.core.detail import TaskNotFound
from tasktui.core.incidents.jsonable import JsonReport
from tasktui.core.locks import pg_locks_ids, task_lock_key, worker_lock_key
from tasktui.core.models import TaskRow
from tasktui.core.session import Session
from tasktui.core.sql import workers as workers_sql
from tasktui.core.sql import xray as xray_sql
from tasktui.core.sql.tasks import TaskQueries, read_task
from tasktui.core.status import FINAL_STATES, STATES
from tasktui.core.workers import MAX_WORKERS, RUNNING_STATES, WorkerInfo, classify, describe_age, lock_holders

# A consumer releases a finished task's lock at its next turn: up to ~30 s later (reference §9).
LINGER = timedelta(seconds=60)
MAX_CANDIDATES = 2000  # tasks per state whose keys are computed to name held locks
MAX_LOCKS = 1000
MAX_SESSIONS = 50
QUERY_CHARS = 200


class XrayVerdict(StrEnum):
    RUNNING = "running"  # a running state, its lock held
    ORPHANED = "orphaned"  # a running state, nobody holds its lock
    CLAIMED = "claimed"  # consumed (claimed or prefetched), lock held
    CLAIM_ORPHANED = "claim_orphaned"  # consumed, nobody holds its lock
    QUEUED = "queued"
    FINISHED = "finished"
    FINISHED_LOCK_LINGERS = "finished_lock_lingers"  # done/rejected, lock not released yet
    UNKNOWN = "unknown"  # a state this version of tasktui does not know


@dataclass(frozen=True)
class HeldLock(JsonReport):
    classid: int
    objid: int
    kind: Literal["task", "worker", "unknown"]
    message_id: str | None = None  # a task's lock
    actor_name: str | None = None
    state: str | None = None
    worker_id: str | None = None  # a worker's liveness lock


@dataclass(frozen=True)
class SessionInfo(JsonReport):
    pid: int
    role: str | None
    application_name: str | None
    client_addr: str | None  # None: a local socket connection (or hidden)
    client_hostname: str | None
    client_port: int | None
    backend_start: datetime | None
    state: str | None  # active, idle, idle in transaction, …; None when hidden from this role
    wait_event_type: str | None
    wait_event: str | None
    query_seconds: float | None  # how long its current query has run (active sessions)
    state_seconds: float | None  # how long it has been in its state (idle for …)
    transaction_seconds: float | None  # how long its open transaction has lasted
    query: str | None  # its current (or last) statement, first QUERY_CHARS characters
    visible: bool  # pg_stat_activity showed its details to this role
    holds_task_lock: bool
    holds_worker_lock: bool


@dataclass(frozen=True)
class TaskXray(JsonReport):
    task: TaskRow
    checked_at: datetime  # the database's now()
    lock_key: int  # pglock's key of the task's lock
    lock_holder: int | None  # pid of the session holding it
    lock_waiters: tuple[int, ...]  # pids waiting for it (authentik itself never waits)
    worker: WorkerInfo | None
    worker_match: str  # how the worker was named, or why it could not be
    other_locks: tuple[HeldLock, ...]  # the holder's other advisory locks
    sessions: tuple[SessionInfo, ...]
    sessions_basis: str  # which sessions are shown as the worker's
    verdict: XrayVerdict
    verdict_text: str

    @property
    def orphaned(self) -> bool:
        return self.verdict in (XrayVerdict.ORPHANED, XrayVerdict.CLAIM_ORPHANED)


async def xray_task(session: Session, message_id: str) -> TaskXray:
    """Everything the database shows about who runs `message_id` (a whole message id; resolve
    prefixes with tasktui.core.detail.resolve_message_id). Raises TaskNotFound when no task has
    this id, UserFacingError on a database problem."""
    try:
        return await _xray(session, message_id)
    except psycopg.Error as exc:
        raise db.user_error(exc, session.target) from None


async def _xray(session: Session, message_id: str) -> TaskXray:
    conn = session.conn
    queries = TaskQueries.for_shape(session.shape)
    row = await (await conn.execute(queries.by_ids, {"ids": [message_id]})).fetchone()
    if row is None:
        raise TaskNotFound(f"no task {message_id} on {session.label}")
    task = read_task(row)
    key = task_lock_key(task.queue_name, task.message_id)
    classid, objid = pg_locks_ids(key)
    lock_rows = await (await conn.execute(xray_sql.LOCK_HOLDERS, {"classid": classid, "objid": objid})).fetchall()
    holder = next((pid for pid, granted in lock_rows if granted), None)
    waiters = tuple(pid for pid, granted in lock_rows if not granted)

    workers: list[tuple[Any, ...]] = []
    if session.shape.has_workerstatus:
        workers = await (await conn.execute(workers_sql.WORKERS, {"limit": MAX_WORKERS})).fetchall()
    now = await db.fetch_value(conn, workers_sql.NOW)
    assert isinstance(now, datetime)
    worker_keys = {str(w[0]): worker_lock_key(str(w[0])) for w in workers}
    liveness_holders = await lock_holders(session, list(worker_keys.values()))
    liveness_pid = {wid: liveness_holders.get(pg_locks_ids(k)) for wid, k in worker_keys.items()}

    other_locks: tuple[HeldLock, ...] = ()
    sessions: tuple[SessionInfo, ...] = ()
    worker_row: tuple[Any, ...] | None = None
    worker_match = "nobody holds the task's lock"
    sessions_basis = "no session holds the task's lock"
    if holder is not None:
        # The lock session and every liveness-lock session: enough to match the worker by pid
        # or by client address.
        pids = [holder, *(pid for pid in liveness_pid.values() if pid is not None)]
        seen = {s.pid: s for s in await _sessions(session, pids, None, holder, set())}
        holder_session = seen.get(holder)
        worker_row, worker_match = _match_worker(workers, liveness_pid, holder, holder_session, seen)
        worker_pid = liveness_pid.get(str(worker_row[0])) if worker_row else None
        addr = holder_session.client_addr if holder_session else None
        mine = [holder] + ([worker_pid] if worker_pid is not None else [])
        worker_pids = {pid for pid in liveness_pid.values() if pid is not None}
        sessions = await _sessions(session, mine, addr, holder, worker_pids)
        if addr:
            sessions_basis = f"the lock session and every other session from {addr} (the worker's host)"
        else:
            sessions_basis = (
                "the lock session"
                + (" and the worker's liveness-lock session" if worker_pid not in (None, holder) else "")
                + "; over a local socket (no client address) other sessions cannot be told apart"
            )
        other_locks = await _other_locks(session, holder, key, worker_keys)

    verdict, text = _verdict(task, holder is not None, now)
    if verdict in (XrayVerdict.ORPHANED, XrayVerdict.CLAIM_ORPHANED):
        # Read before pg_locks: a task that finished (and unlocked) in between is no orphan.
        state = await db.fetch_value(conn, xray_sql.TASK_STATE, {"message_id": task.message_id})
        if state != task.state:
            row = await (await conn.execute(queries.by_ids, {"ids": [message_id]})).fetchone()
            if row is not None:
                task = read_task(row)
            verdict, text = _verdict(task, False, now)

    worker = None
    if worker_row is not None:
        worker_id, hostname, version, last_seen, _ = worker_row
        seen_ago = now - last_seen
        held = liveness_pid.get(str(worker_id)) is not None
        liveness, reason = classify(seen_ago, held)
        worker = WorkerInfo(str(worker_id), hostname, version, last_seen, seen_ago, held, liveness, reason)
    return TaskXray(
        task=task,
        checked_at=now,
        lock_key=key,
        lock_holder=holder,
        lock_waiters=waiters,
        worker=worker,
        worker_match=worker_match,
        other_locks=other_locks,
        sessions=sessions,
        sessions_basis=sessions_basis,
        verdict=verdict,
        verdict_text=text,
    )


def _match_worker(
    workers: list[tuple[Any, ...]],
    liveness_pid: dict[str, int | None],
    holder: int,
    holder_session: SessionInfo | None,
    seen: dict[int, SessionInfo],
) -> tuple[tuple[Any, ...] | None, str]:
    by_id = {str(w[0]): w for w in workers}
    same_session = [wid for wid, pid in liveness_pid.items() if pid == holder]
    if len(same_session) == 1:
        return by_id[same_session[0]], "its liveness lock is held by the same session"
    addr = holder_session.client_addr if holder_session else None
    if holder_session is not None and not holder_session.visible:
        return None, "pg_stat_activity hides the lock session's client from this role (needs pg_read_all_stats)"
    if not addr:
        return None, (
            "the lock session connects over a local socket and holds no worker's liveness lock:"
            " no client address to match a worker by"
        )
    same_host = [
        wid for wid, pid in liveness_pid.items() if pid is not None and pid in seen and seen[pid].client_addr == addr
    ]
    if len(same_host) == 1:
        return by_id[same_host[0]], f"its liveness-lock session connects from the same address ({addr})"
    if same_host:
        return None, f"{len(same_host)} workers connect from {addr}: cannot tell which"
    return None, f"no worker's liveness-lock session connects from {addr}"


async def _sessions(
    session: Session, pids: list[int], addr: str | None, holder: int, worker_pids: set[int]
) -> tuple[SessionInfo, ...]:
    params = {
        "pids": pids,
        "addr": addr,
        "own_application": db.APPLICATION_NAME,
        "query_chars": QUERY_CHARS,
        "limit": MAX_SESSIONS,
    }
    rows = await (await session.conn.execute(xray_sql.SESSIONS, params)).fetchall()
    return tuple(_session(row, holder, worker_pids) for row in rows)


def _seconds(now: datetime, moment: datetime | None) -> float | None:
    return None if moment is None else max(0.0, (now - moment).total_seconds())


def _session(row: tuple[Any, ...], holder: int, worker_pids: set[int]) -> SessionInfo:
    (
        pid, role, application, addr, hostname, port, backend_start, xact_start, query_start,
        state_change, state, wait_type, wait_event, query, now,
    ) = row  # fmt: skip
    return SessionInfo(
        pid=pid,
        role=role,
        application_name=application,
        client_addr=addr,
        client_hostname=hostname,
        client_port=port,
        backend_start=backend_start,
        state=state,
        wait_event_type=wait_type,
        wait_event=wait_event,
        query_seconds=_seconds(now, query_start) if state == "active" else None,
        state_seconds=_seconds(now, state_change),
        transaction_seconds=_seconds(now, xact_start),
        query=query if state is not None else None,
        visible=state is not None,
        holds_task_lock=pid == holder,
        holds_worker_lock=pid in worker_pids,
    )


async def _other_locks(
    session: Session, holder: int, task_key: int, worker_keys: dict[str, int]
) -> tuple[HeldLock, ...]:
    conn = session.conn
    rows = await (await conn.execute(xray_sql.LOCKS_OF_SESSION, {"pid": holder, "limit": MAX_LOCKS})).fetchall()
    held = [(int(c), int(o)) for c, o in rows if (int(c), int(o)) != pg_locks_ids(task_key)]
    if not held:
        return ()
    names: dict[tuple[int, int], HeldLock] = {}
    for worker_id, key in worker_keys.items():
        c, o = pg_locks_ids(key)
        names[(c, o)] = HeldLock(c, o, "worker", worker_id=worker_id)
    params = {
        "states": list(STATES),
        "final": list(FINAL_STATES),
        "recent": LINGER,
        "limit": MAX_CANDIDATES,
    }
    for message_id, queue, actor, state in await (await conn.execute(xray_sql.LOCK_CANDIDATES, params)).fetchall():
        c, o = pg_locks_ids(task_lock_key(queue, message_id))
        names[(c, o)] = HeldLock(c, o, "task", message_id=message_id, actor_name=actor, state=state)
    return tuple(names.get(ids, HeldLock(ids[0], ids[1], "unknown")) for ids in held)


def _verdict(task: TaskRow, lock_held: bool, now: datetime) -> tuple[XrayVerdict, str]:
    claimed = f"claimed {_ago(now, task.mtime)}"  # running states keep the claim's mtime
    if task.state in RUNNING_STATES:
        if lock_held:
            return XrayVerdict.RUNNING, f"{task.state}, {claimed}; its worker holds the task's lock"
        return XrayVerdict.ORPHANED, (
            f"orphaned: {task.state} ({claimed}) but nobody holds its lock — its worker is gone;"
            " a consumer's next poll claims it again and runs it from the start"
        )
    if task.state == "consumed":
        if lock_held:
            return XrayVerdict.CLAIMED, f"claimed {_ago(now, task.mtime)}, not started yet (prefetched or starting)"
        return XrayVerdict.CLAIM_ORPHANED, (
            f"orphaned claim: consumed ({claimed}) but nobody holds its lock — its worker is gone;"
            " a consumer's next poll claims it again"
        )
    if task.state == "queued":
        extra = " (its lock is still held after a retry: released at the consumer's next turn)" if lock_held else ""
        return XrayVerdict.QUEUED, f"queued, no worker has it{extra}"
    if task.state in FINAL_STATES:
        if lock_held:
            return XrayVerdict.FINISHED_LOCK_LINGERS, (
                f"{task.state} {_ago(now, task.mtime)}; its lock is still held — normal for about 30 s"
                " (the consumer releases it at its next turn)"
            )
        return XrayVerdict.FINISHED, f"{task.state} {_ago(now, task.mtime)}; no lock held"
    held = "held" if lock_held else "not held"
    return XrayVerdict.UNKNOWN, f"state {task.state!r}, which tasktui does not know; its lock is {held}"


def _ago(now: datetime, moment: datetime) -> str:
    return describe_age(now - moment)
