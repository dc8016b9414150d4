"""What a new user showed (issue 11): the table's search, cursor and empty states, the header's
worker alarms, the bulk preview at 80×24, the demo's connection string, and what is cut at 80
columns — each on the fake service, through the keys a user presses."""

from __future__ import annotations

import re

import pytest
from textual.containers import VerticalScroll
from textual.widgets import SelectionList, Static

from tasktui.core.filters import TaskFilter
from tasktui.errors import ConnectionFailed
from tasktui.render.bulk import bulk_preview_text
from tasktui.ui.app import TaskTuiApp
from tasktui.ui.screens.facets import FacetScreen
from tasktui.ui.screens.help import ConnectionScreen, HelpScreen
from tasktui.ui.screens.retry import BulkRetryScreen, ConfirmRetryModal
from tasktui.ui.widgets.filter_bar import PLACEHOLDER
from tasktui.ui.widgets.status_header import StatusHeader
from tasktui.ui.widgets.task_table import TaskRows
from tests.fake_console import LABEL, FakeConsole, task, workers
from tests.fake_console import line as log_line
from tests.test_task_detail import open_detail, rejected_after_a_retry
from tests.ui_helpers import fake_app, main_rows, row_texts, screen_text, wait_for

LDAP = "authentik.sources.ldap.tasks.ldap_sync"


async def test_a_search_matches_the_actor_uid_text_a_row_shows() -> None:
    corp = task(1, LDAP, uid="corp-ad", minutes_ago=1)
    other = task(2, LDAP, uid="other", minutes_ago=2)
    app = fake_app(FakeConsole([corp, other]))
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: len(main_rows(app)) == 2, what="two rows")
        await pilot.press("slash", *"ldap_sync:corp-ad", "enter")
        await wait_for(pilot, lambda: main_rows(app) == [corp.message_id], what="the row whose text was searched")


async def test_a_search_with_no_match_says_so_instead_of_a_blank_table() -> None:
    app = fake_app(FakeConsole([task(1, LDAP, uid="corp-ad")]))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: len(main_rows(app)) == 1, what="one row")
        await pilot.press("slash", *"nothing-like-it", "enter")
        await wait_for(pilot, lambda: not main_rows(app), what="no rows")
        await wait_for(pilot, lambda: "no task matches /nothing-like-it" in screen_text(app), what="the no-match line")
        await pilot.press("c")
        await wait_for(pilot, lambda: len(main_rows(app)) == 1, what="cleared")
        assert "no task matches" not in screen_text(app)


async def test_after_filtering_the_cursor_is_on_the_first_row_and_c_goes_back_to_the_top() -> None:
    # 30 tasks, newest first; every third one rejected.
    rows = [
        task(100 + i, LDAP, uid=f"u{i}", state="rejected" if i % 3 == 0 else "queued", minutes_ago=i) for i in range(30)
    ]
    app = fake_app(FakeConsole(rows))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: len(main_rows(app)) == 30, what="thirty rows")
        table = app.main_screen.query_one(TaskRows)
        await pilot.press("end")
        await wait_for(pilot, lambda: table.cursor == 29, what="the last row")
        await pilot.press("f")
        await wait_for(pilot, lambda: isinstance(app.screen, FacetScreen), what="the facets")
        status_list = app.screen.query_one("#facet-status", SelectionList)
        values = [status_list.get_option_at_index(i).value for i in range(status_list.option_count)]
        status_list.highlighted = values.index("rejected")
        await pilot.pause()
        await pilot.press("space", "ctrl+s")
        await wait_for(pilot, lambda: len(main_rows(app)) == 10, what="the rejected ten")
        assert table.cursor == 0 and table.current is not None
        assert table.current.message_id == rows[0].message_id, "the newest matching task"
        assert int(table.scroll_offset.y) == 0
        await pilot.press("end")
        await wait_for(pilot, lambda: table.cursor == 9, what="the last rejected row")
        await pilot.press("c")
        await wait_for(pilot, lambda: len(main_rows(app)) == 30, what="cleared")
        assert table.cursor == 0 and int(table.scroll_offset.y) == 0
        assert "u0" in row_texts(app)[0]


@pytest.mark.parametrize("size", [(80, 24), (120, 36)], ids=["80x24", "120x36"])
async def test_a_dead_or_stale_worker_stays_in_the_header_uncut(size: tuple[int, int]) -> None:
    fake = FakeConsole(
        [task(1, LDAP, uid="corp-ad")],
        report=workers(
            ("authentik-worker-7d9f8c6b5-6jpvy", "2026.5.0", 12, True),
            ("authentik-worker-7d9f8c6b5-k4t8m", "2026.5.0", 40, False),
            ("authentik-worker-7d9f8c6b5-a1b2c", "2026.5.0", 600, False),
        ),
    )
    app = fake_app(fake)
    async with app.run_test(size=size) as pilot:
        expected = "⚠ 1 stale worker · 1 dead worker — w: details"
        await wait_for(pilot, lambda: expected in header_text(app), what="the workers' alarm")
        fake.put(task(2, LDAP, uid="later"))  # news and redraws do not take it away
        await wait_for(pilot, lambda: len(main_rows(app)) == 2, what="a redraw")
        app.main_screen.refresh_workers()
        await pilot.pause(0.3)
        assert expected in header_text(app)
        fake.report = workers(("authentik-worker-7d9f8c6b5-6jpvy", "2026.5.0", 12, True))  # the rows are gone
        app.main_screen.refresh_workers()
        await wait_for(pilot, lambda: "⚠" not in header_text(app), what="the alarm gone with the rows")


def header_text(app: TaskTuiApp) -> str:
    """The header as drawn: an alarm cut at the width would end in "…"."""
    header = app.main_screen.query_one(StatusHeader)
    return "\n".join("".join(s.text for s in header.render_line(y)).rstrip() for y in range(header.size.height))


LONG_ERROR = (
    "LDAPSocketOpenError: socket connection error while opening: [Errno 111] Connection refused"
    " (ldaps://corp-ad.example.com:636)"
)


def rejected_with_errors(count: int) -> FakeConsole:
    """`count` rejected tasks, each with an error of its own; the newest has a long one."""
    fake = FakeConsole([task(200 + i, LDAP, uid=f"source-{i}", state="rejected", minutes_ago=i) for i in range(count)])
    fake.errors = {task(200 + i).message_id: f"ValueError: bad thing number {i}" for i in range(1, count)}
    fake.errors[task(200).message_id] = LONG_ERROR
    return fake


def _preview_lines(app: TaskTuiApp) -> list[str]:
    """The bulk preview's box as drawn (what is in view, scrolled as it is)."""
    box = app.screen.query_one(VerticalScroll)
    region = box.content_region
    text = screen_text(app).splitlines()
    return [line[region.x : region.right] for line in text[region.y : region.bottom]]


@pytest.mark.parametrize("keys", [("down",) * 50, ("j",) * 50, ("pagedown",) * 6, ("end",), ("tab", "end")])
async def test_the_bulk_preview_scrolls_at_80x24_to_the_errors_and_the_newest(keys: tuple[str, ...]) -> None:
    app = fake_app(rejected_with_errors(14))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: len(main_rows(app)) == 14, what="the rejected tasks")
        await pilot.press("B")
        await wait_for(
            pilot, lambda: isinstance(app.screen, BulkRetryScreen) and app.screen.preview is not None, what="preview"
        )
        await pilot.pause()
        assert "At 10/s" not in "\n".join(_preview_lines(app)), "the preview is longer than the box"
        await pilot.press(*keys)
        await wait_for(pilot, lambda: "At 10/s" in screen_text(app), what="the end of the newest tasks in view")
        await pilot.press("home")
        await wait_for(pilot, lambda: "By error" in screen_text(app), what="back up to the error groups")
        # Error groups beyond the first ten are counted, not cut silently.
        text = app.screen.query_one("#bulk-preview", Static).render()
        assert "… and 4 more" in str(text)


async def test_wrapped_error_text_continues_under_the_text_not_at_column_0() -> None:
    app = fake_app(rejected_with_errors(2))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: len(main_rows(app)) == 2, what="the rejected tasks")
        await pilot.press("B")
        await wait_for(
            pilot, lambda: isinstance(app.screen, BulkRetryScreen) and app.screen.preview is not None, what="preview"
        )
        await pilot.pause()
        static = app.screen.query_one("#bulk-preview", Static)
        lines = ["".join(seg.text for seg in static.render_line(y)) for y in range(static.size.height)]
        group = next(i for i, line in enumerate(lines) if "LDAPSocketOpenError" in line and " / " in line)
        name_at = lines[group].index("LDAPSocketOpenError")
        continuation = lines[group + 1]
        assert continuation[:name_at].strip() == "" and continuation[name_at:].strip(), lines[group : group + 2]
        sample = next(i for i, line in enumerate(lines) if line.strip().startswith("LDAPSocketOpenError"))
        text_at = lines[sample].index("LDAPSocketOpenError")
        assert lines[sample + 1][:text_at].strip() == "" and lines[sample + 1].strip(), lines[sample : sample + 2]


async def test_the_bulk_preview_is_wrapped_once_also_when_its_scrollbar_comes() -> None:
    """Wrapped for the room left by the scrollbar a long preview gets: a line 1 cell too long
    would be wrapped again by the box, at column 0 (seen at 80x24 on the demo, where the preview
    comes after the dialog is laid out)."""
    fake = rejected_with_errors(14)
    fake.slow("preview_bulk_retry", 0.5)
    app = fake_app(fake)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: len(main_rows(app)) == 14, what="the rejected tasks")
        await pilot.press("B")
        await wait_for(
            pilot, lambda: isinstance(app.screen, BulkRetryScreen) and app.screen.preview is not None, what="preview"
        )
        await pilot.pause(0.3)
        assert app.screen.query_one(VerticalScroll).show_vertical_scrollbar, "a preview longer than the box"
        static = app.screen.query_one("#bulk-preview", Static)
        given = str(static.content).splitlines()
        assert any(line.startswith("   ") for line in given), "some lines were wrapped with a hanging indent"
        assert static.size.height == len(given), "the box wrapped some lines again"


async def test_a_bulk_preview_that_fails_says_only_that() -> None:
    fake = rejected_with_errors(2)
    fake.fail("preview_bulk_retry", ConnectionFailed("cannot reach the server at db: connection lost"))
    app = fake_app(fake)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: len(main_rows(app)) == 2, what="the rejected tasks")
        await pilot.press("B")
        await wait_for(pilot, lambda: "preview failed" in screen_text(app), what="the failure")
        await pilot.pause()
        assert "previewing" not in screen_text(app)


async def test_the_cli_preview_wraps_at_the_terminal_width_under_the_text() -> None:
    """`retry --filter --dry-run` on a terminal prints the same text wrapped at its width (on a
    pipe, lines stay whole)."""
    fake = rejected_with_errors(2)
    preview = await fake.preview_bulk_retry(TaskFilter(hide_successful=False))
    assert all(len(line) <= 60 for line in bulk_preview_text(preview, 10, 60).splitlines())
    lines = bulk_preview_text(preview, 10, 60).splitlines()
    for index, line in enumerate(lines[:-1]):
        if "LDAPSocketOpenError" in line:
            at = line.index("LDAPSocketOpenError")
            assert lines[index + 1][:at].strip() == "" and lines[index + 1][at:].strip(), lines[index : index + 2]
    assert LONG_ERROR in bulk_preview_text(preview, 10, None)


DEMO_DSN = "postgresql://postgres@/postgres?host=/tmp/tasktui-demo-k2w8fu8q/socket&port=5432"


@pytest.mark.parametrize("size", [(80, 24), (120, 36)], ids=["80x24", "120x36"])
async def test_the_connection_string_is_in_help_and_the_palette_whole_and_no_toast(size: tuple[int, int]) -> None:
    app = fake_app(FakeConsole([task(1, LDAP)]), connection=DEMO_DSN)
    async with app.run_test(size=size, notifications=True) as pilot:
        await wait_for(pilot, lambda: len(main_rows(app)) == 1, what="the table")
        assert not app._notifications, "no toast over the table"
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        await pilot.pause()
        if size[0] > 80:  # at 80 columns help's box is narrower than this DSN: the palette's dialog is not
            assert DEMO_DSN in _lines_without_borders(app)
        else:
            assert "Connection string" in screen_text(app)
        await pilot.press("escape")
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"connection")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConnectionScreen), what="the dialog")
        await pilot.pause()
        assert DEMO_DSN in _lines_without_borders(app), "on one line, not broken mid-token"


def _lines_without_borders(app: TaskTuiApp) -> str:
    return "\n".join(line.strip(" │╭╮╰╯─▊▎") for line in screen_text(app).splitlines())


async def test_a_notice_never_covers_a_dialog() -> None:
    rejected = task(1, LDAP, uid="corp-ad", state="rejected")
    app = fake_app(FakeConsole([rejected]))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await wait_for(pilot, lambda: len(main_rows(app)) == 1, what="the table")
        await pilot.press("y")
        await wait_for(pilot, lambda: "OSC 52" in screen_text(app), what="the copy notice")
        await pilot.press("R")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmRetryModal), what="the confirmation")
        await pilot.pause()
        assert "OSC 52" not in screen_text(app), "the notice went when the dialog opened"
        app.notify("something happened meanwhile")
        await pilot.pause(0.5)
        assert "something happened" not in screen_text(app)
        await pilot.press("escape")
        await wait_for(pilot, lambda: "something happened" in screen_text(app), what="said once it closed")


# -- at 80 columns ---------------------------------------------------------------------------


async def test_a_short_message_id_column_fits_at_80_columns() -> None:
    mid = "3f2b8c1e-9a4d-4c6e-8f10-2b7d5e9a0c41"
    app = fake_app(FakeConsole([task(1, LDAP, uid="corp-ad", mid=mid)]))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: main_rows(app) == [mid], what="the row")
        header = next(line for line in screen_text(app).splitlines() if line.startswith("Status"))
        assert "Msg id" in header
        (row,) = row_texts(app)
        assert row.rstrip().endswith(mid[:8]), row
        assert "ldap.tasks.ldap_sync:corp-ad" in row, "the actor keeps most of its room"


async def test_an_actor_sort_reads_sorted_at_80_columns() -> None:
    # Names that differ at the start and are long enough to be cut at 80 columns.
    actors = [f"authentik.{name}.tasks.a_rather_long_task_name_to_be_cut" for name in ("zeta", "alpha", "mid")]
    app = fake_app(FakeConsole([task(i + 1, actor, uid="x" * 12, minutes_ago=i) for i, actor in enumerate(actors)]))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: len(main_rows(app)) == 3, what="three rows")
        while app.main_screen.sort.column != "actor":
            await pilot.press("o")
        await pilot.pause()
        shown = [line[line.index("authentik") :] if "authentik" in line else line for line in row_texts(app)]
        assert all(text.startswith("authentik.") for text in shown), shown  # cut at the end: the sort key shows
        assert [text.split(".")[1] for text in shown] == ["alpha", "mid", "zeta"]
        await pilot.press("o")  # another sort: the start is cut again, the distinctive end shows
        await pilot.pause()
        assert all("…" in row and "_to_be_cut" in row for row in row_texts(app))


async def test_the_queue_and_tenant_facets_show_counts() -> None:
    rows = [
        task(1, LDAP, queue="default", tenant="Acme"),
        task(2, LDAP, queue="default", tenant="Default"),
        task(3, LDAP, queue="slow", tenant="Acme"),
        task(4, LDAP, queue="default", tenant="Acme"),
    ]
    app = fake_app(FakeConsole(rows))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: len(main_rows(app)) == 4, what="four rows")
        await pilot.press("f")
        await wait_for(pilot, lambda: isinstance(app.screen, FacetScreen), what="the facets")
        await pilot.pause()

        def prompts(selector: str) -> list[str]:
            options = app.screen.query_one(selector, SelectionList)
            return [" ".join(str(options.get_option_at_index(i).prompt).split()) for i in range(options.option_count)]

        assert prompts("#facet-queue") == ["default 3", "slow 1"]
        assert prompts("#facet-tenant") == ["Acme 3", "Default 1"]


async def test_the_paused_header_keeps_the_database_name_whole_at_80_columns() -> None:
    app = fake_app(FakeConsole([task(1, LDAP, uid="corp-ad")]), label=LABEL)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: len(main_rows(app)) == 1, what="the row")
        await pilot.press("space")
        app.main_screen.header_state.buffered = 1234
        app.main_screen.show_header()
        await pilot.pause()
        first = screen_text(app).splitlines()[0]
        # Whole, and then the zone of the times where it fits.
        assert "PAUSED" in first and "1,234 buffered" in first and first.rstrip().endswith(f"{LABEL}  UTC"), first


async def test_the_search_box_and_the_filter_line_are_whole_at_80_columns() -> None:
    app = fake_app(FakeConsole([task(1, LDAP, uid="corp-ad")]))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: len(main_rows(app)) == 1, what="the row")
        await pilot.press("slash")
        await pilot.pause()
        assert PLACEHOLDER in screen_text(app)
        await pilot.press(*"ldap")
        await wait_for(pilot, lambda: "/ldap" in screen_text(app), what="the filter line")
        info = next(line for line in screen_text(app).splitlines() if " loaded · " in line)
        assert info.strip().endswith("/ldap · hiding successful"), info


async def test_the_sparkline_is_labelled_as_the_rate_history() -> None:
    fake = FakeConsole([task(1, LDAP)])
    fake.rate_value = [0] * 40 + [2, 5, 3, 0, 1, 7, 12, 9, 4, 2, 1, 0, 3, 6, 2, 1, 0, 2, 4, 3]
    app = fake_app(fake)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: "changes/s" in screen_text(app), what="the rate")
        counts = next(line for line in screen_text(app).splitlines() if "changes/s" in line)
        assert re.search(r"4 changes/s  last \d+s [▁▂▃▄▅▆▇█]{6,}$", counts.rstrip()), counts


async def test_e_on_the_only_error_says_so_once_and_stays() -> None:
    """Seen by a new user: with one error line, under the cursor, every e went 'round' to it and
    stacked another 'no later error or warning: the first, from the start'."""
    fake, mid = rejected_after_a_retry()
    rows = fake.logs[mid].current
    rows[:] = [line for line in rows if line.level not in ("error", "warning")]
    rows.append(log_line(mid, 99, "the one failure", level="error"))
    app = fake_app(fake)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        screen = await open_detail(pilot, mid)
        view = screen.current_view
        await wait_for(
            pilot, lambda: view.loaded and view.entries[view.cursor].line.event == "the one failure", what="on it"
        )
        for _ in range(3):
            await pilot.press("e")
            await pilot.pause(0.2)
        await wait_for(pilot, lambda: "only error or warning" in screen_text(app), what="said it is the only one")
        assert screen_text(app).count("only error or warning") == 1
        assert "from the start" not in screen_text(app)
        assert view.entries[view.cursor].line.event == "the one failure"


async def test_the_detail_hint_line_is_not_cut_at_80_columns_and_the_first_e_finds_the_first_error() -> None:
    fake, mid = rejected_after_a_retry()
    rows = fake.logs[mid].current
    # An error first, then a long tail: the detail opens on the last line, below both errors.
    rows[:0] = [log_line(mid, 1, "the first failure", level="error")]
    app = fake_app(fake)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = await open_detail(pilot, mid)
        view = screen.current_view
        await wait_for(pilot, lambda: view.loaded and len(view.entries) == 4, what="the logs")
        hint = app.screen.query_one("#detail-help", Static)
        hint_text = str(hint.render())
        assert "…" not in hint_text and hint_text.endswith("? all keys") and "e Next problem" in hint_text
        assert len(hint_text) <= 78
        await wait_for(pilot, lambda: view.cursor == 3, what="opened on the last line")
        await pilot.press("e")
        await wait_for(pilot, lambda: view.entries[view.cursor].line.event == "the first failure", what="the first")
        await wait_for(pilot, lambda: "from the start" in screen_text(app), what="said where it went")
