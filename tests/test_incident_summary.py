"""One row per installation (tasktui.core.incidents.summary and `tasktui summary`): two real
databases in one command, one with a live worker and work, one idle; an unreachable third."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator

import psycopg
import pytest

from tasktui.core import db
from tasktui.core.incidents.summary import load_summary
from tasktui.core.session import open_session
from tasktui.demo import broker
from tests.conftest import PgServer, run_cli
from tests.retry_helpers import reject


@pytest.fixture
def second_dsn(pg_server: PgServer) -> Iterator[str]:
    name = pg_server.create_database("mirror")
    try:
        yield pg_server.dsn(name)
    finally:
        pg_server.drop_database(name)


@pytest.fixture
async def busy(mirror_dsn: str) -> AsyncIterator[str]:
    """An installation with one live worker (its lock held on this session), two tasks waiting,
    one delayed retry, one running, two failures in the last hour and one older."""
    async with await psycopg.AsyncConnection.connect(mirror_dsn, autocommit=True) as conn:
        worker = await broker.register_worker(conn, "worker-1", "2026.5.0")
        await broker.hold_worker_lock(conn, worker)
        tenant = await broker.default_tenant(conn)
        for _ in range(2):
            await broker.enqueue(conn, "a.waiting", tenant_id=tenant)
        await broker.enqueue(conn, "a.delayed", tenant_id=tenant, delay_ms=600_000)
        running = await broker.enqueue(conn, "a.running", tenant_id=tenant)
        assert await broker.claim(conn, running)
        await broker.start_processing(conn, running)
        for _ in range(2):
            await reject(conn, "a.failing")
        old = await reject(conn, "a.failing")
        await conn.execute(
            "UPDATE authentik_tasks_task SET mtime = now() - interval '2 hours' WHERE message_id = %s", (old,)
        )
        yield mirror_dsn


async def test_summary_of_one_installation(busy: str) -> None:
    async with await open_session(db.Target.resolve(busy)) as session:
        summary = await load_summary(session)
    assert (summary.workers_alive, summary.workers) == (1, 1)
    assert (summary.queued, summary.delayed, summary.running, summary.errors_last_hour) == (2, 1, 1, 2)
    assert summary.alarms == () and not summary.capped
    assert summary.database == db.Target.resolve(busy).label


def test_two_installations_and_an_unreachable_one(busy: str, second_dsn: str, tmp_path: object) -> None:
    nowhere = f"host={tmp_path} dbname=none user=nobody connect_timeout=2"
    result = run_cli("summary", "--dsn", busy, "--dsn", second_dsn, "--dsn", nowhere, "--json")
    assert result.returncode == 2, result.stderr  # one could not be reached
    rows = json.loads(result.stdout)
    assert [row["ok"] for row in rows] == [True, True, False]
    first, second, third = rows
    assert (first["workers_alive"], first["queued"], first["running"], first["errors_last_hour"]) == (1, 2, 1, 2)
    assert (second["workers_alive"], second["queued"], second["errors_last_hour"]) == (0, 0, 0)
    assert second["alarms"] == ["No workers connected. Background tasks will not run."]
    assert third["exit_status"] == 2 and third["error"].startswith("cannot reach the server")

    text = run_cli("summary", "--dsn", busy, "--dsn", second_dsn)
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0].split() == ["INSTALLATION", "WORKERS", "ALIVE", "QUEUED", "RUNNING", "ERRORS", "(1H)"]
    assert lines[1].split()[1:] == ["1", "of", "1", "2", "(+1", "delayed)", "1", "2"]
    assert lines[2].split()[1:] == ["0", "of", "0", "0", "0", "0"]
    # The idle one's worker alarm goes to stderr, naming the installation.
    assert "No workers connected" in text.stderr and db.Target.resolve(second_dsn).label in text.stderr


def test_a_password_is_never_printed(busy: str) -> None:
    secret = "s3cret-pw"
    result = run_cli("summary", "--dsn", f"postgresql://someone:{secret}@/nowhere?host=/nonexistent&connect_timeout=2")
    assert result.returncode == 2
    assert secret not in result.stdout + result.stderr
    assert "unreadable" in result.stdout
