"""`e` / `E` in the task detail: jump to the next / previous error or warning line without loading
the log — in the core (find_problem, fetch_around, on real PostgreSQL: the task log table and
2025.8's JSON lists) and through Pilot on the fake service, for the current attempt and the
previous ones. (The service's jumps in 2025.8's lists: tests/test_console_service.py.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
from psycopg.types.json import Jsonb

from tasktui.core.logs import PROBLEM_LEVELS, LogLine, fetch_around, fetch_logs, find_problem
from tasktui.core.session import Session
from tasktui.demo import broker
from tasktui.ui.app import TaskTuiApp
from tasktui.ui.widgets.log_view import PAGE, LogView
from tests.fake_console import FakeConsole, TaskLogs, detail, task
from tests.fake_console import line as fake_line
from tests.retry_helpers import LDAP_SYNC
from tests.test_task_detail import open_detail
from tests.ui_helpers import fake_app, screen_text, wait_for

ACTOR = LDAP_SYNC

# `count` lines 'line 1' … 'line N', 1 ms apart from `base`, all info except `problems`:
# {i: {"level": …, "event": …, "attributes": {…}}} (as JSON, looked up per row in SQL).
INSERT_LINES = """
INSERT INTO authentik_tasks_tasklog (id, event, log_level, logger, "timestamp", attributes, previous, task_id)
SELECT gen_random_uuid(), COALESCE(x.p ->> 'event', 'line ' || i), COALESCE(x.p ->> 'level', 'info'),
       'authentik.bulk', %(base)s::timestamptz + i * interval '1 ms',
       COALESCE(x.p -> 'attributes', jsonb_build_object('i', i)), %(previous)s, %(mid)s
FROM generate_series(1, %(count)s) AS i
CROSS JOIN LATERAL (SELECT %(problems)s::jsonb -> i::text AS p) AS x
"""

# The same as one 2025.8 JSON list (sanitize_item's timestamps: ISO with "Z").
LEGACY_LIST = """
SELECT jsonb_agg(jsonb_build_object(
           'event', COALESCE(x.p ->> 'event', 'line ' || i), 'log_level', COALESCE(x.p ->> 'level', 'info'),
           'logger', 'authentik.legacy',
           'timestamp', to_char((%(base)s::timestamptz + i * interval '1 ms') AT TIME ZONE 'UTC',
                                'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
           'attributes', COALESCE(x.p -> 'attributes', jsonb_build_object('i', i))) ORDER BY i)
FROM generate_series(1, %(count)s) AS i
CROSS JOIN LATERAL (SELECT %(problems)s::jsonb -> i::text AS p) AS x
"""


def problem(level: str, event: str, **attributes: object) -> dict:
    return {"level": level, "event": event, **({"attributes": attributes} if attributes else {})}


async def insert_lines(
    conn: psycopg.AsyncConnection, mid: str, count: int, problems: dict[int, dict], *, previous: bool, base: datetime
) -> None:
    params = {"mid": mid, "count": count, "problems": Jsonb({str(i): p for i, p in problems.items()})}
    await conn.execute(INSERT_LINES, params | {"previous": previous, "base": base})
    await conn.execute("ANALYZE authentik_tasks_tasklog")


async def legacy_list(conn: psycopg.AsyncConnection, count: int, problems: dict[int, dict], base: datetime) -> Jsonb:
    params = {"count": count, "problems": Jsonb({str(i): p for i, p in problems.items()}), "base": base}
    return Jsonb((await (await conn.execute(LEGACY_LIST, params)).fetchone())[0])


def cursor_row(view: LogView) -> str:
    """The text of the row the cursor is drawn on; fails unless that row is in view."""
    top, height = int(view.scroll_offset.y), view.scrollable_content_region.height
    y = view._starts[view.cursor] - top  # the first row of the cursor's block
    assert 0 <= y < height, f"the cursor's line is not in view (row {y} of {height})"
    return "".join(segment.text for segment in view.render_line(y))


async def press_and_land(pilot, key: str, event: str) -> None:
    """Press `key` and wait until the cursor is on the line `event`, drawn in view."""
    app: TaskTuiApp = pilot.app
    view = app.screen.current_view
    await pilot.press(key)
    await wait_for(pilot, lambda: view.current is not None and view.current.line.event == event, what=event)
    await pilot.pause()
    assert event in cursor_row(view)
    await wait_for(pilot, lambda: event in screen_text(app), what=f"{event} on screen")


async def press_and_go_round(pilot, key: str, event: str) -> None:
    """Press `key` past the last problem (the first, with E): the cursor goes round to the line
    `event` at the other end, and the screen says so."""
    app: TaskTuiApp = pilot.app
    app.clear_notifications()
    await press_and_land(pilot, key, event)
    said = "the last, from the end" if key == "E" else "the first, from the start"
    await wait_for(pilot, lambda: any(said in note.message for note in app._notifications), what=said)


# -- core --------------------------------------------------------------------------------------


async def test_find_problem_walks_every_level_that_counts_across_both_sources(session: Session) -> None:
    conn = session.conn
    mid = await broker.enqueue(conn, ACTOR, tenant_id=await broker.default_tenant(conn))
    base = datetime(2026, 1, 15, 10, tzinfo=UTC)
    # The task log table and, on the same task, a legacy list whose lines fall between its lines.
    tasklog = {
        10: problem("warning", "tl warning"),
        20: problem("ERROR", "tl upper-case error"),
        30: problem("debug", "tl debug"),
        40: problem("critical", "tl critical"),
    }
    await insert_lines(conn, mid, 50, tasklog, previous=False, base=base)
    await insert_lines(conn, mid, 50, {25: problem("error", "tl previous error")}, previous=True, base=base)
    legacy = {15: problem("error", "legacy error"), 35: problem("info", "legacy info")}
    messages = await legacy_list(conn, 50, legacy, base + timedelta(microseconds=500))
    await conn.execute("UPDATE authentik_tasks_task SET _messages = %s WHERE message_id = %s", (messages, mid))
    assert {"warning", "error", "critical"} <= PROBLEM_LEVELS and "debug" not in PROBLEM_LEVELS

    expected = ["tl warning", "legacy error", "tl upper-case error", "tl critical"]
    found, cursor = [], None
    while (line := await find_problem(session, mid, cursor=cursor)) is not None:
        found.append(line.event)
        cursor = line.cursor
    assert found == expected
    found, cursor = [], None
    while (line := await find_problem(session, mid, cursor=cursor, backward=True)) is not None:
        found.append(line.event)
        cursor = line.cursor
    assert found == expected[::-1]
    only = await find_problem(session, mid, previous=True)
    assert only is not None and only.event == "tl previous error" and only.previous
    assert await find_problem(session, mid, previous=True, cursor=only.cursor) is None

    # The window around a line: the same lines as paging there, the line in the middle.
    target = await find_problem(session, mid, cursor=(await find_problem(session, mid)).cursor)
    assert target is not None and target.event == "legacy error"
    window = await fetch_around(session, mid, target, limit=11)
    assert window.lines[window.index].cursor == target.cursor and window.index == 5 and len(window.lines) == 11
    assert window.has_before and window.has_after
    everything = (await fetch_logs(session, mid, limit=1000)).lines
    start = [line.cursor for line in everything].index(window.lines[0].cursor)
    assert [line.cursor for line in window.lines] == [line.cursor for line in everything[start : start + 11]]


# -- the screen (on the fake service: the same keyset pages, in memory) ------------------------


def _fake_lines(mid: str, count: int, problems: dict[int, dict], *, previous: bool, start: int) -> list[LogLine]:
    lines = []
    for i in range(1, count + 1):
        spec = problems.get(i, {})
        lines.append(
            fake_line(
                mid,
                start + i,
                spec.get("event", f"line {i}"),
                level=spec.get("level", "info"),
                logger="authentik.bulk",
                previous=previous,
                attributes=spec.get("attributes", {"i": i}),
            )
        )
    return lines


async def test_e_and_shift_e_jump_through_20000_lines_without_loading_them() -> None:
    row = task(1, ACTOR, uid="jumpy")
    mid = row.message_id
    problems = {
        2_000: problem("warning", "disk almost full"),
        2_003: problem("error", "bind refused"),  # three lines on: in the same window as the warning
        9_000: problem("debug", "not a problem"),
        15_000: problem("error", "server down", **broker.exception_attributes("LDAPException", "server down")),
    }
    lines = [fake_line(mid, 0, "Task has been queued"), *_fake_lines(mid, 20_000, problems, previous=False, start=0)]
    fake = FakeConsole([row], details=[detail(row)], logs={mid: TaskLogs(lines)})
    app = fake_app(fake)
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        screen = await open_detail(pilot, mid)
        view = screen.current_view
        assert view.current.line.event == "line 20000"  # the tail; no error in its page
        # No later one: e goes round to the first, and says so (the detail opens on the last line).
        await press_and_go_round(pilot, "e", "disk almost full")
        await pilot.press("end")
        await wait_for(pilot, lambda: view.current.line.event == "line 20000", what="the tail again")
        # Back through the log, each jump one query and a window around its line.
        await press_and_land(pilot, "E", "server down")
        assert "LDAPException: server down" in screen_text(app)  # its traceback shows too
        # One window around it, and no page asked for on top: the view opened where the line is.
        assert len(view.entries) <= PAGE and not view.pending_edges and view.has_before and view.has_after
        assert f"of {20_001:,} lines loaded" in screen_text(app)
        await press_and_land(pilot, "E", "bind refused")  # the debug line in between is skipped
        window = view.entries[0]
        await press_and_land(pilot, "E", "disk almost full")
        assert view.entries[0] is window  # found in the window: nothing was reloaded
        await press_and_go_round(pilot, "E", "server down")
        # And forward again, like vim's n after N, round to the first.
        await press_and_go_round(pilot, "e", "disk almost full")
        await press_and_land(pilot, "e", "bind refused")
        await press_and_land(pilot, "e", "server down")
        # From the first page, the first problem is past the window: a query again.
        await pilot.press("home")
        await wait_for(pilot, lambda: view.entries[0].line.event == "Task has been queued", what="first page")
        await press_and_land(pilot, "e", "disk almost full")
        assert view.has_before and view.has_after
        # The window pages in from a jump's window as from any other: scrolling up joins up.
        first = view.entries[0]
        view.select(0)
        await wait_for(pilot, lambda: view.entries[0] is not first and not view.pending_edges, what="the page before")
        events = [entry.line.event for entry in view.entries if entry.line.event.startswith("line ")]
        numbers = [int(event.split()[1]) for event in events]
        assert numbers == [n for n in range(numbers[0], numbers[-1] + 1) if n not in problems]


async def test_jumps_in_the_previous_attempts_stay_in_them() -> None:
    row = task(1, ACTOR, uid="retried")
    mid = row.message_id
    previous = {
        3_000: problem("error", "first try timed out"),
        16_000: problem("warning", "slow bind to ldap://dc1"),
    }
    logs = TaskLogs(
        current=_fake_lines(mid, 300, {10: problem("error", "this attempt failed")}, previous=False, start=30_000),
        previous=_fake_lines(mid, 20_000, previous, previous=True, start=0),
    )
    app = fake_app(FakeConsole([row], details=[detail(row)], logs={mid: logs}))
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        screen = await open_detail(pilot, mid)
        await pilot.press("p")
        await wait_for(pilot, lambda: screen.showing_previous and screen.current_view.loaded, what="previous")
        await pilot.press("home")
        view = screen.current_view
        await wait_for(pilot, lambda: view.entries[0].line.event == "line 1" and not view.has_before, what="start")
        await press_and_land(pilot, "e", "first try timed out")
        await press_and_land(pilot, "e", "slow bind to ldap://dc1")
        # The current attempt's error is later in time, but not in this attempt group.
        await press_and_go_round(pilot, "e", "first try timed out")
        await press_and_go_round(pilot, "E", "slow bind to ldap://dc1")
        assert all(entry.line.previous for entry in view.entries)
        # The current attempt's view jumps on its own lines.
        await pilot.press("p")
        await wait_for(pilot, lambda: not screen.showing_previous, what="current attempt")
        await press_and_land(pilot, "E", "this attempt failed")
