"""One sanitiser for every output path, checked with hypothesis over arbitrary unicode (with the
dangerous characters and the wide ones drawn often): whatever a database value holds, no C0
control (newline only where the path prints several lines), DEL, C1 control, U+2028/2029 or bidi
control reaches the terminal, and the task table's cells take exactly their columns' width in
terminal cells. Paths: table, detail fields and log lines, the retry dialog, notices, the
header, facet prompts, the worker panel, CLI text and errors (`show`, argparse, connection
errors naming the database), and `tail`'s JSON.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from psycopg.conninfo import make_conninfo
from rich.cells import cell_len
from rich.console import Console
from rich.text import Text
from textual.app import App, ComposeResult

from tasktui import cli
from tasktui.commands._output import print_lines, say
from tasktui.core import safe_pickle
from tasktui.core.detail import LogCounts, TaskDetail
from tasktui.core.events import FeedMode, FeedStatus
from tasktui.core.logs import LogCursor, LogLine
from tasktui.core.models import TaskRow
from tasktui.core.shape import TableShape
from tasktui.core.store import DEFAULT_SORT
from tasktui.core.task_report import LogGroup, TaskReport
from tasktui.core.text import ascii_json, cut
from tasktui.core.workers import WorkerInfo
from tasktui.render import detail as rendered_detail
from tasktui.render import workers as rendered_workers
from tasktui.render.report import report_lines
from tasktui.render.text import NAME_CHARS
from tasktui.ui.screens.facets import counted_prompt
from tasktui.ui.screens.retry import retry_question
from tasktui.ui.themes import StatusColours
from tasktui.ui.widgets.status_header import HeaderState, StatusHeader
from tasktui.ui.widgets.task_table import TaskRows, TaskTable
from tests.fake_console import FakeConsole
from tests.ui_helpers import fake_app, misplaced_column_ends

# What must never reach a terminal from data. Newline is checked separately (some paths print
# several lines); tabs are in here: Rich and the sanitiser turn them into spaces.
FORBIDDEN = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
SGR = re.compile("\x1b\\[[0-9;]*m")  # Rich's own colours on a terminal: ours, not the data's

DANGEROUS = "\x1b\x07\x08\x00\r\n\t\x0b\x0c\x7f\x85\x9b\x9d\u2028\u2029\u202a\u202e\u2066\u2069\u200e\u200f\u061c"
LOOKALIKES = "[]/@=;\\\"'"  # markup, escapes and quotes that must stay characters
WIDE = "日本語한국어👨\u200d👩\u200d👧❤\ufe0f🙂e\u0301\u200b"
characters = st.one_of(st.characters(codec="utf-8"), st.sampled_from(DANGEROUS + LOOKALIKES + WIDE))
hostile = st.text(alphabet=characters, max_size=60)
hostile_line = st.text(alphabet=characters, min_size=1, max_size=60)

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_inert(shown: str, *, newlines: bool = False) -> None:
    bad = FORBIDDEN.search(shown)
    assert bad is None, f"{bad.group()!r} reached the terminal in {shown!r}"
    if not newlines:
        assert "\n" not in shown, shown


def rendered(*texts: Text, width: int = 60) -> str:
    """What Rich writes for these Text objects to a terminal of `width` columns (no colours)."""
    console = Console(width=width, file=io.StringIO(), color_system=None, force_terminal=False, legacy_windows=False)
    for text in texts:
        console.print(text)
    return console.file.getvalue()  # type: ignore[attr-defined]


def task_row(actor: str, uid: str, queue: str, tenant: str, state: str, related: str) -> TaskRow:
    now = datetime(2026, 1, 15, 12, tzinfo=UTC)
    return TaskRow(
        message_id=str(uuid.uuid4()),
        queue_name=queue,
        actor_name=actor,
        uid=uid or None,
        state=state,
        aggregated_status=state,
        effective_status=state,
        tenant_id=str(uuid.uuid4()),
        tenant_name=tenant or None,
        rel_obj_type=related or None,
        rel_obj_id=related or None,
        retries=1,
        eta=now,
        mtime=now - timedelta(minutes=3),
        result_expiry=None,
    )


task_rows = st.builds(task_row, hostile, hostile, hostile, hostile, hostile, hostile)


def log_line(event: str, logger: str, level: str, attribute: str) -> LogLine:
    now = datetime(2026, 1, 15, 12, tzinfo=UTC)
    return LogLine(
        task_id=str(uuid.uuid4()),
        cursor=LogCursor((1, now), 0, uuid.uuid4(), 0),
        previous=False,
        timestamp=now,
        timestamp_text=None,
        level=level,
        logger=logger,
        event=event,
        event_bytes=len(event.encode("utf-8")),
        attributes={"payload": attribute, attribute: [attribute]},
        attributes_bytes=None,
        attributes_stored_bytes=10,
    )


log_lines = st.builds(log_line, hostile, hostile, hostile, hostile)
exceptions = st.builds(
    lambda exc_type, value, filename, source: [
        {"exc_type": exc_type, "exc_value": value, "frames": [{"filename": filename, "lineno": 3, "name": source}]}
    ],
    hostile,
    hostile,
    hostile,
    hostile,
)


def detail_of(task: TaskRow) -> TaskDetail:
    shape = TableShape("public", frozenset(), frozenset(), frozenset(), False, False)
    return TaskDetail(
        task=task,
        message=safe_pickle.decode_message(None, None),
        result=safe_pickle.decode_result(None, None),
        log_counts=LogCounts(1, 0, 0, 0),
        shape=shape,
    )


# -- CLI -----------------------------------------------------------------------------------------


@SETTINGS
@given(hostile)
def test_cli_text_and_errors(text: str) -> None:
    for multiline in (True, False):
        out = io.StringIO()
        say(f"tasktui: error: {text}", stream=out, multiline=multiline)
        assert out.getvalue().endswith("\n")
        assert_inert(out.getvalue()[:-1], newlines=multiline)


@SETTINGS
@given(hostile)
def test_cli_usage_errors_quote_the_argument_inertly(text: str) -> None:
    # Anything that is not a message id (nor a prefix of one): argparse's one-line error.
    assume(sum(char in "0123456789abcdefABCDEF" for char in text) < 8)
    err = io.StringIO()
    with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as exited:
        cli.main(["show", "--", text])
    assert exited.value.code == 2
    assert err.getvalue().count("\n") == 1
    assert_inert(err.getvalue()[:-1])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile.filter(lambda t: "\x00" not in t))
def test_cli_connection_errors_name_the_database_inertly(dbname: str) -> None:
    # No server there: libpq fails at once, and the error names the database it wanted.
    dsn = make_conninfo(host="/nonexistent/tasktui", port="5432", user="x", dbname=dbname)
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        status = cli.main(["workers", "--dsn", dsn])
    assert status == 2, err.getvalue()
    assert err.getvalue().count("\n") == 1
    assert_inert(err.getvalue()[:-1])


@SETTINGS
@given(task_rows, st.lists(st.tuples(log_lines, exceptions), max_size=3))
def test_show_prints_inert_text_to_a_pipe_and_to_a_terminal(task: TaskRow, lines) -> None:
    detail = detail_of(task)
    groups = (
        LogGroup(False, [line for line, _ in lines], [exc for _, exc in lines], False),
        LogGroup(True, [], [], False),
    )
    text_lines = list(report_lines(TaskReport(detail, groups)))

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    for stdout in (io.StringIO(), Terminal()):
        with contextlib.redirect_stdout(stdout):
            print_lines(text_lines)
        assert_inert(SGR.sub("", stdout.getvalue()), newlines=True)


@SETTINGS
@given(st.dictionaries(hostile, st.one_of(hostile, st.integers(), st.lists(hostile, max_size=3)), max_size=5))
def test_tail_json_is_ascii_and_exact(payload: dict) -> None:
    line = ascii_json(json.dumps(payload, ensure_ascii=False))
    assert all(" " <= char <= "~" for char in line), line
    assert json.loads(line) == payload


# -- the console's text builders -----------------------------------------------------------------


@SETTINGS
@given(task_rows, log_lines, exceptions)
def test_detail_fields_log_lines_and_tracebacks(task: TaskRow, line: LogLine, exception) -> None:
    detail = detail_of(task)
    texts = [value for _, value in rendered_detail.task_rows(detail)]
    texts += [value for _, value in rendered_detail.message_rows(detail.message)]
    texts += [rendered_detail.log_line(line), rendered_detail.log_line(line, time_only=True, logger_chars=12)]
    texts += rendered_detail.traceback_lines(exception)
    for text in texts:
        assert_inert(text.plain)
    assert_inert(rendered(*texts, width=40), newlines=True)


@SETTINGS
@given(task_rows)
def test_the_retry_dialog(task: TaskRow) -> None:
    question = retry_question(task)
    assert question.plain.count("\n") == 1  # its own line break, between name and id
    assert_inert(question.plain, newlines=True)


@SETTINGS
@given(hostile, st.integers(min_value=0, max_value=10**6), st.integers(min_value=1, max_value=120))
def test_facet_prompts(value: str, count: int, width: int) -> None:
    prompt = counted_prompt({value: count})(value, width)
    assert_inert(prompt)
    if width - len(f"{count:,}") - 1 >= 8:
        assert cell_len(prompt) == width


@SETTINGS
@given(hostile, hostile, hostile)
def test_worker_lines(hostname: str, version: str, reason: str) -> None:
    worker = WorkerInfo(
        id=str(uuid.uuid4()),
        hostname=hostname,
        version=version,
        last_seen=datetime(2026, 1, 15, tzinfo=UTC),
        seen_ago=timedelta(seconds=5),
        lock_held=True,
        liveness="alive",
        reason=reason,
        version_mismatch=True,
    )
    assert_inert(rendered_workers.worker_line(worker, host_width=12, version_width=8).plain)
    for width in (3, 8, 16):
        short = rendered_workers.short_hostname(cut(hostname, NAME_CHARS), "", width)
        assert_inert(short)
        assert cell_len(short) <= width


# -- the console's widgets -----------------------------------------------------------------------


class TableHost(StatusColours, App[None]):
    def compose(self) -> ComposeResult:
        yield TaskTable()


@pytest.mark.parametrize("width", [80, 157, 200])
async def test_table_rows_are_inert_and_exactly_as_wide_as_the_terminal(width: int) -> None:
    app = TableHost()
    async with app.run_test(size=(width, 12)) as pilot:
        table = app.query_one(TaskTable)
        rows = app.query_one(TaskRows)
        await pilot.pause()
        now = datetime(2026, 1, 15, 12, tzinfo=UTC)

        @SETTINGS
        @given(st.lists(task_rows, min_size=1, max_size=4))
        def check(tasks: list[TaskRow]) -> None:
            table.show(tasks, DEFAULT_SORT, now)
            drawn = rows.scrollable_content_region.width
            assert drawn >= width - 1  # the terminal's width, less the scrollbar
            for y in range(len(tasks)):
                strip = rows.render_line(y)
                text = "".join(segment.text for segment in strip)
                assert_inert(text)
                assert cell_len(text) == drawn
                # Each cell takes its column's width plus the space after it: nothing shifts.
                assert not misplaced_column_ends(text, rows), text

        check()


async def test_header_and_notices_in_the_console(monkeypatch: pytest.MonkeyPatch) -> None:
    shown: list[dict] = []
    # What the console hands Textual for a notice (the toast itself appears a message later).
    monkeypatch.setattr(App, "notify", lambda _app, message, **kwargs: shown.append({"message": message, **kwargs}))
    app = fake_app(FakeConsole())
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        header = app.main_screen.query_one(StatusHeader)

        @SETTINGS
        @given(hostile, hostile, hostile, hostile, st.sampled_from(list(FeedMode)))
        def check(label: str, detail: str, alarm: str, message: str, mode: FeedMode) -> None:
            state = HeaderState(status=FeedStatus(mode, detail=detail, label=label), alarms=[alarm], rate=[1, 2, 3])
            header.show(state, now=1_000.0)
            content = header.content
            assert isinstance(content, Text)
            assert_inert(content.plain, newlines=True)  # its lines are its own: label, reason, counts
            app.notify(message, title=label)
            notice = shown[-1]
            assert notice["markup"] is False
            assert_inert(notice["message"], newlines=True)  # a toast may have several lines
            assert_inert(notice["title"])

        check()
