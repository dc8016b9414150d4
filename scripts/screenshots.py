"""Make the README's screenshots: the real console on `tasktui demo` (fixed seed).

    python scripts/screenshots.py [--out screenshots] [--seed 7] [--warmup 20] [--only xray ...]

Starts `tasktui demo --no-console` (embedded PostgreSQL, seeded history, simulated workers),
lets the workload run for `--warmup` seconds, then drives the console headless at 120×36 and
80×24 and saves each screen as PNG (`--only` names the scenes to shoot; "installations" starts
a second demo, seed + 1, and opens the console on both), rendered by headless Chromium (Debian: `apt-get install
chromium fonts-firacode`; rsvg-convert is the fallback) — Rich's SVG asks for Fira Code, and
another font misaligns the columns.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from textual.pilot import Pilot

from tasktui.core import db
from tasktui.core.console import TaskConsole
from tasktui.core.events import FeedMode
from tasktui.ui.app import TaskTuiApp
from tasktui.ui.screens.errors_view import ErrorsView
from tasktui.ui.screens.export import ExportDialog
from tasktui.ui.screens.incident_view import IncidentView
from tasktui.ui.screens.queues_view import QueuesView
from tasktui.ui.screens.retry import BulkRetryScreen
from tasktui.ui.screens.schedules_view import SchedulesView
from tasktui.ui.screens.task_detail import TaskDetailScreen
from tasktui.ui.screens.xray import XrayScreen
from tasktui.ui.settings import ConsoleSettings
from tasktui.ui.widgets.task_table import TaskRows

LABEL = "demo (embedded PostgreSQL)"
Scene = Callable[[Pilot], Awaitable[None]]


def start_demo(seed: int) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tasktui", "demo", "--no-console", "--seed", str(seed)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 120
    for line in proc.stdout:
        if line.startswith("dsn: "):
            return proc, line[len("dsn: ") :].strip()
        if time.monotonic() > deadline:
            break
    proc.terminate()
    raise SystemExit("the demo did not start")


async def until(pilot: Pilot, condition: Callable[[], bool], within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit("timed out waiting for the console")
        await pilot.pause(0.1)


async def show_rejected_first(pilot: Pilot) -> None:
    app = pilot.app
    while app.main_screen.sort.column != "status":
        await pilot.press("o")
    await pilot.press("g")


async def open_rejected_task(pilot: Pilot) -> None:
    await show_rejected_first(pilot)
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(pilot.app.screen, TaskDetailScreen))
    await pilot.pause(2.0)


async def bulk_preview(pilot: Pilot) -> None:
    await pilot.press("B")
    await until(pilot, lambda: isinstance(pilot.app.screen, BulkRetryScreen) and pilot.app.screen.preview is not None)
    await pilot.pause(0.5)


async def worker_panel(pilot: Pilot) -> None:
    await pilot.press("w")
    await pilot.pause(1.0)


async def help_screen(pilot: Pilot) -> None:
    await pilot.press("question_mark")
    await pilot.pause(0.5)


async def main_table(pilot: Pilot) -> None:
    await pilot.pause(0.5)


async def export_dialog(pilot: Pilot, key: str) -> None:
    await pilot.press(key)
    await until(pilot, lambda: isinstance(pilot.app.screen, ExportDialog))
    field = pilot.app.screen.query_one("#export-where")
    field.cursor_blink = False
    field.value = "~/incidents"  # the current folder by default: here, wherever the script ran
    field.cursor_position = len(field.value)
    await pilot.pause(0.5)


async def export_tasks(pilot: Pilot) -> None:
    await export_dialog(pilot, "x")


async def export_bundle(pilot: Pilot) -> None:
    await show_rejected_first(pilot)
    await export_dialog(pilot, "X")


async def every_status(pilot: Pilot) -> None:
    await pilot.press("h")  # successful tasks too
    await pilot.pause(1.0)
    pilot.app.clear_notifications()
    await pilot.pause(0.3)


def incident_view(key: str, view: type[IncidentView]) -> Scene:
    async def scene(pilot: Pilot) -> None:
        await pilot.press(key)
        await until(pilot, lambda: isinstance(pilot.app.screen, view) and pilot.app.screen.loads > 0)
        await pilot.pause(0.5)

    return scene


async def xray_blocked_sync(pilot: Pilot) -> None:
    """The LDAP sync the demo hangs (it blocks its schedule): who holds it."""
    app = pilot.app
    await pilot.press("slash", *"partners-ldap", "enter")
    await until(pilot, lambda: any(row.state == "running" for row in app.main_screen.rows.rows))
    rows = app.main_screen.rows.rows
    hung = min((row for row in rows if row.state == "running"), key=lambda row: row.mtime)  # claimed longest ago
    app.main_screen.rows.move_to(rows.index(hung))
    await pilot.press("W")
    await until(pilot, lambda: isinstance(app.screen, XrayScreen) and app.screen.refreshes >= 1)
    await pilot.pause(0.5)


async def installations(pilot: Pilot) -> None:
    app = pilot.app
    await until(pilot, lambda: all(i.summary is not None for i in app.installations))
    await pilot.pause(1.5)  # the rows redraw once a second


# (file name, scene, theme: None for the default, "no-color" for NO_COLOR)
SCENES: list[tuple[str, Scene, str | None]] = [
    ("console", main_table, None),
    ("workers", worker_panel, None),
    ("task-detail", open_rejected_task, None),
    ("bulk-retry", bulk_preview, None),
    ("help", help_screen, None),
    ("export-tasks", export_tasks, None),
    ("export-bundle", export_bundle, None),
    ("theme-tasktui-ansi", every_status, "tasktui-ansi"),
    ("theme-no-color", every_status, "no-color"),
    ("errors", incident_view("E", ErrorsView), None),
    ("queues", incident_view("D", QueuesView), None),
    ("schedules", incident_view("S", SchedulesView), None),
    ("xray", xray_blocked_sync, None),
    ("installations", installations, None),
]


async def shoot(
    dsns: list[str],
    out: Path,
    size: tuple[int, int],
    name: str,
    scene: Callable[[Pilot], Awaitable[None]],
    theme: str | None,
) -> Path:
    """The console on the first demo, or on every one for the installations scene."""
    if theme == "no-color":
        os.environ["NO_COLOR"] = "1"  # read when the App is made
    else:
        os.environ.pop("NO_COLOR", None)
    labels = [LABEL] if name != "installations" else [f"demo {n}" for n in range(1, len(dsns) + 1)]
    look = None if theme == "no-color" else theme
    services = [
        (TaskConsole(db.Target.resolve(dsn)), ConsoleSettings(label=label, theme=look))
        for dsn, label in zip(dsns, labels, strict=True)
    ]
    app = TaskTuiApp(*services[0], others=services[1:])
    async with app.run_test(size=size) as pilot:
        await until(
            pilot, lambda: app.service.feed.mode == FeedMode.LIVE and bool(app.main_screen.query_one(TaskRows).rows)
        )
        await until(
            pilot, lambda: app.main_screen.header_state.counts is not None and app.main_screen.worker_report is not None
        )
        await pilot.pause(2.5)  # a couple of seconds of live traffic for the sparkline
        await scene(pilot)
        svg = out / f"{name}-{size[0]}x{size[1]}.svg"
        svg.write_text(app.export_screenshot(title=f"tasktui — {name}"))
    return svg


def to_png(svg: Path) -> Path | None:
    """Render with headless Chromium (exact: it honours the SVG's per-span positions and the
    Fira Code font), else rsvg-convert (close; it may crowd spans), else keep the SVG."""
    png = svg.with_suffix(".png")
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser:
        match = re.search(r'viewBox="0 0 ([\d.]+) ([\d.]+)"', svg.read_text())
        width, height = (math.ceil(float(v)) for v in match.groups()) if match else (1400, 900)
        page = svg.with_suffix(".html")
        page.write_text(f"<html><body style='margin:0;background:#000'>{svg.read_text()}</body></html>")
        subprocess.run(
            [
                browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                "--disable-background-networking", "--no-first-run", "--force-device-scale-factor=1",
                f"--window-size={width},{height}", f"--screenshot={png}", page.as_uri(),
            ],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        page.unlink()
        return png
    converter = shutil.which("rsvg-convert")
    if converter is None:
        print("no chromium or rsvg-convert: SVG only (apt-get install chromium fonts-firacode)", file=sys.stderr)
        return None
    subprocess.run([converter, "-w", "1400", str(svg), "-o", str(png)], check=True)
    return png


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "screenshots")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--warmup", type=float, default=20.0)
    parser.add_argument("--only", nargs="+", choices=[name for name, _, _ in SCENES], help="these scenes only")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    scenes = [(name, scene, theme) for name, scene, theme in SCENES if not args.only or name in args.only]
    demos = [start_demo(args.seed)]
    try:
        if any(name == "installations" for name, _, _ in scenes):
            demos.append(start_demo(args.seed + 1))
        time.sleep(args.warmup)
        for size in ((120, 36), (80, 24)):
            for name, scene, theme in scenes:
                dsns = [dsn for _, dsn in demos] if name == "installations" else [demos[0][1]]
                svg = asyncio.run(shoot(dsns, args.out, size, name, scene, theme))
                png = to_png(svg)
                if png is not None:
                    svg.unlink()
                print(f"wrote {png or svg}")
    finally:
        for proc, _ in demos:
            proc.send_signal(signal.SIGTERM)
        for proc, _ in demos:
            proc.wait(timeout=60)


if __name__ == "__main__":
    main()
