"""The debug log: something unexpected (a bug) is one line for the person at the keyboard, naming
the file that holds its traceback — in the console, in the CLI and in `tasktui status` — and that
file never holds a password, is private to its user and exists only once something was written."""

from __future__ import annotations

import asyncio
import logging
import stat
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tasktui import cli, debuglog
from tasktui.commands import show, status
from tasktui.core import counts as counts_module
from tasktui.core import export
from tasktui.core.events import FeedMode
from tasktui.core.feed import TaskFeed
from tasktui.demo import broker
from tests.fake_console import FakeConsole, task
from tests.feed_helpers import running_console, running_feed, until
from tests.ui_helpers import fake_app, screen_text, wait_for

SECRET = "s3cr3t-pa55"


@pytest.fixture
def log_file(tmp_path: Path) -> Iterator[Path]:
    """The debug log as `--log FILE` sets it up; tasktui's logger as it was afterwards."""
    path = tmp_path / "logs" / "debug.log"
    yield path
    for handler in list(debuglog.log.handlers):
        debuglog.log.removeHandler(handler)
        handler.close()


def _mode_and_text(path: Path) -> tuple[int, str]:
    return stat.S_IMODE(path.stat().st_mode), path.read_text()


def _notifications(app: object) -> list[str]:
    return [str(n.message) for n in app._notifications]  # type: ignore[attr-defined]


async def test_a_bug_in_a_screen_is_one_line_naming_the_log_which_has_the_traceback(log_file: Path) -> None:
    debuglog.setup(log_file)
    fake = FakeConsole([task(1, "authentik.x.task", uid="a")])
    fake.fail("workers", ZeroDivisionError("a bug in the worker panel"))
    app = fake_app(fake)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: any("internal error" in n for n in _notifications(app)), what="the notice")
        (notice,) = [n for n in _notifications(app) if "internal error" in n]
        assert notice == f"could not check the workers: internal error (ZeroDivisionError); details in {log_file}"
    mode, text = _mode_and_text(log_file)
    assert "unexpected failure while check the workers" in text
    assert "Traceback (most recent call last)" in text and "ZeroDivisionError: a bug in the worker panel" in text
    assert mode == 0o600


def test_a_bug_in_a_command_is_one_line_and_the_log_never_holds_the_password(
    log_file: Path, mirror_dsn: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    dsn = f"{mirror_dsn} password={SECRET}"

    async def broken(*args: object, **kwargs: object) -> int:
        raise RuntimeError(f"a bug that quotes its connection: {dsn}")

    monkeypatch.setattr(show, "_show", broken)
    assert cli.main(["show", "3fa85f64", "--dsn", dsn, "--log", str(log_file)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("tasktui: unexpected error: RuntimeError: ")
    assert err.rstrip().endswith(f"(details in {log_file})") and SECRET not in err
    text = log_file.read_text()
    assert "Traceback (most recent call last)" in text and "RuntimeError: a bug that quotes" in text
    assert SECRET not in text


def test_several_dsns_none_of_whose_passwords_reach_the_log_or_the_error(
    log_file: Path, mirror_dsn: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`tasktui --dsn A --dsn B` (the console on two installations): the first DSN's password is
    as secret as the last one's."""
    from tasktui.commands import console

    first = f"{mirror_dsn} password={SECRET}"
    second = f"{mirror_dsn} password=other-pa55"

    def broken(args: object) -> int:
        # Bare, as a driver's message may quote them: only knowing each DSN takes them out.
        raise RuntimeError(f"a bug that quotes the passwords: {SECRET} and other-pa55")

    monkeypatch.setattr(console, "run", broken)
    assert cli.main(["--dsn", first, "--dsn", second, "--log", str(log_file)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and SECRET not in err and "other-pa55" not in err
    text = log_file.read_text()
    assert "RuntimeError: a bug that quotes" in text
    assert SECRET not in text and "other-pa55" not in text


def test_status_says_unknown_in_one_line_naming_the_log(
    log_file: Path, mirror_dsn: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def broken(*args: object, **kwargs: object) -> object:
        raise KeyError("a bug in a check")

    monkeypatch.setattr(status, "_bounded", broken)
    assert cli.main(["status", "--dsn", mirror_dsn, "--log", str(log_file)]) == 3
    out = capsys.readouterr().out
    assert out == f"TASKTUI UNKNOWN - unexpected error: KeyError: 'a bug in a check' (details in {log_file})\n"
    assert "Traceback (most recent call last)" in log_file.read_text()


def test_the_log_is_made_only_when_something_goes_wrong_under_the_state_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, log_file: Path
) -> None:
    monkeypatch.delenv("TASKTUI_STATE_DIR", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    path = debuglog.setup()
    assert path == tmp_path / "state" / "tasktui" / "tasktui.log"
    logging.getLogger("tasktui.core.feed").info("routine: not written")
    assert not path.exists()
    logging.getLogger("tasktui.core.feed").error("the feed failed")
    assert "ERROR tasktui.core.feed: the feed failed" in path.read_text()
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_a_bug_while_reading_a_bundle_is_not_worded_as_a_database_error(
    log_file: Path, live_dsn: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only the driver's errors are explained as the database's: a bug says it is one, and where
    its traceback is (it used to read as `tasktui: error: …`, with nothing logged)."""

    async def enqueue() -> str:
        async with await psycopg.AsyncConnection.connect(live_dsn, autocommit=True) as conn:
            return str(await broker.enqueue(conn, "authentik.x.task", tenant_id=await broker.default_tenant(conn)))

    async def broken(*args: object, **kwargs: object) -> object:
        raise ZeroDivisionError("a bug in the workers' report")

    message_id = asyncio.run(enqueue())
    monkeypatch.setattr(export, "load_workers", broken)
    argv = ["export", "bundle", message_id, "--dsn", live_dsn, "-o", str(log_file.parent), "--log", str(log_file)]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("tasktui: unexpected error: ZeroDivisionError: a bug in the workers' report (details in ")
    assert "ZeroDivisionError: a bug in the workers' report" in log_file.read_text()


async def test_a_bug_in_the_feed_is_shown_naming_the_log(
    log_file: Path, live_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The header shows the feed's reason: for a bug, one line naming the debug log."""
    debuglog.setup(log_file)

    async def broken(self: TaskFeed) -> None:
        raise ZeroDivisionError("a bug while loading the window")

    monkeypatch.setattr(TaskFeed, "reload", broken)
    async with running_feed(live_dsn) as (_feed, _store, sink):
        await until(lambda: FeedMode.RECONNECTING in sink.modes(), what="the feed to fail")
    (reason,) = {s.detail for _, s in sink.statuses if s.mode is FeedMode.RECONNECTING}
    assert reason == f"internal error: ZeroDivisionError: a bug while loading the window; details in {log_file}"
    _, text = _mode_and_text(log_file)
    assert "the feed failed" in text and "ZeroDivisionError: a bug while loading the window" in text


async def test_a_bug_in_the_counts_is_shown_in_the_header_naming_the_log(
    log_file: Path, live_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The counts loop's bug: the finished counts go stale, and the header says why, naming the log."""
    debuglog.setup(log_file)

    async def broken(*args: object, **kwargs: object) -> object:
        raise ZeroDivisionError("a bug while counting")

    monkeypatch.setattr(counts_module, "count_finished", broken)
    async with running_console(live_dsn) as (_console, events):
        await until(lambda: any(c.stale_reason for c in events.counts), what="the counts to fail")
    reason = next(c.stale_reason for c in events.counts if c.stale_reason)
    assert reason == f"internal error: ZeroDivisionError: a bug while counting; details in {log_file}"
    assert "counting finished tasks failed" in _mode_and_text(log_file)[1]

    # What the header makes of such counts, on screen.
    fake = FakeConsole([task(1, "authentik.x.task", uid="a")])
    fake.counts = lambda: next(c for c in events.counts if c.stale_reason)  # type: ignore[method-assign]
    app = fake_app(fake)
    async with app.run_test(size=(200, 36)) as pilot:
        await wait_for(pilot, lambda: "details in" in screen_text(app), what="the header's line")
        assert f"internal error: ZeroDivisionError: a bug while counting; details in {log_file}" in screen_text(app)
