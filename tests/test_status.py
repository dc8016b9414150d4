"""`tasktui status` as a monitoring system runs it: thresholds -> exit codes and performance data,
and every failure one UNKNOWN line on stdout with exit 3."""

from __future__ import annotations

import json

import psycopg
import pytest

from tasktui.core import db
from tasktui.core.session import Session
from tasktui.demo import broker
from tests.conftest import CliResult, run_cli
from tests.retry_helpers import reject
from tests.session_helpers import close_and_wait

PASSWORD = "hunter2secret"


async def _installation(session: Session) -> psycopg.AsyncConnection:
    """Two tasks waiting (one for 10 minutes), one delayed retry, one running, three rejected in
    the last minutes and one an hour ago, one done; one worker alive (its lock held by the
    connection returned: close it and the worker is gone) and one dead."""
    conn = session.conn
    tenant = await broker.default_tenant(conn)
    waiting = [await broker.enqueue(conn, "authentik.test.wait", tenant_id=tenant, uid=str(n)) for n in range(2)]
    await conn.execute(
        "UPDATE authentik_tasks_task SET mtime = now() - interval '10 minutes' WHERE message_id = %s", (waiting[0],)
    )
    await broker.enqueue(conn, "authentik.test.later", tenant_id=tenant, delay_ms=3_600_000)
    locks = await db.connect(session.target)
    running = await broker.enqueue(conn, "authentik.test.run", tenant_id=tenant)
    assert await broker.claim(locks, running)
    await broker.start_processing(conn, running)
    for n in range(4):
        await reject(conn, "authentik.test.fail", uid=f"r{n}")
    await conn.execute(
        "UPDATE authentik_tasks_task SET mtime = now() - interval '1 hour'"
        " WHERE message_id = (SELECT message_id FROM authentik_tasks_task WHERE _uid = 'r0')"
    )
    done = await broker.enqueue(conn, "authentik.test.ok", tenant_id=tenant)
    assert await broker.claim(locks, done)
    await broker.start_processing(conn, done)
    await broker.succeed(conn, done)
    alive = await broker.register_worker(conn, "worker-alive", "2026.5.0")
    await broker.hold_worker_lock(locks, alive)
    dead = await broker.register_worker(conn, "worker-dead", "2026.5.0")
    await conn.execute(
        "UPDATE authentik_tasks_workerstatus SET last_seen = now() - interval '3 hours' WHERE id = %s", (dead,)
    )
    return locks


def _status(dsn: str, *args: str) -> CliResult:
    return run_cli("status", "--dsn", dsn, *args)


def _first_line(result: CliResult) -> tuple[str, dict[str, str]]:
    """The summary before `|` and the performance data by label."""
    assert result.stderr == "" and "Traceback" not in result.stdout
    first = result.stdout.splitlines()[0]
    summary, perfdata = first.split(" | ")
    return summary, {item.split("=")[0]: item.split("=")[1] for item in perfdata.split()}


@pytest.mark.slow
async def test_thresholds_decide_the_exit_code_and_the_perfdata_carries_them(session: Session, mirror_dsn: str) -> None:
    locks = await _installation(session)
    try:
        ok = _status(mirror_dsn)
        summary, perf = _first_line(ok)
        assert ok.returncode == 0, ok.stdout
        assert summary == ("TASKTUI OK - 2 queued (oldest 10m), 3 rejected in 15m, workers 1 alive / 0 stale / 1 dead")
        assert perf["queued"] == "2;;;0"
        assert perf["oldest_queued_age"].startswith("6") and perf["oldest_queued_age"].endswith("s;;;0")
        assert perf["rejected_15m"] == "3;;;0"
        assert perf["workers_alive"] == "1;;1:;0"  # the one default: no alive worker is critical
        assert (perf["workers_stale"], perf["orphaned"], perf["delayed"], perf["in_flight"]) == (
            "0;;;0",
            "0;;;0",
            "1;;;0",
            "1;;;0",
        )
        assert perf["workers_dead"] == "1;;;0"
        details = ok.stdout.splitlines()[1:]
        assert details[0] == "queue default: 2 waiting (oldest 10m), 1 delayed, 1 in flight"
        assert details[1].startswith("tasks by status: queued 3, consumed 0, preprocess 0, running 1, postprocess 0")
        assert "rejected 4" in details[1] and "done 1" in details[1]
        # An OK check prints no `alarm:` line: a dead worker's row is a note (authentik keeps it a day).
        assert [line for line in details if line.startswith("alarm:")] == []
        assert any(line.startswith("note: 1 dead worker: worker-dead (") for line in details), details

        warning = _status(mirror_dsn, "--warn-rejected", "2")
        summary, perf = _first_line(warning)
        assert warning.returncode == 1
        assert summary.startswith("TASKTUI WARNING - 3 rejected in 15m (warning: outside 2); 2 queued")
        assert perf["rejected_15m"] == "3;2;;0"

        critical = _status(mirror_dsn, "--warn-rejected", "2", "--crit-queued-age", "300", "--rejected-minutes", "90")
        summary, perf = _first_line(critical)
        assert critical.returncode == 2
        assert summary.startswith(
            "TASKTUI CRITICAL - oldest queued 10m (critical: outside 300); 4 rejected in 90m (warning: outside 2);"
        )
        assert perf["rejected_90m"] == "4;2;;0" and perf["oldest_queued_age"].endswith("s;;300;0")

        inside = _status(mirror_dsn, "--crit-queued", "@1:5", "--warn-alive", "2:")
        assert inside.returncode == 2
        assert _first_line(inside)[0].startswith(
            "TASKTUI CRITICAL - 2 queued (critical: outside @1:5); 1 worker alive (warning: outside 2:);"
        )

        as_json = _status(mirror_dsn, "--json", "--warn-rejected", "2")
        assert as_json.returncode == 1
        data = json.loads(as_json.stdout)
        assert (data["state"], data["exit_code"]) == ("WARNING", 1)
        assert data["line"].startswith("TASKTUI WARNING - 3 rejected in 15m")
        assert data["counts"]["queued"] == 3 and data["counts"]["rejected"] == 4 and data["counts"]["done"] == 1
        (queue,) = data["queues"]
        assert (queue["queue"], queue["waiting"], queue["delayed"], queue["in_flight"]) == ("default", 2, 1, 1)
        assert 590 < queue["oldest_waiting_seconds"] < 900
        assert {c["metric"]: c["state"] for c in data["checks"]}["rejected"] == "WARNING"
        assert (data["workers_alive"], data["workers_dead"]) == (1, 1)
    finally:
        await close_and_wait(session.conn, locks)
    # The worker's process is gone: nobody alive is critical with no option given.
    gone = _status(mirror_dsn)
    summary, perf = _first_line(gone)
    assert gone.returncode == 2
    assert summary.startswith("TASKTUI CRITICAL - 0 workers alive (critical: outside 1:);")
    assert perf["workers_alive"] == "0;;1:;0" and perf["workers_stale"] == "1;;;0"
    assert "alarm: No workers connected. Background tasks will not run. (1 stale worker)" in gone.stdout
    # The stale worker has no threshold: a note that says how to judge it; with one, an alarm.
    assert "note: 1 stale worker: worker-alive (" in gone.stdout
    assert "(not judged: no --warn-stale or --crit-stale given)" in gone.stdout
    judged = _status(mirror_dsn, "--warn-stale", "0")
    assert judged.returncode == 2 and "alarm: 1 stale worker: worker-alive (" in judged.stdout
    assert json.loads(_status(mirror_dsn, "--json").stdout)["alarms"][0]["code"] == "no_workers"
    assert _status(mirror_dsn, "--crit-alive", "").returncode == 0  # switched off


def test_an_unreachable_server_is_one_unknown_line() -> None:
    dsn = f"postgresql://nagios:{PASSWORD}@127.0.0.1:1/authentik?connect_timeout=5"
    for args in ((), ("--json",)):
        result = run_cli("status", "--dsn", dsn, *args)
        assert result.returncode == 3
        assert result.stderr == "" and PASSWORD not in result.stdout and "Traceback" not in result.stdout
        if args:
            data = json.loads(result.stdout)
            assert data["state"] == "UNKNOWN" and data["exit_code"] == 3
            assert data["error"].startswith("cannot reach the server at nagios@127.0.0.1:1/authentik: ")
        else:
            (line,) = result.stdout.splitlines()
            assert line.startswith("TASKTUI UNKNOWN - cannot reach the server at nagios@127.0.0.1:1/authentik: ")


def test_bad_options_and_missing_tables_are_unknown_not_critical(empty_dsn: str) -> None:
    """A usage error's status 2 would read as CRITICAL to a monitoring system."""
    bad = run_cli("status", "--warn-queued", "ten", "--dsn", empty_dsn)
    assert bad.returncode == 3 and bad.stderr == ""
    assert bad.stdout == (
        "TASKTUI UNKNOWN - usage: argument --warn-queued: not a Nagios range: 'ten'"
        " (expected such as 10, 10:, ~:10, 10:20 or @10:20) (see `tasktui status --help`)\n"
    )
    empty = run_cli("status", "--dsn", empty_dsn)
    assert empty.returncode == 3
    (line,) = empty.stdout.splitlines()
    assert line.startswith("TASKTUI UNKNOWN - this database has no authentik task tables")
