"""How long one huge value holds the console: a 1 MB exception in a task log line, a 1 MB
attribute, a 100,000-character actor name — in the real console, headless.

    python bench/hostile_text.py [--repeats 3]

Method
- A throwaway cluster (this machine's binaries, else the wheel) with the mirror and the notify
  trigger. Tasks: one whose error log line carries a structlog exception of about 1 MB
  (475,000 two-character words in its message: complete, so the console shows it); one whose
  exception message is 150,000 short lines; one
  whose log line has 1 MB of attributes (fetched when the line is expanded); one whose actor name
  is 100,000 characters of words.
- The console runs under `App.run_test` at 120x36. Each number is "key sent → screen changed",
  polled every millisecond: Enter on the table row until the detail shows its task; Enter on the
  log line until it is expanded; `?` sent right behind that Enter (so it waits for whatever the
  Enter does) until the help screen is on top; PageDown through the expanded line (a frame
  with the huge value on screen); and a full redraw of the table with the long actor visible.
- Each is repeated `--repeats` times (a fresh console each time); median and worst, in ms.
Client and server share the machine; run it on a quiet one and trust the order of magnitude.
Works on older tasktui too (to measure before/after): what an older console lacks is skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
from psycopg.conninfo import make_conninfo
from psycopg.types.json import Jsonb

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from textual import events
from textual.css.query import NoMatches

from tasktui.core import db
from tasktui.core.console import TaskConsole
from tasktui.core.mirror import apply_mirror
from tasktui.core.trigger import install
from tasktui.demo import broker
from tasktui.embedded.localpg import SystemCluster, WheelServer, find_system_bindir
from tasktui.ui.app import TaskTuiApp
from tasktui.ui.screens.help import HelpScreen
from tasktui.ui.screens.task_detail import TaskDetailScreen
from tasktui.ui.widgets.task_table import TaskRows

# Many short words: what makes laying text out expensive (each is a possible line break).
HUGE_EXCEPTION = [{"exc_type": "ValueError", "exc_value": "a " * 475_000, "frames": []}]
# ... or many short lines: each is laid out on its own.
MANY_LINES_EXCEPTION = [{"exc_type": "ValueError", "exc_value": "line\n" * 150_000, "frames": []}]
HUGE_ATTRIBUTES = {"blob": "attribute text " * 70_000}
LONG_ACTOR = "authentik bench " * 6_250


async def prepare(dsn: str) -> dict[str, str]:
    conn = await db.connect(db.Target.resolve(dsn))
    await conn.execute("SET statement_timeout = 0")
    await apply_mirror(conn)
    await install(conn)
    await conn.close()
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as w:
        tenant = await broker.default_tenant(w)
        exception = await broker.enqueue(w, "authentik.bench.exception", tenant_id=tenant)
        await broker.log(w, exception, "failed", level="error", attributes={"exception": HUGE_EXCEPTION})
        lines = await broker.enqueue(w, "authentik.bench.lines", tenant_id=tenant)
        await broker.log(w, lines, "failed", level="error", attributes={"exception": MANY_LINES_EXCEPTION})
        attributes = await broker.enqueue(w, "authentik.bench.attributes", tenant_id=tenant)
        await w.execute(
            'INSERT INTO authentik_tasks_tasklog (id, event, log_level, logger, "timestamp", attributes, previous,'
            " task_id) VALUES (gen_random_uuid(), 'huge', 'error', 'bench', now() + interval '1 s', %s, false, %s)",
            (Jsonb(HUGE_ATTRIBUTES), attributes),
        )
        actor = await broker.enqueue(w, LONG_ACTOR, tenant_id=tenant)
    return {"exception": exception, "lines": lines, "attributes": attributes, "actor": actor}


async def until(pilot, condition: Callable[[], bool], limit: float = 120.0) -> float:
    """Seconds until `condition` holds, polled every millisecond."""
    started = time.perf_counter()
    while not condition():
        if time.perf_counter() - started > limit:
            raise TimeoutError("the console did not get there")
        await asyncio.sleep(0.001)
    return time.perf_counter() - started


def send(app: TaskTuiApp, key: str, character: str | None = None) -> None:
    """A key as the terminal sends it, without waiting for the app to handle it."""
    event = events.Key(key, character)
    event.set_sender(app)
    app._driver.send_message(event)  # type: ignore[union-attr]


async def open_detail(app: TaskTuiApp, pilot, message_id: str) -> float:
    """Enter on the task's row: seconds until its detail is on screen with its logs."""
    rows = app.query_one(TaskRows)
    rows.move_to([r.message_id for r in rows.rows].index(message_id))
    await pilot.pause()
    send(app, "enter")
    elapsed = await until(pilot, lambda: _detail_shown(app))
    await pilot.pause()
    return elapsed


def _detail_shown(app: TaskTuiApp) -> bool:
    screen = app.screen
    if not isinstance(screen, TaskDetailScreen) or not screen.is_mounted or screen.detail is None:
        return False
    try:
        return screen.current_view.loaded
    except NoMatches:  # not composed yet
        return False


async def close_detail(app: TaskTuiApp, pilot) -> None:
    send(app, "escape")
    await until(pilot, lambda: not isinstance(app.screen, TaskDetailScreen))
    await pilot.pause()


async def one_run(dsn: str, ids: dict[str, str], samples: dict[str, list[float]]) -> None:
    app = TaskTuiApp(TaskConsole(db.Target.resolve(dsn)))
    async with app.run_test(size=(120, 36)) as pilot:
        rows = app.query_one(TaskRows)
        await until(pilot, lambda: all(m in [r.message_id for r in rows.rows] for m in ids.values()))

        # The table with a 100,000-character actor on screen: a full redraw of its rows.
        started = time.perf_counter()
        for y in range(rows.size.height):
            rows.render_line(y)
        samples["table: redraw of the visible rows"].append(time.perf_counter() - started)

        samples["open the detail of the task with a 100k-character actor"].append(
            await open_detail(app, pilot, ids["actor"])
        )
        await close_detail(app, pilot)

        samples["open the detail: a 1 MB exception of 150,000 lines"].append(
            await open_detail(app, pilot, ids["lines"])
        )
        await close_detail(app, pilot)

        samples["open the detail of the task with a 1 MB exception"].append(
            await open_detail(app, pilot, ids["exception"])
        )
        screen = app.screen
        assert isinstance(screen, TaskDetailScreen)
        view = screen.current_view
        entry = view.current
        assert entry is not None and entry.exception is not None
        send(app, "enter")  # expand: renders the line's block again
        send(app, "question_mark", "?")
        samples["? right behind Enter on the 1 MB line: help shown"].append(
            await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        )
        await until(pilot, lambda: entry.expanded)
        send(app, "escape")
        await until(pilot, lambda: app.screen is screen)
        await pilot.pause()
        top = view.scroll_offset.y
        send(app, "pagedown")
        samples["PageDown inside the expanded 1 MB line"].append(
            await until(pilot, lambda: view.scroll_offset.y != top)
        )
        if hasattr(view, "more"):
            before = view._rows
            send(app, "m", "m")
            samples["m: the next page of the 1 MB line"].append(await until(pilot, lambda: view._rows > before))
        await close_detail(app, pilot)

        await open_detail(app, pilot, ids["attributes"])
        view = app.screen.current_view
        line = view.current
        assert line is not None and line.line.event == "huge"
        started = time.perf_counter()
        send(app, "enter")  # fetches the 1 MB attributes, then renders them
        send(app, "question_mark", "?")
        samples["? right behind Enter on a 1 MB attribute: help shown"].append(
            await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        )
        await until(pilot, lambda: line.attributes is not None)
        await pilot.pause()
        samples["Enter on a 1 MB attribute: fetched and rendered"].append(time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    bindir = find_system_bindir()
    server = SystemCluster(bindir) if bindir else WheelServer()
    admin = server.start()
    try:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("CREATE DATABASE hostile")
        dsn = make_conninfo(admin, dbname="hostile")
        ids = asyncio.run(prepare(dsn))
        samples: dict[str, list[float]] = {}
        keys = (
            "table: redraw of the visible rows",
            "open the detail of the task with a 100k-character actor",
            "open the detail: a 1 MB exception of 150,000 lines",
            "open the detail of the task with a 1 MB exception",
            "? right behind Enter on the 1 MB line: help shown",
            "PageDown inside the expanded 1 MB line",
            "m: the next page of the 1 MB line",
            "? right behind Enter on a 1 MB attribute: help shown",
            "Enter on a 1 MB attribute: fetched and rendered",
        )
        for key in keys:
            samples[key] = []
        for _ in range(args.repeats):
            asyncio.run(one_run(dsn, ids, samples))
        print(f"{'key sent → screen changed':<60} {'median ms':>10} {'worst ms':>10}")
        for key in keys:
            values = samples[key]
            if not values:
                print(f"{key:<60} {'(n/a)':>10}")
                continue
            median, worst = statistics.median(values) * 1000, max(values) * 1000
            print(f"{key:<60} {median:>10.0f} {worst:>10.0f}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
