"""Is the live view true? Drift, the worst time a row stayed wrong, hung-link detection, and what
the re-check of the window costs on a big table.

    python bench/feed_truth.py demo  [--minutes 10] [--rate 30]     # the demo's workload
    python bench/feed_truth.py burst [--tasks 2000] [--writers 4]   # a burst through the life cycle
    python bench/feed_truth.py hang  [--repeats 5] [--link-timeout 5]
    python bench/feed_truth.py cost  [--tasks 1000000] [--backlog 0,20000]

Method
- A throwaway durable cluster (fsync on) from this machine's binaries (or the wheel), the mirror
  schema and tasktui's trigger.
- `demo` and `burst` run a real TaskFeed (the console's feed, without the screen) in this process
  while load runs in other processes. Every `--sample` seconds a checker reads the database's view
  of the window (every unfinished task, and each row the store holds) and compares it with the
  store: a row is wrong from the first sample that finds it different to the first that finds it
  right again (so every figure has the sample period's granularity, and normal propagation delay
  shows as at most one period). Reported: the drift the feed counted, the worst and 99th-percentile
  time a row stayed wrong, rows still wrong at the end, and the re-check's cost per round.
- `demo` runs `python -m tasktui.demo.workload` (the demo's simulated workers: retries, rejected
  tasks, a dying worker, orphans) at `--rate` tasks/s.
- `burst` pushes `--tasks` tasks through enqueue → claim → run → done/rejected from `--writers`
  processes as fast as they go, then waits for the feed to settle.
- `hang` puts a TCP proxy between the feed and the server and stops it forwarding (no RST, no
  FIN: a hung server or a cut network); reported is the time until the feed says RECONNECTING,
  and the time from forwarding again until it is LIVE with what changed meanwhile.
- `cost` seeds `--tasks` tasks (and an unfinished backlog) and times `TaskFeed.reconcile()`, the
  round the feed runs every 5 s, against the first load of the window on the same data.
Client, server and load share the machine's 2 cores: trust orders of magnitude.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tasktui.core import db
from tasktui.core.events import FeedMode
from tasktui.core.feed import TaskFeed
from tasktui.core.mirror import apply_mirror
from tasktui.core.models import TaskRow
from tasktui.core.session import detect_shape, open_session
from tasktui.core.sql import tasks as tasks_sql
from tasktui.core.status import FINAL_STATES
from tasktui.core.store import TaskStore
from tasktui.core.trigger import install
from tasktui.demo import broker
from tasktui.embedded.localpg import SystemCluster, WheelServer, find_system_bindir
from tests.feed_helpers import RecordingSink, until
from tests.tcp_proxy import stalling_proxy

SEED_SQL = """
INSERT INTO authentik_tasks_task (message_id, queue_name, actor_name, message, state, mtime, _uid,
    _messages, _previous_messages, aggregated_status, tenant_id, retries)
SELECT gen_random_uuid(), 'default', 'authentik.bench.actor_' || (g %% 40), ''::bytea,
       CASE WHEN g %% 97 = 0 THEN 'rejected' ELSE 'done' END,
       now() - (g || ' seconds')::interval, 'uid-' || g, '[]', '[]',
       CASE WHEN g %% 97 = 0 THEN 'rejected' ELSE 'done' END, %(tenant)s, 0
FROM generate_series(1, %(n)s) AS g
"""
BACKLOG_SQL = """
INSERT INTO authentik_tasks_task (message_id, queue_name, actor_name, message, state, mtime, _uid,
    _messages, _previous_messages, aggregated_status, tenant_id, retries)
SELECT gen_random_uuid(), 'default', 'authentik.bench.backlog', ''::bytea, 'queued',
       now() - (g || ' milliseconds')::interval, 'b-' || g, '[]', '[]', 'queued', %(tenant)s, 0
FROM generate_series(1, %(n)s) AS g
"""


async def prepare(dsn: str, *, seed_tasks: int = 0) -> None:
    conn = await db.connect(db.Target.resolve(dsn))
    await conn.execute("SET statement_timeout = 0")
    await apply_mirror(conn)
    if seed_tasks:
        tenant = (await (await conn.execute("SELECT tenant_uuid FROM authentik_tenants_tenant")).fetchone())[0]
        await conn.execute("SET session_replication_role = replica")
        for offset in range(0, seed_tasks, 200_000):
            await conn.execute(SEED_SQL, {"tenant": tenant, "n": min(200_000, seed_tasks - offset)})
        await conn.execute("SET session_replication_role = DEFAULT")
        await conn.execute("ANALYZE authentik_tasks_task")
    await install(conn, await detect_shape(conn))
    await conn.close()


# -- the checker ---------------------------------------------------------------------------------


class Checker:
    """Compares the store with the database every `period` seconds (see the module docstring).

    A row is *behind* while the store differs from a value the database holds: the episode ends
    when the store has it (or the database moves on, which starts a new one). The worst episode
    is the worst time a row stayed wrong. Separately, the longest run of samples in which a row
    differed at all, whatever the database held meanwhile."""

    def __init__(self, dsn: str, store: TaskStore, period: float) -> None:
        self.dsn = dsn
        self.store = store
        self.period = period
        self.behind: dict[str, tuple[float, TaskRow | None]] = {}  # id -> (since, database value)
        self.differs_since: dict[str, float] = {}
        self.episodes: list[float] = []  # how long the store stayed behind one database value
        self.runs: list[float] = []  # how long a row differed, whatever the database held
        self.samples = 0

    async def truth(self, conn: psycopg.AsyncConnection, queries: tasks_sql.TaskQueries) -> dict[str, TaskRow | None]:
        held = list(self.store.rows)
        cursor = await conn.execute(
            queries.select + " WHERE t.state <> ALL (%(final)s) OR t.message_id = ANY (%(ids)s::uuid[])",
            {"final": list(FINAL_STATES), "ids": held},
        )
        rows = {row.message_id: row for row in map(tasks_sql.read_task, await cursor.fetchall())}
        return {mid: rows.get(mid) for mid in set(held) | set(rows)}

    async def run(self) -> None:
        session = await open_session(db.Target.resolve(self.dsn))
        await session.conn.execute("SET statement_timeout = 0")
        queries = tasks_sql.TaskQueries.for_shape(session.shape)
        try:
            while True:
                await asyncio.sleep(self.period)
                truth = await self.truth(session.conn, queries)
                now = time.monotonic()
                self.samples += 1
                wrong = {mid for mid, row in truth.items() if self.store.rows.get(mid) != row}
                for mid in wrong:
                    self.differs_since.setdefault(mid, now)
                    since, value = self.behind.get(mid, (now, truth[mid]))
                    self.behind[mid] = (since, value) if value == truth[mid] else (now, truth[mid])
                for mid in list(self.behind):
                    if mid not in wrong:
                        self.episodes.append(now - self.behind.pop(mid)[0])
                        self.runs.append(now - self.differs_since.pop(mid))
        finally:
            await session.close()

    def report(self) -> str:
        now = time.monotonic()
        still = [now - since for since, _ in self.behind.values()]
        episodes = sorted(self.episodes + still)
        runs = sorted(self.runs + [now - since for since in self.differs_since.values()])
        if not episodes:
            return f"no row was ever seen wrong ({self.samples} samples, every {self.period:g}s)"
        p99 = episodes[min(len(episodes) - 1, int(len(episodes) * 0.99))]
        return (
            f"{len(episodes)} times a sample caught a row behind the database ({self.samples} samples, every"
            f" {self.period:g}s; one sample = still in flight); worst stayed wrong {episodes[-1]:.2f}s, p99 {p99:.2f}s;"
            f" longest run of differing samples {runs[-1]:.2f}s; {len(still)} still wrong at the end"
        )


def reconcile_stats(feed: TaskFeed) -> str:
    health = feed.health()
    return (
        f"drift counted: {health.drift_total} (last hour {health.drift_last_hour});"
        f" ignored notifications {health.ignored_payloads}; reconnects {health.reconnects};"
        f" last re-check {health.reconcile_ms or 0:.0f} ms, every {health.reconcile_interval:g}s"
    )


@contextlib.asynccontextmanager
async def watched(dsn: str, period: float, **options: Any):
    store = TaskStore()
    sink = RecordingSink()
    feed = TaskFeed(db.Target.resolve(dsn), store, sink, **options)
    feed_task = asyncio.ensure_future(feed.run())
    await until(lambda: feed.mode == FeedMode.LIVE, within=60, what="live")
    checker = Checker(dsn, store, period)
    checker_task = asyncio.ensure_future(checker.run())
    try:
        yield feed, store, checker
    finally:
        for task in (checker_task, feed_task):
            task.cancel()
        await asyncio.gather(checker_task, feed_task, return_exceptions=True)


# -- modes ---------------------------------------------------------------------------------------


async def demo_mode(dsn: str, args: argparse.Namespace) -> None:
    workload = subprocess.Popen(
        [sys.executable, "-m", "tasktui.demo.workload", "--dsn", dsn, "--rate", str(args.rate), "--seed", "7"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # The workload seeds its history first; watch once it runs.
        await asyncio.sleep(8)
        async with watched(dsn, args.sample) as (feed, store, checker):
            started = time.monotonic()
            next_report = started + 60
            while time.monotonic() - started < args.minutes * 60:
                await asyncio.sleep(1)
                if time.monotonic() >= next_report:
                    next_report += 60
                    print(f"  {int(time.monotonic() - started)}s: {len(store):,} rows; {reconcile_stats(feed)}")
            workload.terminate()
            workload.wait(30)
            await asyncio.sleep(3 * feed.reconcile_interval)
            print(f"demo --rate {args.rate:g} for {args.minutes:g} min: {reconcile_stats(feed)}")
            print(f"  {checker.report()}")
    finally:
        if workload.poll() is None:
            workload.kill()


def burst_writer(dsn: str, tasks: int) -> None:
    async def go() -> None:
        conn = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
        tenant = await broker.default_tenant(conn)
        for n in range(tasks):
            mid = await broker.enqueue(conn, f"authentik.burst.{n % 7}", tenant_id=tenant, uid=str(n))
            assert await broker.claim(conn, mid)
            await broker.start_processing(conn, mid)
            if n % 10 == 0:
                await broker.fail(conn, mid, "LDAPException", "refused", retry_delay_ms=None, retries=0)
            else:
                await broker.succeed(conn, mid)
            await broker.release(conn, mid)
        await conn.close()

    asyncio.run(go())


async def burst_mode(dsn: str, args: argparse.Namespace) -> None:
    async with watched(dsn, args.sample) as (feed, _, checker):
        started = time.monotonic()
        writers = [
            subprocess.Popen(
                [sys.executable, __file__, "burst-writer", "--dsn", dsn, "--tasks", str(args.tasks // args.writers)]
            )
            for _ in range(args.writers)
        ]
        while any(w.poll() is None for w in writers):
            await asyncio.sleep(0.2)
        elapsed = time.monotonic() - started
        await asyncio.sleep(3 * feed.reconcile_interval)
        print(f"burst: {args.tasks:,} tasks × 6–7 visible changes from {args.writers} writers in {elapsed:.1f}s")
        print(f"  {reconcile_stats(feed)}")
        print(f"  {checker.report()}")


async def hang_mode(dsn: str, args: argparse.Namespace) -> None:
    writer = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
    tenant = await broker.default_tenant(writer)
    detections, recoveries = [], []
    async with stalling_proxy(dsn) as proxy:
        store, sink = TaskStore(), RecordingSink()
        feed = TaskFeed(db.Target.resolve(proxy.dsn), store, sink, link_timeout=args.link_timeout)
        task = asyncio.ensure_future(feed.run())
        try:
            for _ in range(args.repeats):
                await until(lambda: feed.mode == FeedMode.LIVE, within=120, what="live")
                await asyncio.sleep(2)
                proxy.stall()
                hung = time.monotonic()
                during = await broker.enqueue(writer, "authentik.during.hang", tenant_id=tenant)
                await until(lambda: feed.mode == FeedMode.RECONNECTING, within=120, what="reconnecting")
                detections.append(time.monotonic() - hung)
                await asyncio.sleep(args.hang_seconds - detections[-1] if args.hang_seconds > detections[-1] else 0)
                proxy.resume()
                back = time.monotonic()
                await until(lambda d=during: feed.mode == FeedMode.LIVE and d in store.rows, within=120, what="back")
                recoveries.append(time.monotonic() - back)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    await writer.close()
    print(
        f"hung link (heartbeat every 5s, link timeout {args.link_timeout:g}s), {args.repeats} times:"
        f" noticed after {min(detections):.1f}–{max(detections):.1f}s (median {statistics.median(detections):.1f}s);"
        f" LIVE with the missed change {min(recoveries):.1f}–{max(recoveries):.1f}s after the link returned"
    )


async def cost_mode(dsn: str, args: argparse.Namespace) -> None:
    for backlog in [int(b) for b in args.backlog.split(",")]:
        if backlog:
            conn = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
            tenant = await broker.default_tenant(conn)
            await conn.execute("DELETE FROM authentik_tasks_task WHERE actor_name = 'authentik.bench.backlog'")
            await conn.execute("SET session_replication_role = replica")
            await conn.execute(BACKLOG_SQL, {"tenant": tenant, "n": backlog})
            await conn.execute("ANALYZE authentik_tasks_task")
            await conn.close()
        store, sink = TaskStore(), RecordingSink()
        feed = TaskFeed(db.Target.resolve(dsn), store, sink)
        session = await open_session(db.Target.resolve(dsn))
        feed.session, feed.queries = session, tasks_sql.TaskQueries.for_shape(session.shape)
        started = time.perf_counter()
        await feed.reload()
        load_ms = (time.perf_counter() - started) * 1000
        rounds = []
        for _ in range(args.rounds):
            started = time.perf_counter()
            await feed.reconcile()
            rounds.append((time.perf_counter() - started) * 1000)
        await session.close()
        print(
            f"{args.tasks:,} tasks, backlog {backlog:,} queued, window {len(store):,} rows:"
            f" first load {load_ms:.0f} ms; re-check round median {statistics.median(rounds):.0f} ms,"
            f" max {max(rounds):.0f} ms ({args.rounds} rounds; the feed waits ≥ 20× a round between rounds)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["demo", "burst", "hang", "cost", "burst-writer"])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--rate", type=float, default=30)
    parser.add_argument("--tasks", type=int, default=None)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--sample", type=float, default=0.5, help="seconds between checks of the store")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--link-timeout", type=float, default=5.0)
    parser.add_argument("--hang-seconds", type=float, default=30.0)
    parser.add_argument("--backlog", default="0,20000")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--dsn", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mode == "burst-writer":
        burst_writer(args.dsn, args.tasks)
        return
    if args.tasks is None:
        args.tasks = 1_000_000 if args.mode == "cost" else 2_000
    bindir = find_system_bindir()
    server = SystemCluster(bindir, durable=True) if bindir else WheelServer()
    dsn = server.start()
    try:
        started = time.perf_counter()
        asyncio.run(prepare(dsn, seed_tasks=args.tasks if args.mode == "cost" else 0))
        if args.mode == "cost":
            print(f"seeded {args.tasks:,} tasks in {time.perf_counter() - started:.0f}s")
        mode = {"demo": demo_mode, "burst": burst_mode, "hang": hang_mode, "cost": cost_mode}[args.mode]
        asyncio.run(mode(dsn, args))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
