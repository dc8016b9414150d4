"""Worker liveness from heartbeats and advisory locks held by other sessions; stuck-work alarms."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import psycopg
import pytest

from tasktui.core import db
from tasktui.core.session import Session, open_session
from tasktui.core.workers import (
    HEARTBEAT_WINDOW,
    WorkerInfo,
    WorkerReport,
    classify,
    load_workers,
    reference_version,
)
from tasktui.demo import broker
from tests.conftest import run_cli
from tests.notify_helpers import execute
from tests.retry_helpers import role
from tests.session_helpers import close_and_wait

VERSION = "2026.5.0"


async def _connect(session: Session) -> psycopg.AsyncConnection:
    """Another session on the same database: a worker's locks connection."""
    return await db.connect(session.target)


async def _worker(session: Session, hostname: str, version: str = VERSION, *, seen_ago: str | None = None) -> str:
    worker_id = await broker.register_worker(session.conn, hostname, version)
    if seen_ago:
        await session.conn.execute(
            "UPDATE authentik_tasks_workerstatus SET last_seen = now() - %s::interval WHERE id = %s",
            (seen_ago, worker_id),
        )
    return worker_id


async def _own_advisory_locks(session: Session) -> int:
    row = await (
        await session.conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
        )
    ).fetchone()
    assert row is not None
    return int(row[0])


def _by_host(report: WorkerReport) -> dict[str, WorkerInfo]:
    return {w.hostname: w for w in report.workers}


async def test_no_workers_is_an_alarm(session: Session) -> None:
    report = await load_workers(session)
    assert report.workers == [] and not report.healthy
    assert [a.code for a in report.alarms] == ["no_workers"]
    assert report.alarms[0].message == "No workers connected. Background tasks will not run."


async def test_a_worker_is_alive_only_while_another_session_holds_its_lock(session: Session) -> None:
    worker_id = await _worker(session, "worker-1")
    locks = await _connect(session)
    try:
        await broker.hold_worker_lock(locks, worker_id)
        report = await load_workers(session)
        (worker,) = report.workers
        assert (worker.id, worker.alive, worker.lock_held, worker.liveness) == (worker_id, True, True, "alive")
        assert worker.worker_id == f"{worker_id}@worker-1"
        assert report.healthy and report.alarms == []
        # Reading pg_locks took no lock of ours.
        assert await _own_advisory_locks(session) == 0
    finally:
        await close_and_wait(session.conn, locks)
    report = await load_workers(session)
    (worker,) = report.workers
    assert (worker.alive, worker.lock_held, worker.liveness) == (False, False, "stale")
    assert "lock is not held" in worker.reason
    assert not report.healthy
    assert report.alarms[0].message == "No workers connected. Background tasks will not run. (1 stale worker)"


async def test_stale_and_dead_heartbeats(session: Session, mirror_dsn: str) -> None:
    stuck = await _worker(session, "stuck", seen_ago="10 minutes")
    await _worker(session, "gone", seen_ago="3 hours")
    fine = await _worker(session, "fine")
    locks = await _connect(session)
    try:
        await broker.hold_worker_lock(locks, stuck)
        await broker.hold_worker_lock(locks, fine)
        report = await load_workers(session)
        text = run_cli("workers", "--dsn", mirror_dsn).stdout
    finally:
        await locks.close()
    hosts = _by_host(report)
    # A stale or a dead worker is an alarm for as long as its row is there (issue 11): the
    # console's header shows it, `tasktui workers` lists it under "Alarms:".
    assert [(a.code, a.severity, a.headline) for a in report.alarms] == [
        ("stale_workers", "warning", "1 stale worker"),
        ("dead_workers", "warning", "1 dead worker"),
    ]
    alarms = text[text.index("Alarms:") :]
    assert "1 stale worker: stuck (lock held but no heartbeat for 10m" in alarms
    assert "1 dead worker: gone (no heartbeat for 3h, lock not held)" in alarms
    assert hosts["fine"].liveness == "alive"
    assert hosts["stuck"].liveness == "stale"
    assert hosts["stuck"].reason == "lock held but no heartbeat for 10m (heartbeat stuck?)"
    assert hosts["gone"].liveness == "dead"
    assert hosts["gone"].reason == "no heartbeat for 3h, lock not held"


def test_classification_at_the_two_minute_boundary() -> None:
    assert classify(HEARTBEAT_WINDOW, True)[0] == "alive"
    assert classify(HEARTBEAT_WINDOW + timedelta(seconds=1), True)[0] == "stale"
    assert classify(timedelta(seconds=-30), True) == ("alive", "heartbeat in the future (clock skew), lock held")
    assert classify(timedelta(seconds=5), False)[0] == "stale"
    assert classify(timedelta(minutes=3), False)[0] == "dead"


def test_reference_version_is_the_majority_and_ties_go_to_the_newest() -> None:
    assert reference_version(["2025.10.1", "2025.8.6", "2025.10.1"]) == "2025.10.1"
    assert reference_version(["2025.8.6", "2025.10.1"]) == "2025.10.1"
    assert reference_version([]) is None


async def test_a_worker_on_another_version_is_flagged(session: Session) -> None:
    ids = [
        await _worker(session, "a", VERSION),
        await _worker(session, "b", VERSION),
        await _worker(session, "c", "2026.2.1"),
    ]
    await _worker(session, "old-and-dead", "2025.12.0", seen_ago="1 hour")
    locks = await _connect(session)
    try:
        for worker_id in ids:
            await broker.hold_worker_lock(locks, worker_id)
        report = await load_workers(session)
    finally:
        await locks.close()
    assert report.reference_version == VERSION
    assert {w.hostname for w in report.workers if w.version_mismatch} == {"c"}
    dead, alarm = report.alarms  # the dead worker is not flagged for its version, only as dead
    assert dead.code == "dead_workers"
    assert (alarm.code, alarm.severity) == ("version_mismatch", "warning")
    assert report.reference_source == "majority"
    assert alarm.message == f"1 worker not on the majority version {VERSION}: c (2026.2.1)"


# authentik's lifecycle/system_migrations make this table and add (version, build) the first time
# a version runs; the newest row is the deployed release its server compares workers with.
VERSION_HISTORY = (
    'CREATE TABLE authentik_version_history (id bigserial PRIMARY KEY, "timestamp" timestamptz NOT NULL,'
    " version text NOT NULL, build text NOT NULL)",
    'INSERT INTO authentik_version_history ("timestamp", version, build) VALUES'
    " (now() - interval '30 days', '2026.2.1', ''), (now() - interval '1 hour', '2026.5.0', 'f3e2a1c')",
)


async def test_versions_are_compared_with_authentiks_own_where_the_database_records_it(
    session: Session, mirror_dsn: str
) -> None:
    """Issue 11 item 10: mid-rollout the majority of workers still runs the old release. Judged by
    the majority, the one upgraded worker was the odd one out; authentik's server (the new
    release, as its version history says) flags the two old ones."""
    for statement in VERSION_HISTORY:
        execute(mirror_dsn, statement)
    ids = [
        await _worker(session, "new", "2026.5.0+f3e2a1c"),
        await _worker(session, "old-1", "2026.2.1"),
        await _worker(session, "old-2", "2026.2.1"),
    ]
    locks = await _connect(session)
    try:
        for worker_id in ids:
            await broker.hold_worker_lock(locks, worker_id)
        report = await load_workers(session)
        text = run_cli("workers", "--dsn", mirror_dsn)
        with role(
            mirror_dsn, "SELECT ON authentik_tasks_task, authentik_tasks_tasklog, authentik_tasks_workerstatus"
        ) as dsn:
            async with await open_session(db.Target.resolve(dsn)) as reader:
                unread = await load_workers(reader)
    finally:
        await locks.close()
    assert (report.reference_version, report.reference_source) == ("2026.5.0+f3e2a1c", "version_history")
    assert {w.hostname for w in report.workers if w.version_mismatch} == {"old-1", "old-2"}
    (alarm,) = report.alarms
    assert alarm.message == (
        "2 workers not on authentik 2026.5.0+f3e2a1c (the newest in authentik_version_history):"
        " old-1 (2026.2.1), old-2 (2026.2.1)"
    )
    assert text.returncode == 0, text.stderr
    assert (
        "Workers: 3 alive, 0 stale, 0 dead; compared with authentik 2026.5.0+f3e2a1c"
        " (the newest in authentik_version_history)" in text.stdout
    )
    # A role that may not read the history is told what it is compared with instead.
    assert (unread.reference_version, unread.reference_source) == ("2026.2.1", "majority")
    assert unread.alarms[0].message == "1 worker not on the majority version 2026.2.1: new (2026.5.0+f3e2a1c)"


async def test_running_tasks_without_their_lock_are_orphans(session: Session) -> None:
    conn = session.conn
    tenant = await broker.default_tenant(conn)
    healthy, orphan, consumed, finished = [
        await broker.enqueue(conn, f"authentik.demo.{name}", tenant_id=tenant, uid=name)
        for name in ("healthy", "orphan", "consumed", "finished")
    ]
    worker_locks = await _connect(session)
    killed_locks = await _connect(session)
    try:
        for mid in (healthy, finished):
            assert await broker.claim(worker_locks, mid)
            await broker.start_processing(conn, mid)
        await broker.succeed(conn, finished)  # done, its lock lingers (lazy unlock): not judged
        assert await broker.claim(killed_locks, orphan)
        await broker.start_processing(conn, orphan)
        await close_and_wait(
            session.conn, killed_locks
        )  # kill -9: the lock goes with the session, the row stays running
        assert await broker.claim(worker_locks, consumed)
        await broker.release(worker_locks, consumed)  # consumed without a lock: prefetch, not judged
        report = await load_workers(session)
    finally:
        await worker_locks.close()
    assert [(o.message_id, o.state, o.actor_name, o.uid) for o in report.orphans] == [
        (orphan, "running", "authentik.demo.orphan", "orphan")
    ]
    alarm = next(a for a in report.alarms if a.code == "orphaned_tasks")
    assert alarm.severity == "error"
    assert alarm.message == (
        "1 task in a running state with no worker holding its lock (orphaned):"
        f" authentik.demo.orphan {orphan} (running)"
    )
    assert report.running_checked == 2 and not report.running_capped


async def test_tasks_queued_too_long(session: Session) -> None:
    conn = session.conn
    tenant = await broker.default_tenant(conn)
    await broker.enqueue(conn, "authentik.demo.waiting", tenant_id=tenant)
    await broker.enqueue(conn, "authentik.demo.fresh", tenant_id=tenant)
    await broker.enqueue(conn, "authentik.demo.later", tenant_id=tenant, delay_ms=3_600_000)
    await conn.execute(
        "UPDATE authentik_tasks_task SET mtime = now() - interval '10 minutes'"
        " WHERE actor_name <> 'authentik.demo.fresh'"
    )
    report = await load_workers(session)
    assert report.overdue_queued == 1
    alarm = next(a for a in report.alarms if a.code == "queued_without_workers")
    assert alarm.message == "1 task queued for more than 5 minutes with no live worker"
    assert (await load_workers(session, queued_minutes=11)).overdue_queued == 0

    worker_id = await _worker(session, "w")
    locks = await _connect(session)
    try:
        await broker.hold_worker_lock(locks, worker_id)
        report = await load_workers(session)
    finally:
        await locks.close()
    (alarm,) = report.alarms
    assert (alarm.code, alarm.severity) == ("overdue_queued", "warning")
    assert alarm.message == "1 task queued for more than 5 minutes although 1 worker alive"


@pytest.mark.slow
async def test_workers_cli_json_and_exit_status(session: Session, mirror_dsn: str) -> None:
    none = run_cli("workers", "--dsn", mirror_dsn, "--json")
    assert (none.returncode, json.loads(none.stdout)) == (1, [])
    assert "No workers connected" in none.stderr

    alive_id = await _worker(session, "worker-a")
    await _worker(session, "worker-b", "2025.12.0", seen_ago="2 hours")
    locks = await _connect(session)
    try:
        await broker.hold_worker_lock(locks, alive_id)
        result = run_cli("workers", "--dsn", mirror_dsn, "--json")
        text = run_cli("workers", "--dsn", mirror_dsn)
    finally:
        await locks.close()
    assert result.returncode == 0, result.stderr
    workers = json.loads(result.stdout)
    assert isinstance(workers, list)
    by_host = {w["hostname"]: w for w in workers}
    assert set(by_host) == {"worker-a", "worker-b"}
    for worker in workers:
        assert {"hostname", "version", "last_seen", "alive"} <= set(worker)
        seen = datetime.fromisoformat(worker["last_seen"])
        assert seen.utcoffset() == timedelta(0)
        assert isinstance(worker["alive"], bool)
    assert (by_host["worker-a"]["alive"], by_host["worker-b"]["alive"]) == (True, False)
    assert (by_host["worker-a"]["version"], by_host["worker-b"]["liveness"]) == (VERSION, "dead")
    # The dead worker is an alarm (a warning: it does not change the exit status).
    assert result.stderr == "tasktui: warning: 1 dead worker: worker-b (no heartbeat for 2h, lock not held)\n"
    assert text.returncode == 0
    assert "Workers: 1 alive, 0 stale, 1 dead; compared with the majority version 2026.5.0" in text.stdout
    assert "Alarms:\n  warning: 1 dead worker: worker-b" in text.stdout

    after = run_cli("workers", "--dsn", mirror_dsn, "--json")
    assert after.returncode == 1
    assert [w["alive"] for w in json.loads(after.stdout)] == [False, False]


async def test_workers_cli_shows_untrusted_hostnames_literally(session: Session, mirror_dsn: str) -> None:
    await _worker(session, "evil\x1b[2J[bold red]host\x07")
    result = run_cli("workers", "--dsn", mirror_dsn)
    assert result.returncode == 1
    assert "evil\\x1b[2J[bold red]host\\x07" in result.stdout
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "error: No workers connected. Background tasks will not run. (1 stale worker)" in result.stdout
