"""Driving the real console in tests: wait for conditions, read what is on screen."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from rich.style import Style
from textual.pilot import Pilot

from tasktui.core import db
from tasktui.ui.app import TaskTuiApp
from tasktui.ui.widgets.task_table import TaskRows


async def wait_for(pilot: Pilot, condition: Callable[[], bool], within: float = 10.0, what: str = "") -> None:
    """Poll a real condition (never a fixed sleep); fail with a description on timeout."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"timed out after {within}s waiting for {what or condition}")


def make_app(dsn: str, **kwargs: object) -> TaskTuiApp:
    return TaskTuiApp(db.Target.resolve(dsn), **kwargs)  # type: ignore[arg-type]


def screen_text(app: TaskTuiApp) -> str:
    """Every line of the active screen (modals included), as plain text."""
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(segment.text for segment in strip).rstrip() for strip in strips)


def row_texts(app: TaskTuiApp) -> list[str]:
    """The table's visible rows as text, as drawn."""
    rows = app.main_query(TaskRows)
    height = rows.scrollable_content_region.height
    lines = []
    for y in range(min(height, len(rows.rows) - int(rows.scroll_offset.y))):
        lines.append("".join(segment.text for segment in rows.render_line(y)).rstrip())
    return lines


def row_style(app: TaskTuiApp, message_id: str) -> Style:
    """The foreground style the table draws a task's row with (status cell excluded)."""
    rows = app.main_query(TaskRows)
    index = next(i for i, r in enumerate(rows.rows) if r.message_id == message_id)
    y = index - int(rows.scroll_offset.y)
    segments = list(rows.render_line(y))
    return segments[1].style or Style()


def component_color(app: TaskTuiApp, name: str) -> object:
    return app.query_one(TaskRows).get_component_rich_style(f"task-table--{name}").color


async def settle(seconds: float = 0.2) -> None:
    await asyncio.sleep(seconds)
