"""What a new user reads at 80x24 and 120x36: the worker panel puts the workers that need a look
first and keeps their reason whole, the header keeps the counts and says why it is blind, the
change rate is labelled, and the legend names every status without splitting an entry. The screens
run on the fake service; the reason a real server gives for refusing the console is checked on
real PostgreSQL."""

from __future__ import annotations

import re

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from textual.widget import Widget

from tasktui.core.db import without_target
from tasktui.core.events import FeedMode
from tasktui.core.status import STATUSES, SYMBOLS, UNKNOWN
from tasktui.demo import broker
from tasktui.render.workers import shared_host_prefix, short_hostname
from tasktui.ui.app import TaskTuiApp
from tasktui.ui.screens.help import HelpScreen
from tasktui.ui.widgets.legend import WORSE_IN_LOGS, Legend, legend_entries
from tasktui.ui.widgets.status_header import StatusHeader
from tasktui.ui.widgets.worker_panel import SCROLL_HINT, WorkerPanel
from tests.conftest import PgServer
from tests.fake_console import LABEL, NOW, FakeConsole, task, workers
from tests.feed_helpers import running_console, until
from tests.ui_helpers import fake_app, screen_text, wait_for

SIZES = pytest.mark.parametrize("size", [(80, 24), (120, 36)], ids=["80x24", "120x36"])
CURRENT = "2026.5.0"
PREFIX = "authentik-worker-"
ALIVE = ["7d9f8c6b5-6jpvy", "7d9f8c6b5-i3wcr", "7d9f8c6b5-zg8j9", "7d9f8c6b5-q2w7x"]
OLD_VERSION_HOST = "5c8b9d7f4-nm3pe"  # alive, on the previous release: a warning alarm
STALE_HOST = "7d9f8c6b5-k4t8m"  # heartbeat recent, lock gone: exited a moment ago
DEAD_HOST = "7d9f8c6b5-a1b2c"  # neither, for ten minutes
STALE_REASON = "but its lock is not held (exited or reconnecting)"


def fleet() -> FakeConsole:
    """A deployment mid-incident: five workers alive (one on the old release), one that has just
    exited (stale) and one dead for ten minutes — the database lists the two last."""
    report = workers(
        *((PREFIX + host, CURRENT, 0, True) for host in ALIVE),
        (PREFIX + OLD_VERSION_HOST, "2026.2.3", 0, True),
        (PREFIX + STALE_HOST, CURRENT, 0, False),
        (PREFIX + DEAD_HOST, CURRENT, 600, False),
    )
    return FakeConsole([task(i + 1, f"authentik.header.test_{i}") for i in range(3)], report=report)


def _widget_lines(app: TaskTuiApp, widget: Widget) -> list[str]:
    region = widget.region
    return screen_text(app).splitlines()[region.y : region.y + region.height]


def _joined(lines: list[str]) -> str:
    """Lines read as one text (a wrapped phrase joined back at its line breaks)."""
    return " ".join(" ".join(lines).split())


def _line_of(lines: list[str], needle: str) -> int:
    return next(i for i, line in enumerate(lines) if needle in line)


@SIZES
async def test_worker_panel_shows_stale_and_dead_workers_first_with_their_whole_reason(size: tuple[int, int]) -> None:
    app = fake_app(fleet())
    async with app.run_test(size=size) as pilot:
        await pilot.press("w")
        panel = app.main_screen.query_one(WorkerPanel)
        await wait_for(
            pilot,
            lambda: app.main_screen.worker_report is not None and app.main_screen.worker_report.alive == 5,
            what="five workers alive",
        )
        await wait_for(pilot, lambda: "DEAD" in "\n".join(_widget_lines(app, panel)), what="the dead worker drawn")
        await pilot.pause()
        lines = _widget_lines(app, panel)
        text = "\n".join(lines)
        assert panel.scroll_y == 0
        # The two that need a look come first, without scrolling; the stale one (a process that
        # just went away) before the dead one.
        stale, dead = _line_of(lines, "STALE"), _line_of(lines, "DEAD")
        first_alive = _line_of(lines, "ALIVE")
        assert stale < dead < first_alive
        assert f"…{STALE_HOST}" in lines[stale] and f"…{DEAD_HOST}" in lines[dead]
        # The reason whole: on the row at 120 columns, wrapped under it at 80 — never cut.
        if size[0] >= 120:
            assert "heartbeat" in lines[stale] and STALE_REASON in lines[stale]
            assert "Last seen" in text and "Why" in text
        else:
            assert STALE_REASON in _joined(lines[stale : stale + 2])
        assert "no heartbeat for 10m, lock not held" in lines[dead]
        # The shared prefix is said once, in full; the hosts keep what tells them apart.
        assert f'host "…" = {PREFIX}' in text
        assert f"…{OLD_VERSION_HOST}" in text
        summary = lines[_line_of(lines, "Workers")]
        assert "…" not in summary.replace('"…"', ""), "nothing cut in the summary"

        # At 80x24 the alive ones run past the panel, which says how to reach them.
        if panel.max_scroll_y > 0:
            await wait_for(pilot, lambda: SCROLL_HINT in screen_text(app), what="the scroll hint on the border")
            await pilot.press("tab")
            assert app.focused is panel
            await pilot.press("end")
            await wait_for(pilot, lambda: panel.scroll_y == panel.max_scroll_y, what="scrolled to the end")
            hidden = [h for h in ALIVE if f"…{h}" not in "\n".join(_widget_lines(app, panel))]
            assert hidden == [], "the last alive workers are reachable by scrolling"
        else:
            assert size[0] >= 120 and SCROLL_HINT not in screen_text(app)


async def test_help_says_how_to_scroll_the_worker_panel() -> None:
    app = fake_app(FakeConsole())
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        await wait_for(pilot, lambda: "worker panel (Tab focuses it" in screen_text(app), what="panel keys in help")
        # The help box wraps long descriptions: read its lines as one text.
        help_text = " ".join(" ".join(line.strip(" │") for line in screen_text(app).splitlines()).split())
        assert "PgUp PgDn scroll it" in help_text


def _header_lines(app: TaskTuiApp) -> list[str]:
    return _widget_lines(app, app.main_screen.query_one(StatusHeader))


@SIZES
async def test_header_labels_the_change_rate(size: tuple[int, int]) -> None:
    fake = fleet()
    fake.rate_value = [0] * 50 + [3, 9, 14, 2, 0, 7, 12, 5, 4, 1]
    app = fake_app(fake)
    async with app.run_test(size=size) as pilot:
        # Workers alive, so no alarm shares the line (an alarm goes before the rate).
        await wait_for(
            pilot,
            lambda: app.main_screen.worker_report is not None and app.main_screen.worker_report.healthy,
            what="workers",
        )
        await wait_for(pilot, lambda: app.main_screen.header_state.counts is not None, what="counts")
        await wait_for(pilot, lambda: "changes/s" in "\n".join(_header_lines(app)), what="the rate, labelled")
        counts_line = _header_lines(app)[1]
        assert "Queued 3" in counts_line
        # A number then its unit, never a bare "/s" that reads as tasks per second; the sparkline
        # after it says what it is (bare, at the line's end, it read as a progress bar).
        assert re.search(r"\d changes/s(  last \d+s [▁▂▃▄▅▆▇█]+)?$", counts_line), counts_line
        assert not re.search(r"\d/s", counts_line)


@SIZES
async def test_header_says_why_it_is_blind_and_keeps_the_last_counts(size: tuple[int, int]) -> None:
    fake = fleet()
    app = fake_app(fake)
    async with app.run_test(size=size) as pilot:
        await wait_for(pilot, lambda: "Queued 3" in "\n".join(_header_lines(app)), what="counts shown")
        # What the feed says when the server refuses it (as the real feed words it: the service test).
        refused = f'cannot reach the server at {LABEL}: database "authentik" is not currently accepting connections'
        fake.set_status(FeedMode.RECONNECTING, refused, blind_since=NOW.timestamp() - 3)
        await wait_for(pilot, lambda: "not currently accepting" in _joined(_header_lines(app)), what="the reason")
        await pilot.pause()
        lines = _header_lines(app)
        assert "RECONNECTING" in lines[0] and "blind" in lines[0]
        # The reason in full, on lines of its own, without the target the first line names.
        reason = _joined(lines[1:-1])
        assert 'cannot reach the server: database "authentik" is not currently accepting connections' in reason
        assert LABEL not in reason
        # The counts stay, marked as the last known ones; the workers' alarm under them.
        assert lines[-2].startswith(" last known: Running 0  Queued 3")
        assert lines[-1].startswith(" ⚠ 1 stale worker · 1 dead worker")
        fake.set_status(FeedMode.LIVE, "reconnected after 3.0s blind; reloaded", fades=True)
        await wait_for(pilot, lambda: len(_header_lines(app)) == 3, what="the header back to three lines")
        assert "last known" not in "\n".join(_header_lines(app))


@SIZES
async def test_legend_names_every_status_and_breaks_between_entries(size: tuple[int, int]) -> None:
    app = fake_app(FakeConsole())
    async with app.run_test(size=size) as pilot:
        legend = app.main_screen.query_one(Legend)
        await wait_for(pilot, lambda: WORSE_IN_LOGS in "\n".join(_widget_lines(app, legend)), what="legend")
        lines = [line.strip() for line in _widget_lines(app, legend)]
        text = " ".join(lines)
        for status in (*STATUSES.values(), UNKNOWN):
            assert status.label in text, status.label
        assert "Running (also Pre-processing, Post-processing, Consumed)" in text
        # Every line is whole entries: nothing starts or ends halfway through one.
        entries = {f"{SYMBOLS[style]} {label}" for style, label in legend_entries()} | {WORSE_IN_LOGS}
        for line in lines:
            assert set(re.split(r"\s{2,}", line)) <= entries, line
        assert len(lines) <= 2


def test_hostnames_lose_the_shared_prefix_then_their_middle_never_their_end() -> None:
    hosts = [PREFIX + h for h in (*ALIVE, OLD_VERSION_HOST)]
    prefix = shared_host_prefix(hosts)
    assert prefix == PREFIX
    assert short_hostname(PREFIX + OLD_VERSION_HOST, prefix, 16) == f"…{OLD_VERSION_HOST}"
    # A lone host keeps its start and, above all, its unique end.
    shortened = short_hostname("authentik-worker-prod-eu-west-1-7d9f8c6b5-6jpvy", "", 16)
    assert len(shortened) == 16 and shortened.startswith("auth") and shortened.endswith("c6b5-6jpvy")


def test_the_reason_drops_only_the_database_the_header_names_already() -> None:
    label = "postgres@db.internal:5432/authentik"
    message = f'cannot reach the server at {label}: database "authentik" is not currently accepting connections'
    assert without_target(message, label) == (
        'cannot reach the server: database "authentik" is not currently accepting connections'
    )
    assert without_target(message, "someone@else:5432/db") == message


async def test_a_server_that_refuses_the_console_is_said_with_its_own_words(
    live_dsn: str, writer: psycopg.AsyncConnection, pg_server: PgServer
) -> None:
    """The reason the header shows above, from a real server: the feed reports it whole, and the
    counts it had stay (the header marks them last known)."""
    tenant = await broker.default_tenant(writer)
    for index in range(3):
        await broker.enqueue(writer, f"authentik.header.test_{index}", tenant_id=tenant)
    dbname = conninfo_to_dict(live_dsn)["dbname"]
    # A database cannot refuse connections from a session of its own: ask from the server's.
    admin = await psycopg.AsyncConnection.connect(pg_server.admin_dsn, autocommit=True)
    async with running_console(live_dsn) as (console, events):
        await until(lambda: console.mode == FeedMode.LIVE and console.counts().by_group["Queued"] == 3, what="live")
        allow = sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS {}")
        await admin.execute(allow.format(sql.Identifier(dbname), sql.SQL("false")))
        try:
            await writer.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = 'tasktui' AND pid <> pg_backend_pid() AND datname = current_database()"
            )
            await until(
                lambda: "not currently accepting" in events.statuses[-1][1].detail, within=15, what="the reason"
            )
            status = events.statuses[-1][1]
            assert status.mode == FeedMode.RECONNECTING and status.blind_since is not None
            shown = without_target(status.detail, status.label)
            assert f'cannot reach the server: database "{dbname}" is not currently accepting connections' in shown
            assert console.counts().by_group["Queued"] == 3
        finally:
            await admin.execute(allow.format(sql.Identifier(dbname), sql.SQL("true")))
            await admin.close()
        await until(lambda: console.mode == FeedMode.LIVE, within=20, what="live again")
