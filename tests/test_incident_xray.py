"""X-ray of a task (tasktui.core.incidents.xray and `tasktui xray`) against real sessions that
hold authentik's advisory locks: a worker's locks connection claims tasks; its threads run them
on connections of their own."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from tasktui.core import db
from tasktui.core.console import TaskConsole
from tasktui.core.detail import TaskNotFound
from tasktui.core.incidents.xray import SessionInfo, XrayVerdict, _match_worker, xray_task
from tasktui.core.locks import pg_locks_ids, worker_lock_key
from tasktui.core.session import Session, open_session
from tasktui.demo import broker
from tests.conftest import run_cli
from tests.retry_helpers import role
from tests.session_helpers import close_and_wait

ACTOR = "authentik.sources.ldap.tasks.ldap_sync"


@dataclass
class Worker:
    """One simulated authentik worker process: its locks connection (liveness lock, claims) and a
    thread's connection, with no application_name, as authentik's have."""

    worker_id: str
    locks: psycopg.AsyncConnection
    thread: psycopg.AsyncConnection


async def _connect(dsn: str) -> psycopg.AsyncConnection:
    return await psycopg.AsyncConnection.connect(make_conninfo(dsn, application_name=""), autocommit=True)


@pytest.fixture
async def worker(mirror_dsn: str) -> AsyncIterator[Worker]:
    locks = await _connect(mirror_dsn)
    thread = await _connect(mirror_dsn)
    worker_id = await broker.register_worker(locks, "authentik-worker-7d9f8c6b5-abcde", "2026.5.0")
    await broker.hold_worker_lock(locks, worker_id)
    yield Worker(worker_id, locks, thread)
    for conn in (locks, thread):
        await conn.close()


async def _running(worker: Worker, uid: str = "corp-ad") -> str:
    """A task claimed on the worker's locks connection and running on its thread connection."""
    tenant = await broker.default_tenant(worker.thread)
    message_id = await broker.enqueue(worker.thread, ACTOR, tenant_id=tenant, uid=uid)
    assert await broker.claim(worker.locks, message_id)
    await broker.start_processing(worker.thread, message_id)
    return message_id


async def _own_advisory_locks(session: Session) -> int:
    row = await (
        await session.conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
        )
    ).fetchone()
    assert row is not None
    return int(row[0])


async def test_a_running_task_names_its_lock_session_worker_and_other_locks(worker: Worker, session: Session) -> None:
    message_id = await _running(worker)
    other = await _running(worker, "partners-ldap")
    report = await xray_task(session, message_id)

    assert report.verdict is XrayVerdict.RUNNING and not report.orphaned
    assert report.verdict_text.startswith("running, claimed ")
    assert report.lock_holder == worker.locks.info.backend_pid
    assert report.lock_waiters == ()
    assert report.worker is not None
    assert (report.worker.id, report.worker.liveness, report.worker.lock_held) == (worker.worker_id, "alive", True)
    assert report.worker_match == "its liveness lock is held by the same session"
    # The same session holds the other task's lock and the worker's liveness lock.
    named = {(lock.kind, lock.message_id or lock.worker_id) for lock in report.other_locks}
    assert named == {("task", other), ("worker", worker.worker_id)}
    (lock_session,) = report.sessions  # a local socket: no address to find the thread's session by
    assert lock_session.pid == worker.locks.info.backend_pid
    assert lock_session.visible and lock_session.holds_task_lock and lock_session.holds_worker_lock
    assert lock_session.state == "idle"
    assert "SET state = 'consumed'" in (lock_session.query or "")  # its last statement: the claim
    assert "over a local socket" in report.sessions_basis
    # Read-only: no lock of ours, and the worker's sessions live on.
    assert await _own_advisory_locks(session) == 0
    assert (await (await worker.locks.execute("SELECT 1")).fetchone()) == (1,)


async def test_a_running_task_whose_lock_is_gone_is_an_orphan(
    worker: Worker, session: Session, mirror_dsn: str
) -> None:
    message_id = await _running(worker)
    await close_and_wait(session.conn, worker.locks)  # the worker dies: the server releases its session's locks
    report = await xray_task(session, message_id)
    assert report.verdict is XrayVerdict.ORPHANED and report.orphaned
    assert report.lock_holder is None and report.worker is None
    assert "nobody holds its lock" in report.verdict_text
    # Claimed but not started when the worker died: an orphaned claim.
    locks = await _connect(mirror_dsn)
    tenant = await broker.default_tenant(locks)
    claimed = await broker.enqueue(locks, ACTOR, tenant_id=tenant)
    assert await broker.claim(locks, claimed)
    assert (await xray_task(session, claimed)).verdict is XrayVerdict.CLAIMED
    await close_and_wait(session.conn, locks)
    assert (await xray_task(session, claimed)).verdict is XrayVerdict.CLAIM_ORPHANED


async def test_a_finished_task_whose_lock_lingers_is_normal(worker: Worker, session: Session) -> None:
    message_id = await _running(worker)
    await broker.succeed(worker.thread, message_id)
    lingering = await xray_task(session, message_id)
    assert lingering.verdict is XrayVerdict.FINISHED_LOCK_LINGERS
    assert "normal for about 30 s" in lingering.verdict_text
    await broker.release(worker.locks, message_id)
    finished = await xray_task(session, message_id)
    assert (finished.verdict, finished.lock_holder) == (XrayVerdict.FINISHED, None)


async def test_another_role_sees_locks_but_not_the_session(worker: Worker, mirror_dsn: str) -> None:
    message_id = await _running(worker)
    tables = ("authentik_tasks_task", "authentik_tasks_tasklog", "authentik_tasks_workerstatus")
    grants = [f"SELECT ON {t}" for t in (*tables, "authentik_tenants_tenant", "django_content_type")]
    with role(mirror_dsn, *grants) as dsn:
        async with await open_session(db.Target.resolve(dsn)) as limited:
            report = await xray_task(limited, message_id)
    assert report.verdict is XrayVerdict.RUNNING
    assert report.worker is not None and report.worker.id == worker.worker_id  # pg_locks is readable by all
    (hidden,) = report.sessions
    assert (hidden.visible, hidden.state, hidden.query) == (False, None, None)


def _session(pid: int, addr: str | None, *, visible: bool = True) -> SessionInfo:
    return SessionInfo(
        pid, "authentik", "", addr, None, None, None, "idle" if visible else None, None, None, None, None, None,
        None, visible, False, False,
    )  # fmt: skip


def test_a_worker_on_another_connection_is_matched_by_client_address() -> None:
    # authentik holds its liveness lock on a connection of its own: over TCP the two sessions share
    # the worker host's address. (The test cluster listens on a socket only, hence by hand.)
    now = datetime.now(UTC)
    workers = [("w1", "host-1", "2026.5.0", now, now), ("w2", "host-2", "2026.5.0", now, now)]
    liveness = {"w1": 101, "w2": 102}
    seen = {10: _session(10, "10.0.0.2"), 101: _session(101, "10.0.0.1"), 102: _session(102, "10.0.0.2")}
    row, why = _match_worker(workers, liveness, 10, seen[10], seen)
    assert row is workers[1] and why == "its liveness-lock session connects from the same address (10.0.0.2)"
    seen[101] = _session(101, "10.0.0.2")
    assert _match_worker(workers, liveness, 10, seen[10], seen) == (
        None,
        "2 workers connect from 10.0.0.2: cannot tell which",
    )
    socket = _session(10, None)
    row, why = _match_worker(workers, liveness, 10, socket, {10: socket})
    assert row is None and "local socket" in why
    hidden = _session(10, None, visible=False)
    assert "pg_read_all_stats" in _match_worker(workers, liveness, 10, hidden, {10: hidden})[1]


async def test_an_unknown_task(session: Session) -> None:
    with pytest.raises(TaskNotFound):
        await xray_task(session, "3fa85f64-5717-4562-b3fc-2c963f66afa6")


@pytest.mark.slow
async def test_cli_by_prefix_text_and_json(worker: Worker, mirror_dsn: str) -> None:
    message_id = await _running(worker)
    text = run_cli("xray", "--dsn", mirror_dsn, message_id[:8])
    assert text.returncode == 0, text.stderr
    assert f"Task {message_id}  {ACTOR}:corp-ad  (running)" in text.stdout
    assert f"held by pid {worker.locks.info.backend_pid}" in text.stdout
    assert f"Worker: {worker.worker_id}@authentik-worker-7d9f8c6b5-abcde (2026.5.0) alive" in text.stdout
    as_json = run_cli("xray", "--dsn", mirror_dsn, message_id, "--json")
    assert as_json.returncode == 0, as_json.stderr
    data = json.loads(as_json.stdout)
    assert (data["verdict"], data["task"]["message_id"], data["worker"]["id"]) == (
        "running",
        message_id,
        worker.worker_id,
    )
    assert (data["lock_key"] >> 32) & 0xFFFFFFFF == pg_locks_ids(data["lock_key"])[0]
    assert worker_lock_key(worker.worker_id) != data["lock_key"]
    missing = run_cli("xray", "--dsn", mirror_dsn, "3fa85f64-5717-4562-b3fc-2c963f66afa6")
    assert missing.returncode == 1 and missing.stderr.startswith("tasktui: error: no task with message id 3fa85f64")
    bad = run_cli("xray", "--dsn", mirror_dsn, "not-an-id")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1


async def test_the_console_service_x_rays_on_its_own_session_and_sees_the_worker_die(
    worker: Worker, mirror_dsn: str
) -> None:
    """What the console's x-ray screen is given (TaskConsole.xray), refresh after refresh: the
    worker's session holds the lock, then the worker dies and the same call says orphaned."""
    message_id = await _running(worker)
    console = TaskConsole(db.Target.resolve(mirror_dsn))
    try:
        report = await console.xray(message_id)
        assert report.verdict is XrayVerdict.RUNNING
        assert report.lock_holder == worker.locks.info.backend_pid
        assert report.worker is not None and report.worker.id == worker.worker_id
        assert [s.pid for s in report.sessions] == [worker.locks.info.backend_pid]
        async with await open_session(db.Target.resolve(mirror_dsn)) as observer:
            await close_and_wait(observer.conn, worker.locks)
        again = await console.xray(message_id)
        assert again.verdict is XrayVerdict.ORPHANED and again.lock_holder is None
        with pytest.raises(TaskNotFound):
            await console.xray("3fa85f64-5717-4562-b3fc-2c963f66afa6")
        # Read-only: the console's session holds no advisory lock, and it is one session.
        assert console.pool.opened == 1
        (session,) = console.pool._sessions.values()
        assert await _own_advisory_locks(session) == 0
    finally:
        await console.aclose()
