"""Console timing targets, measured: first screen on a big table, commit→screen latency under
load, and whether a 10k changes/s storm is absorbed without a growing backlog.

    python bench/console_latency.py [--tasks 1000000] [--logs 0] [--rate 1000] [--storm 10000] [--seconds 10]

Method
- A throwaway durable cluster (fsync on) from this machine's binaries (or the wheel), the
  mirror schema and tasktui's trigger; `--tasks` rows seeded in bulk (mostly done, some
  rejected, a few hundred unfinished), `--logs` task log lines spread over them (the log table's
  indexes are built after the rows, as a restore would), then ANALYZE.
- The real app runs headless in this process (Textual `run_test`, 120×36). "First screen" is
  the time from app start to the first frame that draws task rows.
- Load: separate writer processes commit single-row UPDATEs of random tasks (a visible column
  changes, so every one notifies) at `--rate` per second. Meanwhile a probe process inserts a
  new task 20 times a second and records its commit time; the app records when a probe's row is
  first drawn (TaskRows.render_line). Latency = draw time − commit time (same machine clock).
- Storm: writers commit `--storm` changes per second in 50-row transactions; we report the
  probe latency, the notification queue usage and the feed's pending set at the end.
Client, server and load share the machine's 2 cores: trust ratios and orders of magnitude.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from pacing import paced

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tasktui.core import db
from tasktui.core.mirror import apply_mirror
from tasktui.core.session import detect_shape
from tasktui.core.trigger import install
from tasktui.embedded.localpg import SystemCluster, WheelServer, find_system_bindir

SEED_SQL = """
INSERT INTO authentik_tasks_task (message_id, queue_name, actor_name, message, state, mtime, _uid,
    _messages, _previous_messages, aggregated_status, tenant_id, retries)
SELECT gen_random_uuid(), 'default', 'authentik.bench.actor_' || (g %% 40), ''::bytea,
       CASE WHEN g %% 1000 = 0 THEN 'queued' WHEN g %% 97 = 0 THEN 'rejected' ELSE 'done' END,
       now() - (g || ' seconds')::interval, 'uid-' || g, '[]', '[]',
       CASE WHEN g %% 1000 = 0 THEN 'queued' WHEN g %% 97 = 0 THEN 'rejected' ELSE 'done' END, %(tenant)s, 0
FROM generate_series(1, %(n)s) AS g
"""


LOGS_SQL = """
INSERT INTO authentik_tasks_tasklog (id, event, log_level, logger, "timestamp", attributes, previous, task_id)
SELECT gen_random_uuid(), 'step ' || g, CASE WHEN g %% 50 = 0 THEN 'warning' WHEN g %% 333 = 0 THEN 'error'
       ELSE 'info' END, 'authentik.bench', t.mtime, '{}', g %% 7 = 0, t.message_id
FROM (SELECT message_id, mtime FROM authentik_tasks_task ORDER BY message_id OFFSET %(offset)s LIMIT %(tasks)s) AS t,
     generate_series(1, %(per_task)s) AS g
"""


async def seed_logs(conn, logs: int, tasks: int) -> None:
    """`logs` lines, the same number for each task; indexes dropped and built again after."""
    indexes = await (
        await conn.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'authentik_tasks_tasklog'"
            " AND indexname <> 'authentik_tasks_tasklog_pkey'"
        )
    ).fetchall()
    await conn.execute("ALTER TABLE authentik_tasks_tasklog DROP CONSTRAINT authentik_tasks_tasklog_pkey")
    for (definition,) in indexes:
        name = definition.split(" INDEX ", 1)[1].split(" ON ", 1)[0]
        await conn.execute(f"DROP INDEX {name}")
    per_task = max(1, logs // tasks)
    for offset in range(0, tasks, 100_000):
        await conn.execute(LOGS_SQL, {"offset": offset, "tasks": min(100_000, tasks - offset), "per_task": per_task})
    await conn.execute(
        "ALTER TABLE authentik_tasks_tasklog ADD CONSTRAINT authentik_tasks_tasklog_pkey PRIMARY KEY (id)"
    )
    for (definition,) in indexes:
        await conn.execute(definition)
    await conn.execute("ANALYZE authentik_tasks_tasklog")


async def prepare(dsn: str, tasks: int, logs: int = 0) -> None:
    conn = await db.connect(db.Target.resolve(dsn))
    await conn.execute("SET statement_timeout = 0")
    await apply_mirror(conn)
    tenant = (await (await conn.execute("SELECT tenant_uuid FROM authentik_tenants_tenant")).fetchone())[0]
    started = time.perf_counter()
    # Seed without firing triggers (the status is written as authentik's trigger would).
    await conn.execute("SET session_replication_role = replica")
    for offset in range(0, tasks, 200_000):
        await conn.execute(SEED_SQL, {"tenant": tenant, "n": min(200_000, tasks - offset)})
    await conn.execute("ANALYZE authentik_tasks_task")
    if logs:
        await seed_logs(conn, logs, tasks)
    print(f"seeded {tasks:,} tasks and {logs:,} log lines in {time.perf_counter() - started:.1f}s")
    await install(conn, await detect_shape(conn))
    await conn.close()


def writer(dsn: str, rate: float, batch: int, stop_at: float) -> None:
    """Commit `rate` visible changes per second, `batch` rows per transaction."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        ids = [r[0] for r in conn.execute("SELECT message_id FROM authentik_tasks_task LIMIT 20000").fetchall()]
        for _ in paced(rate / batch, stop_at - time.time()):
            chosen = random.sample(ids, batch)
            with conn.transaction():
                conn.execute(
                    "UPDATE authentik_tasks_task SET retries = retries + 1 WHERE message_id = ANY(%s)",
                    (chosen,),
                )


def prober(dsn: str, stop_at: float, out_path: str, tag: str) -> None:
    """Insert a recognisable task 20×/s; write "actor commit_time" lines to `out_path`."""
    with psycopg.connect(dsn, autocommit=True) as conn, open(out_path, "w") as out:
        tenant = conn.execute("SELECT tenant_uuid FROM authentik_tenants_tenant").fetchone()[0]
        n = 0
        while time.time() < stop_at:
            actor = f"probe.{tag}.{n}"
            conn.execute(
                "INSERT INTO authentik_tasks_task (message_id, queue_name, actor_name, message, state, mtime,"
                " _messages, _previous_messages, aggregated_status, tenant_id, retries)"
                " VALUES (%s, 'default', %s, ''::bytea, 'queued', now(), '[]', '[]', '', %s, 0)",
                (uuid.uuid4(), actor, tenant),
            )
            out.write(f"{actor} {time.time()}\n")
            out.flush()
            n += 1
            time.sleep(0.05)


async def run_app(dsn: str, phases: list[tuple[str, float, int]], seconds: float) -> None:
    # (Blocking process starts and file reads are fine here: they happen between phases.)
    from tasktui.core.console import TaskConsole
    from tasktui.ui.app import TaskTuiApp
    from tasktui.ui.widgets.task_table import TaskRows

    drawn: dict[str, float] = {}
    original = TaskRows.render_line

    def render_line(self: TaskRows, y: int):
        strip = original(self, y)
        index = int(self.scroll_offset.y) + y
        if index < len(self.rows):
            actor = self.rows[index].actor_name
            if actor.startswith("probe.") and actor not in drawn:
                drawn[actor] = time.time()
        return strip

    TaskRows.render_line = render_line  # type: ignore[method-assign]
    app = TaskTuiApp(TaskConsole(db.Target.resolve(dsn)))
    started = time.perf_counter()
    async with app.run_test(size=(120, 36)) as pilot:
        rows = app.main_screen.query_one(TaskRows)
        while not rows.rows:
            await pilot.pause(0.01)
        print(f"first screen with rows: {time.perf_counter() - started:.3f}s ({len(app.service.store):,} tasks loaded)")
        # Newest first, unfiltered: probes land on the first row.
        app.main_screen.action_toggle_successful()
        for name, rate, batch in phases:
            drawn.clear()
            stop_at = time.time() + seconds
            # Load comes from separate processes (a fork would share the app's connections).
            out_path = tempfile.mktemp(prefix="tasktui-probes-")
            args = [sys.executable, __file__, "--dsn", dsn, "--stop-at", str(stop_at)]
            writers = 2 if batch == 1 else 1
            procs = [subprocess.Popen([*args, "--role", "prober", "--out", out_path, "--tag", str(len(name))])]
            procs += [
                subprocess.Popen([*args, "--role", "writer", "--rate", str(rate / writers), "--batch", str(batch)])
                for _ in range(writers)
            ]
            while time.time() < stop_at + 1.0:
                await pilot.pause(0.05)
            for p in procs:
                p.wait()
            with open(out_path) as lines:
                commits = [(a, float(t)) for a, t in (line.split() for line in lines)]
            os.unlink(out_path)
            latencies = sorted((drawn[a] - t) * 1000 for a, t in commits if a in drawn)
            missing = sum(1 for a, _ in commits if a not in drawn)
            async with await psycopg.AsyncConnection.connect(dsn) as conn:
                usage = (await (await conn.execute("SELECT pg_notification_queue_usage()")).fetchone())[0]
            if latencies:
                p50 = statistics.median(latencies)
                p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
                print(
                    f"{name:>28}: probes {len(commits)}, drawn {len(latencies)}, not drawn {missing};"
                    f" commit→screen p50 {p50:.0f} ms, p99 {p99:.0f} ms, max {latencies[-1]:.0f} ms;"
                    f" notify queue {usage:.4%}; feed pending {len(app.service.feed._changes.pending.task_ids)};"
                    f" mode {app.service.feed.mode.value}"
                )
            else:
                top = [r.actor_name for r in rows.rows[:3]]
                print(f"{name:>28}: no probe drawn ({missing} missing); mode {app.service.feed.mode.value}; top {top}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--logs", type=int, default=0, help="task log lines, spread evenly over the tasks")
    parser.add_argument("--rate", type=float, default=1_000)
    parser.add_argument("--storm", type=float, default=10_000)
    parser.add_argument("--seconds", type=float, default=10)
    # Internal: the load processes.
    parser.add_argument("--role", choices=["writer", "prober"], help=argparse.SUPPRESS)
    parser.add_argument("--dsn", help=argparse.SUPPRESS)
    parser.add_argument("--stop-at", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--tag", default="p", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "writer":
        writer(args.dsn, args.rate, args.batch, args.stop_at)
        return
    if args.role == "prober":
        prober(args.dsn, args.stop_at, args.out, args.tag)
        return
    bindir = find_system_bindir()
    server = SystemCluster(bindir, durable=True) if bindir else WheelServer()
    dsn = server.start()
    try:
        asyncio.run(prepare(dsn, args.tasks, args.logs))
        phases = [
            ("idle", 1.0, 1),
            (f"{args.rate:,.0f} changes/s (1 row/txn)", args.rate, 1),
            (f"{args.storm:,.0f} changes/s (50 rows/txn)", args.storm, 50),
        ]
        asyncio.run(run_app(dsn, phases, args.seconds))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
