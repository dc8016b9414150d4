"""The task table's sort and ids and the facet picker, as a new user meets them at 80×24 and
120×36: the real console driven through Pilot on the fake service, asserting what is on screen."""

from __future__ import annotations

import pytest

from tasktui.ui.screens.facets import FacetScreen
from tasktui.ui.widgets.task_table import TaskRows
from tests.fake_console import FakeConsole, message_id, task
from tests.ui_helpers import fake_app, row_texts, screen_text, wait_for

SIZES = [(80, 24), (120, 36)]
SIZE_IDS = ["80x24", "120x36"]


def _ids_on_screen(app) -> list[str]:
    return [r.message_id for r in app.main_screen.query_one(TaskRows).rows]


def _header(app) -> str:
    """The table's header line as drawn (no modal open)."""
    return next(line for line in screen_text(app).splitlines() if line.startswith("Status"))


def _status_line(app) -> str:
    return next(line for line in screen_text(app).splitlines() if " loaded · " in line)


def _tasks_with_retries(retries: list[int]) -> FakeConsole:
    return FakeConsole(
        [
            task(i + 1, f"authentik.sort.t{i}", retries=count, minutes_ago=len(retries) - i)
            for i, count in enumerate(retries)
        ]
    )


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
async def test_sorting_by_retries_shows_the_arrow_on_the_narrow_column(size) -> None:
    ids = [message_id(1), message_id(2), message_id(3)]
    app = fake_app(_tasks_with_retries([1, 7, 3]))
    async with app.run_test(size=size) as pilot:
        await wait_for(pilot, lambda: set(ids) <= set(_ids_on_screen(app)), what="tasks loaded")
        while app.main_screen.sort.column != "retries":
            await pilot.press("o")
        # The three-cell "Try" column makes room for its arrow rather than showing "Tr…".
        await wait_for(pilot, lambda: "Try ▼" in _header(app), what="Try ▼ in the header")
        assert "Tr…" not in screen_text(app)
        assert "sorted by retries ↓" in _status_line(app)
        assert _ids_on_screen(app) == [ids[1], ids[2], ids[0]]
        # Each row's count sits under the widened title, right-aligned with it.
        column = _header(app).index("Try ▼") + len("Try ▼") - 1
        assert [line[column] for line in row_texts(app)] == ["7", "3", "1"]
        await pilot.press("i")
        await wait_for(pilot, lambda: "Try ▲" in _header(app), what="Try ▲ after inverting")
        assert "sorted by retries ↑" in _status_line(app)
        assert _ids_on_screen(app) == [ids[0], ids[2], ids[1]]


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((80, 24), ["retries", "message_id", "status", "actor", "mtime"]),
        ((120, 36), ["retries", "tenant", "eta", "queue", "message_id", "status", "actor", "mtime"]),
    ],
    ids=SIZE_IDS,
)
async def test_sort_cycles_through_the_columns_on_screen_only(size, expected) -> None:
    app = fake_app(_tasks_with_retries([0, 2]))
    async with app.run_test(size=size) as pilot:
        await wait_for(pilot, lambda: len(_ids_on_screen(app)) == 2, what="tasks loaded")
        seen = []
        for _ in expected:
            await pilot.press("o")
            seen.append(app.main_screen.sort.column)
            # Whatever the sort, the header marks its column: no order without a visible reason.
            await wait_for(pilot, lambda: "▲" in _header(app) or "▼" in _header(app), what="an arrow in the header")
        assert seen == expected


async def test_a_sort_column_hidden_by_a_resize_is_named_on_the_status_line() -> None:
    ids = ["bbbbbbbb-0000-4000-8000-000000000000", "aaaaaaaa-0000-4000-8000-000000000000"]
    app = fake_app(FakeConsole([task(i, "authentik.by.id", mid=mid, minutes_ago=2 - i) for i, mid in enumerate(ids)]))
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: set(ids) <= set(_ids_on_screen(app)), what="tasks loaded")
        while app.main_screen.sort.column != "message_id":
            await pilot.press("o")
        await wait_for(pilot, lambda: "Msg id ▲" in _header(app), what="Msg id ▲")
        assert "sorted by message id ↑" in _status_line(app)
        await pilot.resize_terminal(60, 24)
        # The id column is gone at 60 columns; the status line still says what the order is.
        await wait_for(pilot, lambda: "Msg id" not in _header(app), what="id column dropped at 60 columns")
        assert "▲" not in _header(app) and "▼" not in _header(app)
        assert "sorted by message id ↑" in _status_line(app)
        assert _ids_on_screen(app) == sorted(ids)
        # `o` goes on from a column on screen.
        await pilot.press("o")
        await wait_for(pilot, lambda: "Status ▲" in _header(app), what="Status ▲")


async def test_message_id_prefix_is_on_screen_at_120_columns_and_whole_when_wide() -> None:
    message_id = "3f2b8c1e-9a4d-4c6e-8f10-2b7d5e9a0c41"
    app = fake_app(FakeConsole([task(1, "authentik.sources.ldap.tasks.ldap_sync", uid="corp", mid=message_id)]))
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: message_id in _ids_on_screen(app), what="task loaded")
        await wait_for(pilot, lambda: "Msg id" in _header(app), what="short id column")
        (row,) = row_texts(app)
        assert row.endswith(f" {message_id[:8]}"), row
        assert message_id not in row
        # The actor keeps the width it needs, and every other column still fits.
        assert "authentik.sources.ldap.tasks.ldap_sync:corp" in row
        for title in ("Status", "Actor:uid", "Changed", "Try", "Tenant", "ETA", "Queue"):
            assert title in _header(app)
        await pilot.resize_terminal(200, 36)
        await wait_for(pilot, lambda: "Message id" in _header(app), what="full id column")
        (row,) = row_texts(app)
        assert row.endswith(f" {message_id}"), row
        assert "Msg id" not in _header(app)


async def _open_facets(pilot) -> FacetScreen:
    await pilot.press("f")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, FacetScreen), what="facet picker")
    await pilot.pause()
    return pilot.app.screen


def _modal_lines(app) -> list[str]:
    """The facet picker's lines, without what the table shows beside the box."""
    lines = []
    for line in screen_text(app).splitlines():
        if "│" in line:
            lines.append(line[line.index("│") + 1 : line.rindex("│")].strip())
    return lines


def _list_line(app, text: str) -> str:
    (line,) = [line for line in _modal_lines(app) if text in line]
    return line


def _actor_entries(app) -> list[tuple[str, str, bool]]:
    """(name as shown, count, ticked) for each line of the actor list, beside the status list."""
    entries = []
    for line in _modal_lines(app):
        if "▔ Queue ▔" in line:
            break  # the queue and tenant lists below
        cells = line.split("▎")
        if len(cells) == 3 and cells[0].startswith("▊ ▐") and cells[1].startswith("▊ ▐"):
            toggle, _, text = cells[1].removeprefix("▊ ").partition("▌")
            name, _, count = text.strip().partition(" ")
            entries.append((name, count.strip(), "✓" in toggle))
    return entries


async def test_facet_picker_fits_80_columns() -> None:
    app = fake_app(FakeConsole([task(1, "authentik.x")]))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: len(_ids_on_screen(app)) == 1, what="task loaded")
        await _open_facets(pilot)
        lines = _modal_lines(app)
        # The whole hint, on the box's border, and the related-object input in a box of its own
        # (title above, how to write it below) under the lists, all without scrolling.
        assert "Space toggles · Tab moves · ctrl+s applies · Esc cancels" in screen_text(app)
        (title,) = [n for n, line in enumerate(lines) if "Related object" in line]
        assert "e.g. authentik_sources_ldap.ldapsource" in lines[title + 1]
        assert "app.model or app.model:id, substring · Enter applies" in lines[title + 2]
        # Every status readable, none cut: the key is dropped where the label says it all,
        # and kept where two statuses share a label.
        for label in ("Warning", "Running", "Pre-processing", "Post-processing", "Consumed", "Waiting to run"):
            assert _list_line(app, label)
        for shared in ("Error (rejected)", "Error (error)", "Successful (info)", "Successful (done)"):
            assert _list_line(app, shared)
        status_lines = [line for line in lines if "▐" in line]
        assert status_lines and not any("…" in line.split("▎")[0] for line in status_lines)
        for border_title in ("Status", "Actor", "Queue", "Tenant"):
            assert any(f"▔ {border_title} ▔" in line for line in lines), border_title
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, FacetScreen), what="picker closed")


async def test_facet_picker_at_120_columns_names_status_keys() -> None:
    app = fake_app(FakeConsole([task(1, "authentik.x")]))
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: len(_ids_on_screen(app)) == 1, what="task loaded")
        await _open_facets(pilot)
        # With room, the key the filter line will show comes with the label, where it differs.
        for text in ("Pre-processing (preprocess)", "Post-processing (postprocess)", "Waiting to run (queued)"):
            assert _list_line(app, text)
        assert "Warning (warning)" not in screen_text(app)


ENDS = ("clean_expired_models", "directory_of_users_and_groups", "users_and_groups_page")


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
async def test_actor_facet_filters_by_exact_actor(size) -> None:
    # Long enough to be cut at 80 columns: the picker keeps the end, where actors differ.
    ldap = "authentik.sources.ldap.tasks.ldap_sync_directory_of_users_and_groups"
    rows = [task(1, ldap, uid="a"), task(2, ldap, uid="b")]
    # An actor whose name contains the other's: an exact facet, not a substring search.
    rows += [task(3, ldap + "_page"), task(4, "authentik.core.tasks.clean_expired_models")]
    ldap_ids = [rows[0].message_id, rows[1].message_id]
    app = fake_app(FakeConsole(rows))
    async with app.run_test(size=size) as pilot:
        await wait_for(pilot, lambda: len(_ids_on_screen(app)) == 4, what="tasks loaded")
        screen = await _open_facets(pilot)
        # Sorted by name, each with how many loaded tasks it has; a cut name keeps its end.
        await wait_for(pilot, lambda: all(e[1] for e in _actor_entries(app)), what="counts in the actor list")
        entries = _actor_entries(app)
        assert len(entries) == len(ENDS), entries
        assert [
            (name.endswith(end), count, ticked) for (name, count, ticked), end in zip(entries, ENDS, strict=True)
        ] == [
            (True, "1", False),
            (True, "2", False),
            (True, "1", False),
        ], entries
        screen.query_one("#facet-actor").focus()
        await pilot.press("down", "space")
        await wait_for(pilot, lambda: [e[2] for e in _actor_entries(app)] == [False, True, False], what="a tick")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: sorted(_ids_on_screen(app)) == sorted(ldap_ids), what="actor facet")
        await wait_for(pilot, lambda: "actor=authentik.sources" in _status_line(app), what="actor= on the status line")
        assert app.main_screen.task_filter.actors == {ldap}
        # Opened again, the picker shows the actor still picked.
        await _open_facets(pilot)
        assert [e[2] for e in _actor_entries(app)] == [False, True, False]
