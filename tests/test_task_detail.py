"""The task detail screen on the fake service: Enter on a row, what is on screen, paging through
huge logs, live lines, untrusted text, failures, and going back. (What the service gives it from
a real database is tests/test_console_service.py.)"""

from __future__ import annotations

import os
import pickle
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tasktui.core.logs import ATTRIBUTES_ON_DEMAND, AttributesValue, LogCursor, LogLine
from tasktui.demo import broker
from tasktui.errors import ConnectionFailed
from tasktui.render import detail as rendered
from tasktui.ui.app import TaskTuiApp
from tasktui.ui.screens.task_detail import TaskDetailScreen
from tasktui.ui.widgets.log_view import MAX_LINES, PAGE
from tasktui.ui.widgets.task_table import TaskRows
from tests.fake_console import FakeConsole, TaskLogs, detail, line, task
from tests.ui_helpers import fake_app, main_rows, screen_text, wait_for

ACTOR = "authentik.sources.ldap.tasks.ldap_sync"
LDAP_OBJECT = ("authentik_sources_ldap.ldapsource", "42")


def rejected_after_a_retry(number: int = 1, **changes: object) -> tuple[FakeConsole, str]:
    """As tests/retry_helpers.rejected_after_a_retry makes it in a database: an LDAP sync whose
    first attempt timed out and was retried, and whose second failed for good."""
    row = replace(
        task(number, ACTOR, uid="corp-ldap", state="rejected", retries=1, related=LDAP_OBJECT, minutes_ago=3),
        **changes,
    )
    mid = row.message_id
    timeout = broker.exception_attributes("TimeoutError", "first try timed out")
    down = broker.exception_attributes("LDAPException", "server down")
    logs = TaskLogs(
        current=[
            line(mid, 4, "Task will be retried", attributes={"delay": 60000}),
            line(mid, 5, "Task is being processed"),
            line(mid, 6, "server down", level="error", attributes=down),
        ],
        previous=[
            line(mid, 1, "Task has been queued", previous=True, attributes={"delay": None}),
            line(mid, 2, "Task is being processed", previous=True),
            line(mid, 3, "first try timed out", level="error", previous=True, attributes=timeout),
        ],
    )
    found = detail(row, args=(7,), failure=("LDAPException", "server down"))
    return FakeConsole([row], details=[found], logs={mid: logs}), mid


async def open_detail(pilot, message_id: str) -> TaskDetailScreen:
    """Select the task in the table and press Enter, as a user would."""
    app: TaskTuiApp = pilot.app
    await wait_for(pilot, lambda: message_id in main_rows(app), what="task in the table")
    app.main_screen.query_one(TaskRows).move_to(main_rows(app).index(message_id))
    await pilot.press("enter")
    await wait_for(
        pilot,
        lambda: isinstance(app.screen, TaskDetailScreen) and app.screen.current_view.loaded,
        what="detail screen with its logs",
    )
    await pilot.pause()
    return app.screen


async def test_two_keys_from_a_red_row_to_the_exception_and_the_previous_attempts() -> None:
    fake, mid = rejected_after_a_retry()
    app = fake_app(fake)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_detail(pilot, mid)
        text = screen_text(app)
        # Right after Enter, on the smallest terminal: the failure, its traceback, where we are.
        assert "Error" in text and "ldap_sync:corp-ldap" in text
        assert "LDAPException: server down" in text
        assert "Traceback (most recent call last):" in text
        assert 'File "/authentik/sources/ldap/sync.py", line 88, in sync' in text
        assert "Current attempt: 3 lines" in text
        assert screen.current_view.current is not None and screen.current_view.current.line.event == "server down"
        assert "Previous attempts" in text.splitlines()[-1] or "p Previous attempts" in text
        # One key: the previous attempt, with the failure that caused the retry.
        await pilot.press("p")
        await wait_for(pilot, lambda: screen.showing_previous and screen.current_view.loaded, what="previous")
        await pilot.pause()
        text = screen_text(app)
        assert "Previous attempts: 3 lines" in text
        assert "TimeoutError: first try timed out" in text
        assert "first try timed out" in text and "Task has been queued" in text
        await pilot.press("p")
        await pilot.pause()
        await wait_for(pilot, lambda: "LDAPException: server down" in screen_text(app), what="the exception")


async def test_every_field_and_the_decoded_message_and_result() -> None:
    fake, mid = rejected_after_a_retry()
    app = fake_app(fake)
    async with app.run_test(size=(140, 44)) as pilot:
        await open_detail(pilot, mid)
        text = screen_text(app)
        for expected in (
            mid,
            ACTOR,
            "corp-ldap",
            "default",  # queue
            "Default",  # tenant name
            "authentik_sources_ldap.ldapsource:42",
            "rejected",
            "retries",
            "last change",
            "ago)",  # relative time next to the absolute one
            " UTC",
            "result expiry",
            f"{ACTOR}(7)",  # the decoded call
            "authentik.tenants.models.Tenant",  # a placeholder, never the real class
            "LDAPException: server down",
        ):
            assert expected in text, expected


async def test_finished_task_that_logged_an_error_says_authentik_shows_it_successful() -> None:
    row = task(1, "authentik.events.tasks.notification_transport", state="done", status="error")
    fake = FakeConsole([row], details=[detail(row)])
    app = fake_app(fake)
    async with app.run_test(size=(140, 44)) as pilot:
        await open_detail(pilot, row.message_id)
        text = screen_text(app)
        assert "Error [error] (stored: done)" in text
        assert "authentik shows Successful" in text


async def test_log_text_is_shown_literally_never_as_markup_or_escapes() -> None:
    row = task(1, "authentik.evil")
    evil = line(
        row.message_id,
        1,
        "[bold red]not markup[/] \x1b[31mred\x1b[0m \x1b]8;;http://x\x07link",
        logger="evil[/]logger",
        attributes={"payload": "\x1b[2J[blink]x[/blink]\u202eevil"},
    )
    fake = FakeConsole([row], details=[detail(row)], logs={row.message_id: TaskLogs([evil])})
    app = fake_app(fake)
    async with app.run_test(size=(160, 30)) as pilot:
        screen = await open_detail(pilot, row.message_id)
        await pilot.press("enter")  # expand the selected (last) line: its attributes as JSON
        await pilot.pause()
        text = screen_text(app)
        assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
        assert "[bold red]not markup[/] \\x1b[31mred\\x1b[0m \\x1b]8;;http://x\\x07link" in text
        assert "evil[/]logger" in text
        assert "[blink]x[/blink]\\u202eevil" in text  # JSON escaped ESC itself (\u001b), we the bidi override
        assert screen.current_view.current.expanded


async def test_legacy_2025_8_lines_are_marked() -> None:
    row = task(1, ACTOR, uid="legacy", state="done", status="warning")
    mid = row.message_id

    def legacy(number: int, event: str, level: str, previous: bool, **attributes: object) -> LogLine:
        made = line(
            mid, number, event, level=level, logger="authentik.legacy", previous=previous, attributes=attributes
        )
        return replace(made, cursor=replace(made.cursor, source=1 if not previous else 2))

    logs = TaskLogs(
        current=[
            legacy(2, "synced 3 users", "info", False),
            legacy(3, "2 users skipped", "warning", False, skipped=["a", "b"]),
        ],
        previous=[legacy(1, "earlier failure", "error", True, why="boom")],
    )
    app = fake_app(FakeConsole([row], details=[detail(row)], logs={mid: logs}))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_detail(pilot, mid)
        text = screen_text(app)
        assert "synced 3 users" in text and "2 users skipped" in text and "[legacy]" in text
        assert "Warning" in text
        await pilot.press("p")
        await wait_for(pilot, lambda: screen.current_view.loaded, what="previous attempts")
        await pilot.pause()
        text = screen_text(app)
        assert "earlier failure" in text and '{"why": "boom"}' in text


def _huge_log(count: int) -> tuple[FakeConsole, str]:
    row = task(1, ACTOR, uid="huge")
    mid = row.message_id
    lines = [line(mid, 0, "Task has been queued")]
    lines += [line(mid, i, f"line {i}", logger="authentik.bulk", attributes={"i": i}) for i in range(1, count + 1)]
    return FakeConsole([row], details=[detail(row)], logs={mid: TaskLogs(lines)}), mid


@pytest.mark.slow
async def test_100k_log_lines_open_with_one_page_and_page_in_as_you_scroll() -> None:
    fake, mid = _huge_log(100_000)
    app = fake_app(fake)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: mid in main_rows(app), what="task in the table")
        started = time.monotonic()
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, TaskDetailScreen)
        view = screen.current_view
        await wait_for(pilot, lambda: view.loaded, what="first page")
        print(f"\n100,001 log lines: detail open with the last page in {time.monotonic() - started:.3f} s")
        await pilot.pause()
        assert len(view.entries) <= PAGE
        text = screen_text(app)
        assert "200 of 100,001 lines loaded" in text
        assert "line 100000" in text  # the tail: the newest line
        # Scrolling up pages older lines in, keeping them in order.
        for _ in range(12):
            await pilot.press("pageup")
        await wait_for(pilot, lambda: len(view.entries) > PAGE and not view.pending_edges, what="older page")
        numbers = [int(entry.line.event.split()[1]) for entry in view.entries]
        assert numbers == list(range(numbers[0], 100_001))
        assert "400 of 100,001 lines loaded" in screen_text(app) or len(view.entries) > 400
        # Home: the first page (a query, not a walk); End: the last page again.
        await pilot.press("home")
        await wait_for(pilot, lambda: view.entries[0].line.event == "Task has been queued", what="first page")
        assert view.has_after and not view.has_before and len(view.entries) <= PAGE
        await pilot.press("end")
        await wait_for(pilot, lambda: view.entries[-1].line.event == "line 100000", what="last page")
        assert not view.has_after
        # However far one scrolls, the window stays bounded.
        for _ in range(MAX_LINES // PAGE + 2):
            first = view.entries[0]
            view.select(0)
            await wait_for(pilot, lambda f=first: view.entries[0] is not f and not view.pending_edges, what="a page")
        assert len(view.entries) <= MAX_LINES and view.has_after
        assert f"{len(view.entries):,} of 100,001 lines loaded" in screen_text(app)


async def test_a_5_mb_attribute_is_fetched_only_when_its_line_is_expanded() -> None:
    row = task(1, ACTOR, uid="blob")
    mid = row.message_id
    size = 5_120_011
    big = line(mid, 1, "huge attributes", logger="x", stored_bytes=size)
    text = '{"blob": "' + "c4ca4238a0b923820dcc509a6f75849b" * (ATTRIBUTES_ON_DEMAND // 32)
    logs = TaskLogs([big], large={big.cursor: AttributesValue(size, text[:ATTRIBUTES_ON_DEMAND], None, False, True)})
    fake = FakeConsole([row], details=[detail(row)], logs={mid: logs})
    app = fake_app(fake)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_detail(pilot, mid)
        view = screen.current_view
        entry = view.current
        assert entry is not None and entry.line.event == "huge attributes"
        assert not entry.line.attributes_inline and entry.attributes is None
        assert f"(attributes: {size} bytes, not shown)" in screen_text(app)
        assert not any(name == "attributes" for name, _ in fake.calls), "not fetched before it is asked for"
        await pilot.press("enter")
        await wait_for(pilot, lambda: entry.attributes is not None, what="attributes fetched on demand")
        await pilot.pause()
        assert not entry.attributes.complete
        shown = screen_text(app)
        assert f"the first {ATTRIBUTES_ON_DEMAND:,} characters of {size:,} bytes" in shown
        assert '{"blob":' in shown and "c4ca4238a0b923820dcc509a6f75849b" in shown
        # Rendered a page at a time, ending in a row that counts the rest; m renders the next page.
        block = view._block(entry)
        assert block.marker is not None and block.shown < block.total
        marker = "".join(segment.text for segment in block.marker)
        assert f"{block.total - block.shown:,} more characters — m shows the next page" in marker
        before = block.shown
        await pilot.press("m")
        await wait_for(pilot, lambda: block.shown > before, what="the next page")
        await pilot.press("space")  # collapse again
        await pilot.pause()
        assert "the first 1,000,000 characters" not in screen_text(app)


class _Evil:
    """Pickles as a call to os.system (pickling records the call; only loading would run it)."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (self.command,))


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A directory with a short path, so the payload's command fits on one row of the screen."""
    path = Path(tempfile.mkdtemp(prefix="tt", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


async def test_a_malicious_pickle_shows_a_placeholder_and_runs_nothing(short_dir: Path) -> None:
    bare_file, inside_file = short_dir / "bare", short_dir / "inside"
    # A bare REDUCE of os.system as the whole message, and one hidden in a message's arguments.
    bare_pickle = pickle.dumps(_Evil(f"touch {bare_file}"), protocol=0)
    inside_pickle = pickle.dumps(
        {"queue_name": "default", "actor_name": "authentik.evil.args", "args": (_Evil(f"touch {inside_file}"),),
         "kwargs": {}, "options": {}, "message_id": "x", "message_timestamp": 0}
    )  # fmt: skip
    bare, inside = task(1, "authentik.evil.bare"), task(2, "authentik.evil.args")
    details = [detail(bare, message=bare_pickle), detail(inside, message=inside_pickle)]
    app = fake_app(FakeConsole([bare, inside], details=details))
    async with app.run_test(size=(160, 44)) as pilot:
        await open_detail(pilot, bare.message_id)
        text = screen_text(app)
        assert "not a dramatiq message (a posix.system)" in text
        assert f"<posix.system('touch {bare_file}')>" in text
        await pilot.press("escape")
        await open_detail(pilot, inside.message_id)
        assert f"(<posix.system('touch {inside_file}')>,)" in screen_text(app)  # the args row
    assert not bare_file.exists() and not inside_file.exists()
    # The control: the payload is real — a plain pickle.loads runs it.
    pickle.loads(bare_pickle)
    assert bare_file.exists()


async def test_new_log_lines_and_state_changes_appear_live() -> None:
    row = task(1, "authentik.events.tasks.notification_transport", state="running")
    mid = row.message_id
    fake = FakeConsole([row], details=[detail(row)], logs={mid: TaskLogs([line(mid, 1, "Task is being processed")])})
    app = fake_app(fake)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_detail(pilot, mid)
        await wait_for(pilot, lambda: "Running" in screen_text(app), what="Running")
        fake.add_lines(mid, line(mid, 2, "sending to webhook (live)", logger="authentik.events"))
        await wait_for(pilot, lambda: "sending to webhook (live)" in screen_text(app), what="live log line")
        assert screen.current_view.current.line.event == "sending to webhook (live)"  # the cursor follows
        fake.add_lines(mid, line(mid, 3, "webhook returned 500", level="error", logger="authentik.events"))
        fake.add_lines(mid, line(mid, 4, "Task finished processing without errors"))
        fake.put(replace(row, state="done", aggregated_status="done", effective_status="error"))
        await wait_for(
            pilot,
            lambda: (
                "Task finished processing without errors" in screen_text(app)
                and "authentik shows Successful" in screen_text(app)
            ),
            what="finished, with the error authentik hides",
        )
        await wait_for(pilot, lambda: "Current attempt: 4 lines" in screen_text(app), what="the count")


async def test_escape_returns_to_the_table_with_the_cursor_on_the_same_task() -> None:
    first, newest = task(1, "authentik.first", minutes_ago=2), task(2, "authentik.second", minutes_ago=1)
    fake = FakeConsole([first, newest], details=[detail(first), detail(newest)])
    app = fake_app(fake)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: len(main_rows(app)) == 2, what="two tasks")
        assert main_rows(app)[0] == newest.message_id  # newest first: the cursor is on the head of the list
        await open_detail(pilot, newest.message_id)
        # A task arrives while the detail is open: the table's head moves down.
        newer = task(3, "authentik.third")
        fake.put(newer)
        await wait_for(pilot, lambda: newer.message_id in main_rows(app), what="new task behind the detail screen")
        for key in ("escape", "enter", "q", "enter", "backspace"):
            await pilot.press(key)
            await wait_for(pilot, lambda k=key: isinstance(app.screen, TaskDetailScreen) == (k == "enter"), what=key)
            if key != "enter":
                assert app.main_screen.query_one(TaskRows).current.message_id == newest.message_id


async def test_a_failed_load_is_one_line_and_r_retries() -> None:
    fake, mid = rejected_after_a_retry()
    app = fake_app(fake)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_detail(pilot, mid)
        fake.fail("task_detail", ConnectionFailed("cannot reach the server at db.example: connection refused"))
        await pilot.press("r")
        await wait_for(pilot, lambda: "could not load the task" in screen_text(app), what="error line")
        (said,) = [row for row in screen_text(app).splitlines() if "could not load the task" in row]
        assert said.endswith("connection refused — press r to retry")  # one line, no traceback
        await pilot.press("r")
        await wait_for(pilot, lambda: "could not" not in screen_text(app), what="recovered")
        await wait_for(pilot, lambda: screen.current_view.loaded, what="logs again")
        await wait_for(pilot, lambda: "LDAPException: server down" in screen_text(app), what="the exception")


async def test_a_deleted_task_is_said_so() -> None:
    fake, mid = rejected_after_a_retry()
    app = fake_app(fake)
    async with app.run_test(size=(120, 36)) as pilot:
        await open_detail(pilot, mid)
        fake.delete(mid)
        # Said, and what was loaded stays.
        await wait_for(
            pilot,
            lambda: (
                "this task was deleted meanwhile" in (text := screen_text(app)) and "LDAPException: server down" in text
            ),
            what="deleted, with the loaded logs still shown",
        )


async def test_a_task_that_does_not_exist_says_so() -> None:
    row = task(1)
    app = fake_app(FakeConsole([row]))  # in the window, but no detail (deleted, its result expired)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: len(main_rows(app)) == 1, what="the row")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "does not exist (any more)" in screen_text(app), what="said")
        assert "no such task" in screen_text(app)


async def test_y_copies_the_id_and_help_lists_the_detail_keys() -> None:
    fake, mid = rejected_after_a_retry()
    app = fake_app(fake)
    async with app.run_test(size=(120, 50)) as pilot:
        await open_detail(pilot, mid)
        await pilot.press("y")
        assert app.clipboard == mid
        await pilot.press("question_mark")
        await pilot.pause()
        text = screen_text(app)
        # Opened from the detail screen, help starts with the detail screen's keys.
        assert text.index("Task detail") < text.index("Navigate")
        assert "Previous attempts' logs" in text
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, TaskDetailScreen)


async def test_polling_rereads_an_unfinished_task() -> None:
    from tasktui.core.events import FeedMode

    fake, mid = rejected_after_a_retry(state="running", aggregated_status="running", effective_status="running")
    fake.set_status(FeedMode.POLLING, "no trigger")
    app = fake_app(fake)
    async with app.run_test(size=(120, 36)) as pilot:
        await open_detail(pilot, mid)
        loads = sum(name == "task_detail" for name, _ in fake.calls)
        await wait_for(pilot, lambda: sum(n == "task_detail" for n, _ in fake.calls) > loads, within=6, what="re-read")


def test_narrow_log_rows_keep_the_time_and_the_end_of_the_logger() -> None:
    when = datetime(2026, 1, 15, 11, 57, 0, 123456, tzinfo=UTC)
    entry = LogLine(
        task_id=str(uuid.uuid4()), cursor=LogCursor((1, when), 0, uuid.UUID(int=1), 0), previous=False, timestamp=when,
        timestamp_text=None, level="error", logger=broker.MIDDLEWARE_LOGGER, event="server down", event_bytes=11,
        attributes={}, attributes_bytes=2, attributes_stored_bytes=2,
    )  # fmt: skip
    assert rendered.log_line(entry).plain.startswith("2026-01-15 11:57:00.123456 UTC  ERROR    authentik.tasks.")
    narrow = rendered.log_line(entry, time_only=True, logger_chars=24).plain
    assert narrow == "11:57:00.123456  ERROR    …eware.TaskLogMiddleware  server down"
