"""What the incident views cost on a big installation: `tasktui errors`, `queues`, `schedules`,
`summary`, `xray` and the monitoring check `status` on 1,000,000 tasks with their logs.

    python bench/incident_views.py [--tasks 1000000] [--hours 24] [--repeats 5]
    python bench/incident_views.py --dsn DSN [--repeats 5]     # the console's refreshes only, on
                                                               # an existing database (the demo's)

Method
- A throwaway durable cluster from this machine's binaries (or the wheel) with the mirror schema:
  only authentik's own indexes. `--tasks` tasks finish evenly over the last `--hours` (the
  default, a million a day, is ~42,000 an hour — a busy installation), each with the logs
  authentik writes: "Task has been queued", "Task is being processed", then "Task finished
  processing without errors" or an error with structlog's exception attributes. 2 % are
  rejected (20 error signatures, numbers and addresses varying), 0.5 % finished having logged
  an error; 300 wait and 100 run (the newest); 20 % were sent by one of 100 schedules (two
  tenant schemas), so a schedule has ~2,000 tasks. Triggers off while seeding; then ANALYZE.
- Each view's core call runs `--repeats` times on a tasktui session (5 s statement timeout, JIT
  off, as the console and the CLI run them); we report the median and the worst in ms. `status`
  is also timed whole, as cron or Nagios runs it: the `tasktui status` process from start to
  exit (Python's start and imports, the connection, the check, the output).
- The console's refresh cost: each incident view's call on the console service (TaskConsole, its
  own "incidents" session) as the view makes it, `--repeats` times, against the view's timer —
  the share of its interval the database spends answering it (median ms / interval), and the
  same for the main header's schedule check. Read-only: `--dsn` measures only this, on any
  database (the demo's).
Client and server share the machine's cores: trust orders of magnitude.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tasktui.core import db
from tasktui.core.incidents.draining import load_queues
from tasktui.core.incidents.errors import load_errors
from tasktui.core.incidents.schedules import load_schedules
from tasktui.core.incidents.summary import load_summary
from tasktui.core.incidents.xray import xray_task
from tasktui.core.mirror import apply_mirror
from tasktui.core.monitoring import load_status
from tasktui.core.session import open_session
from tasktui.core.sql import errors as errors_sql
from tasktui.embedded.localpg import SystemCluster, WheelServer, find_system_bindir

SCHEDULES = 100

SETUP = """
INSERT INTO django_content_type (id, app_label, model) VALUES (500, 'authentik_tasks_schedules', 'schedule');
INSERT INTO authentik_tenants_tenant (tenant_uuid, schema_name, name, ready)
    VALUES ('00000000-0000-4000-8000-0000000000ac', 't_acme', 'ACME', true);
CREATE SCHEMA t_acme;
CREATE TABLE t_acme.django_content_type (LIKE django_content_type INCLUDING ALL);
INSERT INTO t_acme.django_content_type SELECT * FROM django_content_type;
CREATE TABLE t_acme.authentik_tasks_schedules_schedule (LIKE authentik_tasks_schedules_schedule INCLUDING ALL);
"""

SCHEDULE = """
INSERT INTO {schema}.authentik_tasks_schedules_schedule (id, actor_name, args, kwargs, options, crontab, paused,
    next_run, identifier, _uid)
SELECT s.id, 'authentik.bench.scheduled_' || s.i, '', '', '', '*/15 * * * *', false, now() + interval '5 minutes',
    'uid-' || s.i, 'uid-' || s.i
FROM unnest(%(ids)s::uuid[]) WITH ORDINALITY AS s(id, i)
"""

# Task g (1 = newest) finishes g * %(step)s seconds ago.
TASKS = """
INSERT INTO authentik_tasks_task (message_id, queue_name, actor_name, message, state, mtime, _uid,
    _messages, _previous_messages, aggregated_status, tenant_id, retries, rel_obj_content_type_id, rel_obj_id)
SELECT gen_random_uuid(), 'default', 'authentik.bench.actor_' || (g %% 40), ''::bytea, s.state,
    now() - g * %(step)s * interval '1 second', 'uid-' || (g %% 500), '[]', '[]', s.state,
    CASE WHEN g %% 4 = 0 THEN '00000000-0000-4000-8000-0000000000ac'::uuid ELSE %(tenant)s END, 0,
    CASE WHEN g %% 5 = 0 THEN 500 END,
    CASE WHEN g %% 5 = 0 THEN (%(schedules)s::text[])[1 + (g / 5) %% %(n_schedules)s] END
FROM generate_series(%(first)s::int, %(last)s::int) AS g
CROSS JOIN LATERAL (SELECT CASE WHEN g <= 300 THEN 'queued' WHEN g <= 400 THEN 'running'
    WHEN g %% 50 = 0 THEN 'rejected' ELSE 'done' END AS state) AS s
"""

LOGS = """
INSERT INTO authentik_tasks_tasklog (id, event, log_level, logger, "timestamp", attributes, previous, task_id)
SELECT gen_random_uuid(), l.event, l.level, 'authentik.tasks.middleware.TaskLogMiddleware', t.mtime - l.before,
    l.attributes, false, t.message_id
FROM authentik_tasks_task AS t
CROSS JOIN LATERAL (
    VALUES ('Task has been queued', 'info', interval '2 seconds', '{"delay": null}'::jsonb),
           ('Task is being processed', 'info', interval '1 second', '{}'::jsonb)
    UNION ALL
    SELECT 'Task finished processing without errors', 'info', interval '0', '{}'::jsonb WHERE t.state = 'done'
    UNION ALL
    SELECT 'Failed to sync user ' || (abs(hashtext(t.message_id::text)) %% 9000), 'error', interval '0.5 seconds',
        '{}'::jsonb WHERE t.state = 'done' AND abs(hashtext(t.message_id::text)) %% 200 = 0
    UNION ALL
    SELECT 'connection error', 'error', interval '0',
        jsonb_build_object('exception', jsonb_build_array(jsonb_build_object(
            'exc_type', 'authentik.bench.Error' || (abs(hashtext(t.message_id::text)) %% 20),
            'exc_value', 'socket connection error while opening: to 10.0.' || (abs(hashtext(t.message_id::text)) %% 250)
                || '.7:389 after ' || (abs(hashtext(t.message_id::text)) %% 60) || 's')))
    WHERE t.state = 'rejected'
) AS l(event, level, before, attributes)
WHERE t.mtime > %(from)s AND t.mtime <= %(to)s
"""


async def prepare(dsn: str, tasks: int, hours: float) -> str:
    """Seed the installation; returns a running task's id."""
    conn = await db.connect(db.Target.resolve(dsn))
    await conn.execute("SET statement_timeout = 0")
    await apply_mirror(conn)
    await conn.execute(SETUP)
    tenant = (await (await conn.execute("SELECT tenant_uuid FROM authentik_tenants_tenant LIMIT 1")).fetchone())[0]
    schedules = [str(uuid.uuid4()) for _ in range(SCHEDULES)]
    for schema, ids in (("public", schedules[: SCHEDULES // 2]), ("t_acme", schedules[SCHEDULES // 2 :])):
        await conn.execute(SCHEDULE.format(schema=schema), {"ids": ids})
    started = time.perf_counter()
    await conn.execute("SET session_replication_role = replica")
    step = hours * 3600 / tasks
    batch = 100_000
    for first in range(1, tasks + 1, batch):
        params = {
            "first": first,
            "last": min(tasks, first + batch - 1),
            "step": step,
            "tenant": tenant,
            "schedules": schedules,
            "n_schedules": SCHEDULES,
        }
        await conn.execute(TASKS, params)
    seeded = time.perf_counter()
    print(f"seeded {tasks:,} tasks in {seeded - started:.0f}s", flush=True)
    now = (await (await conn.execute("SELECT now()")).fetchone())[0]
    span = timedelta(hours=hours)
    slices = 20
    for index in range(slices):
        params = {
            "from": now - span * (index + 1) / slices - timedelta(seconds=step),
            "to": now - span * index / slices,
        }
        await conn.execute(LOGS, params)
    logs = (await (await conn.execute("SELECT count(*) FROM authentik_tasks_tasklog")).fetchone())[0]
    print(f"seeded {logs:,} task logs in {time.perf_counter() - seeded:.0f}s", flush=True)
    await conn.execute("ANALYZE")
    running = (
        await (
            await conn.execute("SELECT message_id::text FROM authentik_tasks_task WHERE state = 'running' LIMIT 1")
        ).fetchone()
    )[0]
    await conn.close()
    return running


async def measure(dsn: str, running: str, repeats: int) -> None:
    async with await open_session(db.Target.resolve(dsn)) as session:
        cases: list[tuple[str, Callable[[], Awaitable[Any]], Callable[[Any], str]]] = [
            ("errors --since 1h", lambda: load_errors(session, since=timedelta(hours=1)), _errors),
            ("errors --since 6h", lambda: load_errors(session, since=timedelta(hours=6)), _errors),
            ("errors --since 24h", lambda: load_errors(session, since=timedelta(hours=24)), _errors),
            ("queues (5 min)", lambda: load_queues(session, minutes=5), _queues),
            ("queues --minutes 30", lambda: load_queues(session, minutes=30), _queues),
            ("schedules", lambda: load_schedules(session), lambda r: f"{len(r.schedules)} schedules"),
            ("summary", lambda: load_summary(session), lambda r: f"{r.errors_last_hour:,} errors in 1h"),
            ("xray (running task)", lambda: xray_task(session, running), lambda r: r.verdict.value),
            ("status (check)", lambda: load_status(session), _status),
        ]
        print(f"\n{'view':<22} {'median ms':>10} {'worst ms':>10}  result")
        print("-" * 72)
        for name, call, describe in cases:
            times = []
            result = None
            for _ in range(repeats):
                started = time.perf_counter()
                result = await call()
                times.append((time.perf_counter() - started) * 1000)
            print(f"{name:<22} {statistics.median(times):>10.0f} {max(times):>10.0f}  {describe(result)}", flush=True)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        process = subprocess.run(
            [sys.executable, "-m", "tasktui", "status", "--dsn", dsn], capture_output=True, text=True
        )
        times.append((time.perf_counter() - started) * 1000)
    line = process.stdout.splitlines()[0] if process.stdout else process.stderr.strip()
    median, worst = statistics.median(times), max(times)
    print(f"{'tasktui status (process)':<22} {median:>10.0f} {worst:>10.0f}  exit {process.returncode}")
    print(f"  {line}", flush=True)


async def measure_console(dsn: str, repeats: int) -> None:
    """The incident views' refreshes, as the console makes them (see the module docstring)."""
    from tasktui.core.console import TaskConsole
    from tasktui.ui.screens.errors_view import ErrorsView
    from tasktui.ui.screens.main import SCHEDULE_CHECK_SECONDS
    from tasktui.ui.screens.queues_view import MINUTES, QueuesView
    from tasktui.ui.screens.schedules_view import SchedulesView

    console = TaskConsole(db.Target.resolve(dsn))
    cases: list[tuple[str, float, Callable[[], Awaitable[Any]]]] = [
        ("E errors (1h)", ErrorsView.REFRESH_SECONDS, console.error_groups),
        (f"D queues ({MINUTES} min)", QueuesView.REFRESH_SECONDS, lambda: console.queue_flows(MINUTES)),
        ("S schedules", SchedulesView.REFRESH_SECONDS, console.schedules),
        ("header schedule check", SCHEDULE_CHECK_SECONDS, console.schedules),
    ]
    print(f"\n{'console refresh':<22} {'every s':>8} {'median ms':>10} {'worst ms':>10} {'db share':>9}")
    print("-" * 64)
    try:
        for name, interval, call in cases:
            times = []
            for _ in range(repeats):
                started = time.perf_counter()
                await call()
                times.append((time.perf_counter() - started) * 1000)
            median = statistics.median(times)
            share = median / (interval * 1000) * 100
            print(f"{name:<22} {interval:>8.0f} {median:>10.0f} {max(times):>10.0f} {share:>8.1f}%", flush=True)
    finally:
        await console.aclose()


async def explain(dsn: str) -> None:
    async with await open_session(db.Target.resolve(dsn)) as session:
        now = (await (await session.conn.execute("SELECT now()")).fetchone())[0]
        params = {
            "states": list(errors_sql.FAILURE_STATES),
            "since": now - timedelta(hours=1),
            "limit": 50_000,
            "scan": 100_000,
            "error_chars": 1001,
        }
        query = "EXPLAIN (ANALYZE, BUFFERS) " + errors_sql.failed_tasks(session.shape)
        for (line,) in await (await session.conn.execute(query, params)).fetchall():
            print(line)


def _errors(report: Any) -> str:
    capped = ", capped" if report.capped else ""
    return f"{report.failed:,} failed in {len(report.groups)} groups{capped}"


def _status(status: Any) -> str:
    estimated = " (estimated)" if status.finished_estimated else ""
    return f"{status.waiting:,} queued, {status.counts.get('done', 0):,} done{estimated}"


def _queues(report: Any) -> str:
    flow = report.queues[0]
    # No forecast: the seeded tasks stand still while the clock runs on.
    return f"arrived {flow.arrived:,}, completed {flow.completed:,}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--explain", action="store_true", help="also print the plan of the errors query (1h)")
    parser.add_argument("--dsn", help="measure only the console's refreshes, on this existing database")
    args = parser.parse_args()
    if args.dsn:
        asyncio.run(measure_console(args.dsn, args.repeats))
        return
    bindir = find_system_bindir()
    server = SystemCluster(bindir, durable=True) if bindir else WheelServer()
    dsn = server.start()
    try:
        running = asyncio.run(prepare(dsn, args.tasks, args.hours))
        asyncio.run(measure(dsn, running, args.repeats))
        asyncio.run(measure_console(dsn, args.repeats))
        if args.explain:
            asyncio.run(explain(dsn))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
