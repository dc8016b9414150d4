"""What `e` / `E` in the task detail cost on a task with 100,000 log lines: the jump query
(find_problem: one LIMIT 1 keyset query per source) and the window loaded around its target
(fetch_around), next to what opening the detail costs (the last page).

    python bench/detail_jump.py [--lines 100000] [--other-tasks 200] [--other-lines 1000] [--repeats 20]

Method
- A throwaway cluster from this machine's binaries (or the wheel) with the mirror schema, i.e.
  only authentik's own indexes: the task log is indexed by (task_id, previous), not by time or
  level. One task gets `--lines` current lines and as many previous ones (1 ms apart, all info
  but one error in the middle of each attempt group); `--other-tasks` tasks get `--other-lines`
  lines each, so the task's rows are not the whole table. Then ANALYZE.
- A 2025.8-style task holds `--lines` entries in its `_messages` JSON (error in the middle) and
  is read through a session on a copy of the database without the task log table.
- Each query runs `--repeats` times on a tasktui session (its statement timeout applies, JIT off);
  we report the median and the worst in milliseconds, and the plan of the tasklog jump query.
Cases: the first problem from the start (found in the middle), from the middle onward where no
problem follows (the worst case: every row of the attempt group is read to learn there is none),
backward from the end, and the window of 200 lines around the middle error (two page queries).
Client and server share the machine: trust orders of magnitude.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tasktui.core import db
from tasktui.core.logs import PROBLEM_LEVELS, fetch_around, fetch_logs, find_problem
from tasktui.core.mirror import apply_mirror
from tasktui.core.session import open_session
from tasktui.core.sql import detail as detail_sql
from tasktui.embedded.localpg import SystemCluster, WheelServer, find_system_bindir

TASK = """
INSERT INTO authentik_tasks_task (message_id, queue_name, actor_name, message, state, mtime, _uid,
    _messages, _previous_messages, aggregated_status, tenant_id, retries)
SELECT gen_random_uuid(), 'default', 'authentik.bench.jump', ''::bytea, 'rejected', now(), %(uid)s,
       '[]', '[]', 'rejected', (SELECT tenant_uuid FROM authentik_tenants_tenant LIMIT 1), 0
RETURNING message_id::text
"""

LINES = """
INSERT INTO authentik_tasks_tasklog (id, event, log_level, logger, "timestamp", attributes, previous, task_id)
SELECT gen_random_uuid(), CASE WHEN i = %(error_at)s THEN 'the failure' ELSE 'line ' || i END,
       CASE WHEN i = %(error_at)s THEN 'error' ELSE 'info' END, 'authentik.bench',
       now() - interval '1 day' + (i + %(offset)s) * interval '1 ms', jsonb_build_object('i', i), %(previous)s, t.id
FROM unnest(%(tasks)s::uuid[]) AS t(id), generate_series(1, %(n)s) AS i
"""

LEGACY = """
UPDATE authentik_tasks_task SET _messages = (
    SELECT jsonb_agg(jsonb_build_object(
        'event', CASE WHEN i = %(error_at)s THEN 'the failure' ELSE 'line ' || i END,
        'log_level', CASE WHEN i = %(error_at)s THEN 'error' ELSE 'info' END, 'logger', 'authentik.bench',
        'timestamp', to_char(now() AT TIME ZONE 'UTC' + i * interval '1 ms', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        'attributes', jsonb_build_object('i', i)) ORDER BY i)
    FROM generate_series(1, %(n)s) AS i)
WHERE message_id = %(mid)s
"""


async def prepare(dsn: str, lines: int, other_tasks: int, other_lines: int) -> tuple[str, str]:
    conn = await db.connect(db.Target.resolve(dsn))
    await conn.execute("SET statement_timeout = 0")
    await apply_mirror(conn)
    started = time.perf_counter()

    async def task(uid: str) -> str:
        return (await (await conn.execute(TASK, {"uid": uid})).fetchone())[0]

    mid = await task("huge")
    others = [await task(f"other-{i}") for i in range(other_tasks)]
    error_at = lines // 2
    for previous, offset in ((True, 0), (False, lines)):
        await conn.execute(
            LINES,
            {"tasks": [mid], "n": lines, "error_at": error_at, "offset": offset, "previous": previous},
        )
    if others:
        await conn.execute(LINES, {"tasks": others, "n": other_lines, "error_at": 0, "offset": 0, "previous": False})
    legacy = await task("legacy")
    await conn.execute(LEGACY, {"n": lines, "error_at": error_at, "mid": legacy})
    await conn.execute("VACUUM ANALYZE authentik_tasks_tasklog")
    await conn.execute("ANALYZE authentik_tasks_task")
    total = (await (await conn.execute("SELECT count(*) FROM authentik_tasks_tasklog")).fetchone())[0]
    print(
        f"seeded in {time.perf_counter() - started:.1f}s: task {mid} with {lines:,} current and {lines:,} previous"
        f" lines, {total:,} task log rows in all; a legacy task with {lines:,} `_messages` entries"
    )
    await conn.close()
    return mid, legacy


async def timed(label: str, repeats: int, work: Callable[[], Awaitable[Any]]) -> Any:
    result = await work()  # warm: the first run also reads the pages from disk
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        await work()
        samples.append((time.perf_counter() - started) * 1000)
    print(f"  {label:<58} median {statistics.median(samples):7.1f} ms   worst {max(samples):7.1f} ms")
    return result


async def measure(dsn: str, mid: str, repeats: int, lines: int) -> None:
    session = await open_session(db.Target.resolve(dsn))
    try:
        print(f"task log table, {lines:,} lines in the current attempt:")
        last = await timed("open: the last page (200 lines)", repeats, lambda: fetch_logs(session, mid, backward=True))
        first = await timed("e from the start: the error in the middle", repeats, lambda: find_problem(session, mid))
        assert first is not None and first.event == "the failure", first
        after = await timed(
            "e past the error: none follows (reads the whole attempt)",
            repeats,
            lambda: find_problem(session, mid, cursor=first.cursor),
        )
        assert after is None
        back = await timed(
            "E from the end: the error in the middle",
            repeats,
            lambda: find_problem(session, mid, cursor=last.last_cursor, backward=True),
        )
        assert back is not None and back.cursor == first.cursor
        window = await timed(
            "the 200 lines around it (fetch_around)", repeats, lambda: fetch_around(session, mid, first)
        )
        assert window.lines[window.index].cursor == first.cursor
        prev = await timed(
            "e in the previous attempts, from the start", repeats, lambda: find_problem(session, mid, previous=True)
        )
        assert prev is not None and prev.previous
        params = {
            "message_id": mid,
            "limit": 1,
            "event_chars": 4000,
            "gate": 4096,
            "inline": 16384,
            "levels": sorted(PROBLEM_LEVELS),
            **first.cursor.params(),
        }
        statement = "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + detail_sql.tasklog_page(
            previous=False, descending=False, problems=True
        )
        plan = await (await session.conn.execute(statement, params)).fetchall()  # type: ignore[arg-type]
        print("  plan of the worst case (e past the error):")
        for (row,) in plan:
            print("    " + row)
    finally:
        await session.close()


async def measure_legacy(dsn: str, legacy: str, repeats: int, lines: int) -> None:
    """On a 2025.8 layout: no task log table, the lines in `_messages`."""
    conn = await db.connect(db.Target.resolve(dsn))
    await conn.execute("DROP TABLE authentik_tasks_tasklog CASCADE")
    await conn.close()
    session = await open_session(db.Target.resolve(dsn))
    try:
        assert not session.shape.has_tasklog
        print(f"2025.8 JSON list, {lines:,} entries in `_messages`:")
        await timed("open: the last page (200 lines)", repeats, lambda: fetch_logs(session, legacy, backward=True))
        first = await timed("e from the start", repeats, lambda: find_problem(session, legacy))
        assert first is not None and first.event == "the failure", first
        await timed(
            "e past the error: none follows", repeats, lambda: find_problem(session, legacy, cursor=first.cursor)
        )
        await timed("the 200 lines around it (fetch_around)", repeats, lambda: fetch_around(session, legacy, first))
    finally:
        await session.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--other-tasks", type=int, default=200)
    parser.add_argument("--other-lines", type=int, default=1_000)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    bindir = find_system_bindir()
    server = SystemCluster(bindir) if bindir else WheelServer()
    dsn = server.start()
    try:
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute("CREATE DATABASE bench")
        bench = psycopg.conninfo.make_conninfo(dsn, dbname="bench")
        mid, legacy = asyncio.run(prepare(bench, args.lines, args.other_tasks, args.other_lines))
        asyncio.run(measure(bench, mid, args.repeats, args.lines))
        asyncio.run(measure_legacy(bench, legacy, args.repeats, args.lines))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
