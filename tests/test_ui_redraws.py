"""What the console sends to the terminal, on the fake service: a change repaints the lines it
changed and nothing else (over SSH the bytes are the lines), ages repaint only where their text
changes, --max-fps caps the redraws, slow frames stretch the interval, and a queued key is answered
before the next redraw starts. Counts, not timings: timings are the bench's (bench/screen_latency.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from textual import events
from textual.pilot import Pilot
from textual.strip import Strip
from textual.widgets import Static

from tasktui.cli import build_parser
from tasktui.commands.console import console_app, console_options
from tasktui.config import load_config, resolve
from tasktui.core.db import Target
from tasktui.core.filters import TaskFilter
from tasktui.core.models import TaskRow
from tasktui.core.store import SortKey
from tasktui.ui.pacing import SLOWEST_INTERVAL, RedrawPacer
from tasktui.ui.screens.main import MainScreen
from tasktui.ui.widgets.task_table import TaskRows
from tests.fake_console import NOW, FakeConsole, task
from tests.ui_helpers import fake_app, main_rows, row_texts, wait_for

SIZE = (120, 36)


class Painted:
    """The table's lines as Textual asks for them (render_line: what goes to the terminal), and
    how often a Static's content was replaced (the header, the column titles, the filter line)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.lines: list[int] = []
        self.static_updates: list[str] = []
        render_line, update = TaskRows.render_line, Static.update

        def counting_render_line(rows: TaskRows, y: int) -> Strip:
            self.lines.append(y)
            return render_line(rows, y)

        def counting_update(static: Static, *args: object, **kwargs: object) -> None:
            self.static_updates.append(type(static).__name__)
            update(static, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(TaskRows, "render_line", counting_render_line)
        monkeypatch.setattr(Static, "update", counting_update)

    def reset(self) -> None:
        self.lines.clear()
        self.static_updates.clear()

    async def settle(self, pilot: Pilot) -> None:
        """Wait until nothing is painted for a while (start-up layouts, the scrollbar's arrival:
        slower on a loaded machine), then start counting afresh."""
        for _ in range(50):
            self.reset()
            await pilot.pause(0.2)
            if not self.lines and not self.static_updates:
                return
        raise AssertionError(f"the screen never settled: still painting lines {sorted(set(self.lines))}")


@pytest.fixture
def painted(monkeypatch: pytest.MonkeyPatch) -> Iterator[Painted]:
    yield Painted(monkeypatch)


def many_tasks(count: int = 40) -> list[TaskRow]:
    return [
        task(number, f"authentik.bench.actor_{number}", uid=str(number), minutes_ago=number)
        for number in range(1, count + 1)
    ]


async def test_a_change_to_one_task_repaints_its_line_only(painted: Painted) -> None:
    tasks = many_tasks()
    fake = FakeConsole(tasks)
    fake.last_event = NOW.timestamp() - 0.5
    app = fake_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: len(main_rows(app)) == len(tasks), what="the tasks")
        await pilot.pause(0.3)
        rows = app.main_screen.query_one(TaskRows)
        visible = rows.scrollable_content_region.height
        assert visible > 20
        changed = tasks[5]
        y = main_rows(app).index(changed.message_id)
        # A first change, painted, so that start-up (the scrollbar's arrival resizes the table) is
        # over on a slow machine too.
        painted.reset()
        fake.put(replace(tasks[7], retries=1))
        await wait_for(pilot, lambda: bool(painted.lines), what="a first paint")
        await pilot.pause(0.3)
        painted.reset()
        fake.last_event = NOW.timestamp() - 0.2  # "last event 0s ago", as before
        fake.put(replace(changed, retries=7))  # the Try column: the row keeps its place
        await wait_for(pilot, lambda: bool(painted.lines), what="a paint")
        await pilot.pause(0.3)
        assert set(painted.lines) == {y}, f"repainted lines {sorted(set(painted.lines))}, expected only {y}"
        assert " 7 Default " in row_texts(app)[y], row_texts(app)[y]
        # Header, column titles and filter line did not change: not sent again, no layout.
        assert painted.static_updates == []


async def test_ages_repaint_only_the_lines_whose_age_text_changed(painted: Painted) -> None:
    clock = [NOW]
    young = replace(task(1, "authentik.young", uid="y"), mtime=NOW - timedelta(seconds=5))
    tasks = [young, *many_tasks()[1:]]
    app = fake_app(FakeConsole(tasks), clock=lambda: clock[0])
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "5s ago" in row_texts(app)[0], what="the young task's age")
        await painted.settle(pilot)  # laid out (the scrollbar's arrival resizes the table once)
        clock[0] = NOW + timedelta(seconds=2)  # older ones still read "2m ago", "3m ago", …
        rows = app.main_screen.query_one(TaskRows)
        await wait_for(pilot, lambda: rows.now != NOW, within=5, what="the once-a-second tick")
        await pilot.pause(0.3)
        assert set(painted.lines) == {0}, f"repainted lines {sorted(set(painted.lines))}, expected only 0"
        assert "7s ago" in row_texts(app)[0]


async def test_max_fps_caps_the_redraws(monkeypatch: pytest.MonkeyPatch) -> None:
    redraws: list[float] = []
    redraw = MainScreen.redraw

    def counting_redraw(screen: MainScreen, force: bool = False) -> None:
        before = screen._shown
        redraw(screen, force)
        if screen._shown != before:
            redraws.append(time.monotonic())

    monkeypatch.setattr(MainScreen, "redraw", counting_redraw)

    async def redraws_in_two_seconds(**settings: object) -> int:
        tasks = many_tasks(5)
        fake = FakeConsole(tasks)
        app = fake_app(fake, **settings)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: len(main_rows(app)) == len(tasks), what="the tasks")
            redraws.clear()
            deadline = time.monotonic() + 2.0
            retries = 0
            while time.monotonic() < deadline:  # a change every 20 ms: 50 a second
                retries += 1
                fake.put(replace(tasks[0], retries=retries))
                await pilot.pause(0.02)
            return len(redraws)

    capped = await redraws_in_two_seconds(redraw_interval=1 / 2)
    default = await redraws_in_two_seconds()
    assert capped <= 6, f"--max-fps 2 redrew {capped} times in 2 s"
    assert default > 2 * capped, f"the default redrew {default} times, --max-fps 2 {capped}"


def test_max_fps_on_the_command_line_wins_over_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[console]\nfps = 10\n")
    parser = build_parser()
    from_file = resolve(parser.parse_args([]), load_config(config), env={})
    assert console_options(from_file)["fps"] == 10
    given = resolve(parser.parse_args(["--max-fps", "2"]), load_config(config), env={})
    assert console_options(given)["fps"] == 2
    assert given.console["fps"].source == "command line"
    app = console_app(Target.resolve("dbname=unused"), **console_options(given))
    assert app.settings.redraw_interval == 0.5


class SlowView(FakeConsole):
    """A window whose view costs `cost` seconds of the event loop (a huge window, a slow machine)."""

    cost = 0.0

    def view(self, task_filter: TaskFilter, sort: SortKey) -> list[TaskRow]:
        time.sleep(self.cost)
        return super().view(task_filter, sort)


async def test_slow_frames_stretch_the_interval_and_cheap_ones_give_it_back() -> None:
    tasks = many_tasks(5)
    fake = SlowView(tasks)
    app = fake_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: len(main_rows(app)) == len(tasks), what="the tasks")
        pacer = app.main_screen.pacer
        assert pacer.interval == pacer.fastest
        fake.cost = 0.3
        for retries in range(1, 40):
            fake.put(replace(tasks[0], retries=retries))
            await pilot.pause(0.02)
            if pacer.interval >= SLOWEST_INTERVAL:
                break
        assert pacer.interval == SLOWEST_INTERVAL
        fake.cost = 0.0
        for retries in range(40, 200):
            fake.put(replace(tasks[0], retries=retries))
            await pilot.pause(0.05)
            if pacer.interval == pacer.fastest:
                break
        assert pacer.interval == pacer.fastest


def test_the_pacer_doubles_while_slow_and_halves_back_while_cheap() -> None:
    pacer = RedrawPacer(0.05)
    pacer.frame_took(0.04)
    assert pacer.interval == 0.05
    pacer.frame_took(0.06)
    assert pacer.interval == 0.1
    for _ in range(5):
        pacer.frame_took(1.0)
    assert pacer.interval == SLOWEST_INTERVAL
    pacer.frame_took(0.05)
    assert pacer.interval == SLOWEST_INTERVAL / 2
    pacer.frame_took(0.01)
    pacer.frame_took(0.01)
    assert pacer.interval == 0.05
    # --max-fps slower than the slowest stretch: the pacer never makes it faster.
    slow = RedrawPacer(1.0)
    slow.frame_took(0.0)
    assert slow.interval == 1.0


async def test_a_queued_key_is_answered_before_the_next_redraw(monkeypatch: pytest.MonkeyPatch) -> None:
    order: list[str] = []
    redraw, cursor_down = MainScreen.redraw, MainScreen.action_cursor_down

    def logged_redraw(screen: MainScreen, force: bool = False) -> None:
        before = screen._shown
        redraw(screen, force)
        if screen._shown != before:
            order.append("redraw")

    def logged_cursor_down(screen: MainScreen) -> None:
        order.append("key")
        cursor_down(screen)

    monkeypatch.setattr(MainScreen, "redraw", logged_redraw)
    monkeypatch.setattr(MainScreen, "action_cursor_down", logged_cursor_down)
    tasks = many_tasks(5)
    fake = FakeConsole(tasks)
    app = fake_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: len(main_rows(app)) == len(tasks), what="the tasks")
        await pilot.pause(0.2)  # the last redraw is old: the next change would redraw at once
        for attempt in range(5):
            order.clear()
            # The terminal's key arrives, then the feed's change, before either is handled.
            key = events.Key("down", None)
            key.set_sender(app)
            app.post_message(key)
            fake.put(replace(tasks[0], retries=attempt + 1))
            await wait_for(pilot, lambda: order.count("redraw") >= 1 and "key" in order, what="key and redraw")
            assert order[0] == "key", f"attempt {attempt}: {order}"
            await pilot.pause(0.2)


def test_line_keys_see_the_clock() -> None:
    """The age cell is part of what a line shows (else a changed age would never be repainted)."""
    rows = TaskRows()
    rows.rows = [replace(task(1), mtime=NOW - timedelta(seconds=5))]
    rows.now = NOW
    before = rows._line_key(0)
    rows.now = NOW + timedelta(seconds=1)
    assert rows._line_key(0) != before


async def test_a_table_line_goes_out_as_one_segment_per_style() -> None:
    """Each segment costs its own escape sequences on the terminal (~30 bytes in truecolor): a
    row is its status cell (bold) and the rest, whatever the number of columns."""
    app = fake_app(FakeConsole(many_tasks(3)))
    async with app.run_test(size=(200, 20)) as pilot:
        await wait_for(pilot, lambda: len(main_rows(app)) == 3, what="the tasks")
        rows = app.main_screen.query_one(TaskRows)
        assert len(rows.columns) >= 8
        for y in range(3):
            assert len(list(rows.render_line(y))) <= 2


def test_each_browser_tab_and_the_demo_take_max_fps(tmp_path: Path) -> None:
    from tasktui.commands.serve import console_command

    config = tmp_path / "config.toml"
    config.write_text("[console]\nfps = 4\n")
    parser = build_parser()
    command = console_command(resolve(parser.parse_args(["serve"]), load_config(config), env={}))
    assert command[command.index("--max-fps") + 1] == "4"
    command = console_command(resolve(parser.parse_args(["serve", "--max-fps", "1"]), load_config(config), env={}))
    assert command[command.index("--max-fps") + 1] == "1"
    assert parser.parse_args(["demo", "--max-fps", "2"]).max_fps == 2
