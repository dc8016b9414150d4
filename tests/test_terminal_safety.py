"""The terminal-safety findings, one by one, through the real entry points: the CLI as a user
runs it and the console under Pilot. (tests/test_sanitiser.py checks the same paths over
arbitrary unicode.)"""

from __future__ import annotations

import re

from psycopg.conninfo import make_conninfo
from rich.cells import cell_len

from tasktui.core.tracebacks import format_exception
from tasktui.ui.widgets.status_header import StatusHeader
from tasktui.ui.widgets.task_table import TaskRows
from tests.conftest import run_cli
from tests.fake_console import FakeConsole, task
from tests.ui_helpers import fake_app, misplaced_column_ends, row_texts, screen_text, wait_for

FORBIDDEN = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
TITLE = "\x1b]0;pwned\x07"


def test_a_database_name_with_escapes_is_not_echoed_raw_in_cli_errors(mirror_dsn: str) -> None:
    dsn = make_conninfo(mirror_dsn, dbname=f"no{TITLE}\u202edb\u2028x")
    result = run_cli("workers", "--dsn", dsn)
    assert result.returncode == 2, result
    assert FORBIDDEN.search(result.stderr.rstrip("\n")) is None, result.stderr
    assert result.stderr.count("\n") == 1
    assert "no\\x1b]0;pwned\\x07\\u202edb\\u2028x" in result.stderr


def test_password_redaction_keeps_the_closing_quote() -> None:
    result = run_cli("retry", "--filter", "--rate", "host=x password=secret", "--dry-run")
    assert result.returncode == 2
    assert "secret" not in result.stderr
    assert "'host=x password=***'" in result.stderr, result.stderr


def test_line_and_paragraph_separators_in_exceptions_stay_in_their_line() -> None:
    lines = format_exception({"exc_type": "ValueError", "exc_value": "one\u2028two\u2029three\x85four\nnext"})
    assert lines == ["ValueError: one\u2028two\u2029three\x85four", "next"]


async def test_a_label_with_escapes_cannot_retitle_the_terminal() -> None:
    app = fake_app(FakeConsole(), label=f"prod{TITLE}\u202e")
    async with app.run_test(size=(120, 20)) as pilot:
        await wait_for(pilot, lambda: "prod" in screen_text(app), what="the label")
        header = app.main_screen.query_one(StatusHeader)
        drawn = "\n".join("".join(s.text for s in header.render_line(y)) for y in range(header.size.height))
        assert "prod\\x1b]0;pwned\\x07\\u202e" in drawn
        assert FORBIDDEN.search(screen_text(app)) is None


async def test_wide_characters_do_not_shift_the_table_columns() -> None:
    actors = ("authentik.日本語のタスク名前" * 3, "authentik.👨\u200d👩\u200d👧.family" * 4, "authentik.plain")
    app = fake_app(FakeConsole([task(i + 1, actor, uid="日本", queue="キュー") for i, actor in enumerate(actors)]))
    async with app.run_test(size=(120, 20)) as pilot:
        rows = app.main_screen.query_one(TaskRows)
        await wait_for(pilot, lambda: len(rows.rows) == 3, what="three tasks")
        await pilot.pause()
        width = rows.scrollable_content_region.width
        for y in range(3):
            text = "".join(s.text for s in rows.render_line(y))
            assert cell_len(text) == width
            assert not misplaced_column_ends(text, rows), text
        # The columns after the actor start at the same cell on every row.
        starts = {cell_len(text[: text.index("キュー")]) for text in row_texts(app)}
        assert len(starts) == 1, row_texts(app)
