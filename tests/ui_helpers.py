"""Driving the real console in tests: wait for conditions, read what is on screen."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import fields
from itertools import accumulate
from typing import Any

from rich.cells import cell_len
from rich.style import Style
from textual import events
from textual.css.query import NoMatches
from textual.pilot import Pilot

from tasktui.core import db
from tasktui.core.console import TaskConsole
from tasktui.ui.app import TaskTuiApp
from tasktui.ui.settings import ConsoleSettings
from tasktui.ui.widgets.task_table import TaskRows
from tests.fake_console import NOW, FakeConsole


async def wait_for(pilot: Pilot, condition: Callable[[], bool], within: float = 10.0, what: str = "") -> None:
    """Poll a real condition (never a fixed sleep); fail with a description on timeout."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"timed out after {within}s waiting for {what or condition}")


SETTINGS = frozenset(f.name for f in fields(ConsoleSettings))


def make_app(dsn: str, **kwargs: Any) -> TaskTuiApp:
    """The real console on `dsn`: the TaskConsole service with the given options, the App with
    the given settings (read_only, label, notice, clock)."""
    settings = {k: v for k, v in kwargs.items() if k in SETTINGS}
    options = {k: v for k, v in kwargs.items() if k not in SETTINGS}
    return TaskTuiApp(TaskConsole(db.Target.resolve(dsn), **options), ConsoleSettings(**settings))


def screen_text(app: TaskTuiApp) -> str:
    """Every line of the active screen (modals included), as plain text."""
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(segment.text for segment in strip).rstrip() for strip in strips)


def row_texts(app: TaskTuiApp) -> list[str]:
    """The table's visible rows as text, as drawn."""
    rows = app.main_screen.query_one(TaskRows)
    height = rows.scrollable_content_region.height
    lines = []
    for y in range(min(height, len(rows.rows) - int(rows.scroll_offset.y))):
        lines.append("".join(segment.text for segment in rows.render_line(y)).rstrip())
    return lines


def misplaced_column_ends(text: str, rows: TaskRows) -> set[int]:
    """The cells where a column of this drawn row should end (with the space after it) but no
    space ends: empty when each cell fills exactly its column's width, so nothing shifts. (A line
    is drawn as one segment per style, not per cell: the text is what shows it.)"""
    ends = set(accumulate(width + 1 for _, width in rows.columns[:-1]))
    spaces = {cell_len(text[: index + 1]) for index, character in enumerate(text) if character == " "}
    return ends - spaces


def row_style(app: TaskTuiApp, message_id: str) -> Style:
    """The foreground style the table draws a task's row with (status cell excluded)."""
    rows = app.main_screen.query_one(TaskRows)
    index = next(i for i, r in enumerate(rows.rows) if r.message_id == message_id)
    y = index - int(rows.scroll_offset.y)
    segments = list(rows.render_line(y))
    return segments[-1].style or Style()  # a line is one segment per style: the status cell's comes first


def component_color(app: TaskTuiApp, name: str) -> object:
    return app.main_screen.query_one(TaskRows).get_component_rich_style(f"task-table--{name}").color


async def settle(seconds: float = 0.2) -> None:
    await asyncio.sleep(seconds)


def send_key(app: TaskTuiApp, key: str, character: str | None = None) -> float:
    """A key as the terminal sends it, without waiting for the app to handle it (Pilot.press
    waits); returns when it was sent. Safe from any thread, as the terminal's input is."""
    event = events.Key(key, character)
    event.set_sender(app)
    assert app._driver is not None
    sent = time.perf_counter()
    app._driver.send_message(event)
    return sent


class LateKey:
    """A key sent from another thread `delay` seconds from now, whatever the app is doing then
    (busy or not), as a person would press it; `sent` is when."""

    def __init__(self, app: TaskTuiApp, delay: float, key: str, character: str | None = None) -> None:
        self.sent: float | None = None

        def press() -> None:
            self.sent = send_key(app, key, character)

        threading.Timer(delay, press).start()

    async def answered(self, condition: Callable[[], bool], within: float = 60.0) -> float:
        """Seconds from the key's sending until `condition` holds ("key sent → screen changed")."""
        await seconds_until(lambda: self.sent is not None, within)
        await seconds_until(condition, within)
        assert self.sent is not None
        return time.perf_counter() - self.sent


async def seconds_until(condition: Callable[[], bool], within: float = 60.0) -> float:
    """How long until `condition` holds, polled every millisecond ("key sent → screen changed")."""
    started = time.perf_counter()
    while not condition():
        if time.perf_counter() - started > within:
            raise AssertionError(f"still not after {within}s: {condition}")
        await asyncio.sleep(0.001)
    return time.perf_counter() - started


def fake_app(fake: FakeConsole, **settings: Any) -> TaskTuiApp:
    """The real console on a fake service (tests/fake_console.py): no database, a frozen clock."""
    settings.setdefault("clock", lambda: NOW)
    return TaskTuiApp(fake, ConsoleSettings(**settings))


def main_rows(app: TaskTuiApp) -> list[str]:
    """The message ids of the table's rows, in order (none before the table is mounted)."""
    try:
        rows = app.main_screen.query_one(TaskRows)
    except NoMatches:
        return []
    return [row.message_id for row in rows.rows]
