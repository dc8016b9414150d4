"""Keys always reach the table after panels and modals come and go: focus never lands in a
hidden widget (where every key would be typed into an invisible search box)."""

from __future__ import annotations

import pytest

from tasktui.ui.widgets.task_table import TaskRows
from tests.fake_console import FakeConsole, task
from tests.ui_helpers import fake_app, wait_for


@pytest.mark.parametrize(
    "keys",
    [
        ("w", "tab", "down", "w", "question_mark", "escape"),
        ("w", "tab", "w"),
        ("w", "tab", "down", "w", "f", "escape"),
    ],
)
async def test_focus_returns_to_the_table_when_the_focused_panel_hides(keys) -> None:
    app = fake_app(FakeConsole([task(1, "authentik.a"), task(2, "authentik.b", uid="1", state="rejected")]))
    async with app.run_test(size=(120, 36)) as pilot:
        rows = app.main_screen.query_one(TaskRows)
        await wait_for(pilot, lambda: len(rows.rows) >= 2, what="loaded")
        for key in keys:
            await pilot.press(key)
            await pilot.pause()
        await wait_for(pilot, lambda: app.focused is rows, what=f"the table focused after {keys}")
        # And the keys act on it: the cursor moves, nothing is typed into a search.
        await pilot.press("g")
        await wait_for(pilot, lambda: rows.cursor == 0, what="cursor on the first row")
        await pilot.press("j")
        await wait_for(pilot, lambda: rows.cursor == 1, what="cursor on the second row")
        assert app.main_screen.task_filter.text == ""


async def test_the_facet_picker_toggles_with_space_at_once() -> None:
    from tasktui.ui.screens.facets import FacetScreen

    app = fake_app(FakeConsole([task(1, "authentik.a")]))
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: len(app.main_screen.query_one(TaskRows).rows) >= 1, what="loaded")
        await pilot.press("f")
        await wait_for(pilot, lambda: isinstance(app.screen, FacetScreen), what="facet picker")
        await pilot.press("space")
        status = app.screen.query_one("#facet-status")
        await wait_for(pilot, lambda: len(status.selected) == 1, what="the first status selected by Space")
