"""Statuses in every theme: the colours the console really draws for each status — in the table,
the header's counts and the legend — are apart from each other and readable on their background
in every theme Textual ships, and tasktui-ansi draws with the terminal's 16 colours only. Without
colour (NO_COLOR with any value, TERM=dumb) nothing is coloured and each status still reads by its
text and its own symbol. Driven on the real App with Pilot (the fake service)."""

from __future__ import annotations

from itertools import combinations

import pytest
from rich.color import ColorType
from textual.color import Color

from tasktui.core.status import STATUSES, SYMBOLS, UNKNOWN
from tasktui.ui.app import TaskTuiApp
from tasktui.ui.themes import ANSI_THEME, MIN_CONTRAST, MIN_DISTANCE, STATUS_STYLES, contrast, distance
from tasktui.ui.widgets.legend import Legend
from tasktui.ui.widgets.status_header import StatusHeader
from tasktui.ui.widgets.task_table import TaskRows
from tests.conftest import run_cli
from tests.fake_console import NOW, task
from tests.test_snapshots import console
from tests.ui_helpers import fake_app, main_rows, row_texts, wait_for

# The header's count of each group is drawn in the colour of the status the table draws it in.
HEADER_GROUPS = {"active": "running", "queued": "queued", "success": "successful", "error": "error"}


async def _ready(pilot) -> TaskTuiApp:
    app: TaskTuiApp = pilot.app  # type: ignore[assignment]
    await wait_for(pilot, lambda: len(main_rows(app)) >= 8, what="the table")
    await pilot.pause()
    return app


def _drawn(app: TaskTuiApp) -> tuple[dict[str, Color], list[Color]]:
    """Each status's colour in the table, and the backgrounds statuses are drawn on (the table's
    and the header's)."""
    rows = app.main_screen.query_one(TaskRows)
    header = app.main_screen.query_one(StatusHeader)
    colours = {}
    for style in STATUS_STYLES:
        rich = rows.get_component_rich_style(f"task-table--{style}")
        assert rich.color is not None, style
        colours[style] = Color.from_rich_color(rich.color)
        if style in HEADER_GROUPS:
            in_header = header.get_component_rich_style(f"status-header--group-{HEADER_GROUPS[style]}").color
            assert in_header == rich.color, (style, in_header, rich.color)
    backgrounds = [rows.styles.background, header.styles.background]
    return colours, backgrounds


async def test_statuses_are_apart_and_readable_in_every_theme() -> None:
    fake, _ = console()
    app = fake_app(fake)
    async with app.run_test(size=(100, 30)) as pilot:
        await _ready(pilot)
        themes = sorted(app.available_themes)
        assert ANSI_THEME in themes and len(themes) >= 20
        for name in themes:
            app.theme = name
            await pilot.pause()
            colours, backgrounds = _drawn(app)
            if app.current_theme.ansi:
                # The terminal's palette: one ANSI colour each, none of them the default.
                numbers = {}
                for style in STATUS_STYLES:
                    rich = app.main_screen.query_one(TaskRows).get_component_rich_style(f"task-table--{style}")
                    assert rich.color is not None and rich.color.type == ColorType.STANDARD, (name, style)
                    numbers[style] = rich.color.number
                assert len(set(numbers.values())) == len(STATUS_STYLES), (name, numbers)
                continue
            for one, other in combinations(STATUS_STYLES, 2):
                apart = distance(colours[one], colours[other])
                assert apart >= MIN_DISTANCE, f"{name}: {one} and {other} are {apart:.1f} apart"
            for style, colour in colours.items():
                for background in backgrounds:
                    ratio = contrast(colour, background)
                    assert ratio >= MIN_CONTRAST, f"{name}: {style} {colour.hex} on {background.hex}: {ratio:.2f}"


async def test_tasktui_ansi_draws_with_the_terminals_16_colours_only() -> None:
    fake, _ = console()
    app = fake_app(fake, theme=ANSI_THEME)
    async with app.run_test(size=(120, 36)) as pilot:
        await _ready(pilot)
        await pilot.press("w")  # the worker panel too (the legend is shown)
        await pilot.pause(0.3)
        kinds = set()
        for strip in app.screen._compositor.render_strips():
            for segment in strip:
                for colour in (segment.style.color, segment.style.bgcolor) if segment.style else ():
                    if colour is not None:
                        kinds.add(colour.type)
        assert kinds <= {ColorType.DEFAULT, ColorType.STANDARD}, kinds
        assert app.current_theme.name == ANSI_THEME


def test_every_status_has_a_symbol_of_its_own_one_cell_wide() -> None:
    styles = {status.style for status in (*STATUSES.values(), UNKNOWN)}
    assert styles == set(SYMBOLS) == set(STATUS_STYLES)
    assert len(set(SYMBOLS.values())) == len(SYMBOLS)
    import unicodedata

    assert all(unicodedata.east_asian_width(symbol) in ("N", "Na") for symbol in SYMBOLS.values())


@pytest.mark.parametrize(
    "environment", [{"NO_COLOR": ""}, {"NO_COLOR": "1"}, {"TERM": "dumb"}], ids=["NO_COLOR-empty", "NO_COLOR", "dumb"]
)
async def test_without_colour_each_status_reads_by_its_text_and_symbol(monkeypatch, environment) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    fake, _ = console()
    app = fake_app(fake)
    async with app.run_test(size=(120, 36)) as pilot:
        await _ready(pilot)
        assert app.no_color
        await pilot.press("h")  # successful tasks too
        await wait_for(pilot, lambda: len(main_rows(app)) >= 11, what="the successful tasks")
        await pilot.pause()
        for strip in app.screen._compositor.render_strips():
            for segment in strip:
                for colour in (segment.style.color, segment.style.bgcolor) if segment.style else ():
                    if colour is not None and colour.type != ColorType.DEFAULT:
                        red, green, blue = colour.get_truecolor()
                        assert red == green == blue, (segment.text, colour)  # grey: no colour
        # Each row starts with its status's symbol and label: no colour needed to tell them.
        for message_id, text in zip(main_rows(app), row_texts(app), strict=False):
            status = fake.store.rows[message_id].status
            assert text.startswith(f"{status.symbol} {status.label}"), text
        shown = {fake.store.rows[m].status.style for m in main_rows(app)}
        assert shown == set(STATUS_STYLES)  # the scene has a task of every kind
        legend = str(app.main_screen.query_one(Legend).render())
        assert all(f"{SYMBOLS[style]} " in legend for style in STATUS_STYLES), legend


async def test_tasktui_ansi_through_the_command_line_and_the_config_file(tmp_path, monkeypatch) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[console]\ntheme = "tasktui-ansi"\n')
    shown = run_cli("config", "show", "--json", env={"TASKTUI_CONFIG": str(config)})
    assert shown.returncode == 0, shown.stderr
    assert '"tasktui-ansi"' in shown.stdout
    typo = run_cli("--theme", "tasktui-ansii", "--dsn", "postgresql://nobody@127.0.0.1:1/x")
    assert typo.returncode == 2 and "unknown theme 'tasktui-ansii' (known: " in typo.stderr
    assert "Traceback" not in typo.stderr and len(typo.stderr.strip().splitlines()) <= 3
    fake, _ = console()
    fake.put(task(40, minutes_ago=0))
    app = fake_app(fake, theme=ANSI_THEME, clock=lambda: NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await _ready(pilot)
        assert app.current_theme.name == ANSI_THEME
