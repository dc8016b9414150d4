"""Every screen and modal of the console, and each state of the feed, as SVG snapshots at 80×24 and
120×36 — on the fake service, with a frozen clock and no blinking cursor, so that they change only
when what the console draws changes.

Review a change with the HTML report (snapshot_report.html), look at the pictures
(`rsvg-convert -w 1400 x.svg -o x.png`), then `pytest tests/test_snapshots.py --snapshot-update`.
Textual is pinned in pyproject.toml: its releases change snapshots.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, ProgressBar

from tasktui.core.events import FeedMode
from tasktui.core.health import FeedHealth
from tasktui.core.incidents.draining import Verdict
from tasktui.core.incidents.errors import Trend
from tasktui.core.incidents.schedules import ScheduleStatus
from tasktui.errors import ConnectionFailed
from tasktui.ui.app import TaskTuiApp
from tasktui.ui.screens.errors_view import ErrorsView
from tasktui.ui.screens.export import ExportDialog
from tasktui.ui.screens.facets import FacetScreen
from tasktui.ui.screens.help import ConnectionScreen, HelpScreen
from tasktui.ui.screens.incident_view import IncidentView
from tasktui.ui.screens.queues_view import QueuesView
from tasktui.ui.screens.retry import BulkRetryScreen, ConfirmRetryModal
from tasktui.ui.screens.schedules_view import SchedulesView
from tasktui.ui.screens.task_detail import TaskDetailScreen
from tasktui.ui.screens.xray import XrayScreen
from tasktui.ui.settings import ConsoleSettings
from tasktui.ui.widgets.task_table import TaskRows
from tasktui.ui.widgets.worker_panel import WorkerPanel
from tests.fake_console import LABEL, NOW, FakeConsole, message_id, summary, task, workers, xray
from tests.fake_incidents import error_group, error_report, queue_flow, queue_report, schedule, schedule_report
from tests.test_task_detail import rejected_after_a_retry
from tests.ui_helpers import fake_app, main_rows, screen_text, wait_for

SIZES = pytest.mark.parametrize("size", [(80, 24), (120, 36)], ids=["80x24", "120x36"])
Scene = Callable[[Pilot], Awaitable[None]]


US_LABEL = "tasktui@db-us.example/authentik"
STAGING_LABEL = "tasktui@db-staging.example/authentik"
DEMO_DSN = "postgresql://postgres@/postgres?host=/tmp/tasktui-demo-k2w8fu8q/socket&port=5432"
REJECTED = message_id(2)  # the task rejected after a retry: the detail scenes open it


def console() -> tuple[FakeConsole, str]:
    """An installation on a busy morning: tasks in every state, one rejected after a retry (the
    one the detail scenes open), a fleet with a stale and a dead worker."""
    fake, rejected = rejected_after_a_retry(number=2)
    rows = [
        task(1, "authentik.sources.ldap.tasks.ldap_sync", uid="corp-directory", state="running", minutes_ago=1),
        task(3, "authentik.providers.scim.tasks.scim_sync", uid="okta-scim", retries=2, eta_in=4),
        task(
            4,
            "authentik.events.tasks.notification_transport",
            uid="webhook",
            state="done",
            status="warning",
            minutes_ago=5,
        ),
        task(
            5,
            "authentik.blueprints.v1.tasks.apply_blueprint",
            uid="default/flows",
            state="done",
            status="error",
            minutes_ago=7,
        ),
        task(6, "authentik.core.tasks.clean_expired_models", state="done", minutes_ago=9),
        task(7, "authentik.tasks.tasks.clean_worker_statuses", state="consumed", minutes_ago=2),
        task(
            8,
            "authentik.sources.ldap.tasks.ldap_sync_page",
            uid="corp-directory:users:3",
            state="preprocess",
            minutes_ago=1,
        ),
        task(9, "authentik.outposts.tasks.outpost_send_update", uid="proxy", state="postprocess", minutes_ago=1),
        task(10, "authentik.crypto.tasks.certificate_discovery", minutes_ago=11, queue="slow", tenant="Acme"),
        task(
            11,
            "authentik.outposts.tasks.outpost_controller",
            uid="k8s-embedded",
            state="rejected",
            retries=5,
            minutes_ago=3,
        ),
        task(12, "authentik.enterprise.tasks.paused_thing", state="paused", minutes_ago=4),
    ]
    fake.put(*rows)
    fake.report = workers(
        ("authentik-worker-7d9f8c6b5-6jpvy", "2026.5.0", 12, True),
        ("authentik-worker-7d9f8c6b5-i3wcr", "2026.5.0", 20, True),
        ("authentik-worker-5c8b9d7f4-nm3pe", "2026.2.3", 9, True),
        ("authentik-worker-7d9f8c6b5-k4t8m", "2026.5.0", 40, False),
        ("authentik-worker-7d9f8c6b5-a1b2c", "2026.5.0", 600, False),
    )
    fake.xrays[rows[0].message_id] = xray(rows[0], fake.report, other=rows[6])
    fake.finished = {"done": 3_412, "rejected": 17}
    fake.health_value = FeedHealth(0, 0, None, (), 0, 5.0, NOW.timestamp(), 14.0, "", 0, 0)
    fake.rate_value = [0] * 40 + [2, 5, 3, 0, 1, 7, 12, 9, 4, 2, 1, 0, 3, 6, 2, 1, 0, 2, 4, 3]
    return fake, rejected


async def _table(pilot: Pilot) -> None:
    app: TaskTuiApp = pilot.app  # type: ignore[assignment]
    await wait_for(pilot, lambda: len(main_rows(app)) >= 8, what="the table")
    await wait_for(pilot, lambda: app.main_screen.worker_report is not None, what="workers checked")
    # The header is laid out again once its counts come (a reason above them makes it taller).
    await wait_for(pilot, lambda: "Successful 3,412" in screen_text(app), what="the header's counts")
    await pilot.pause()


async def _search(pilot: Pilot) -> None:
    await _table(pilot)
    # Off before the box shows: switched off later, a blink may have hidden the cursor already.
    pilot.app.main_screen.query_one(Input).cursor_blink = False
    await pilot.press("slash", *"ldap")
    await pilot.pause()


async def _paused(pilot: Pilot) -> None:
    await _table(pilot)
    await pilot.press("space")
    fake: FakeConsole = pilot.app.service  # type: ignore[assignment]
    fake.put(task(20, "authentik.events.tasks.event_trigger_handler", minutes_ago=0))
    fake.put(task(21, "authentik.events.tasks.event_trigger_handler", uid="2", minutes_ago=0))
    await pilot.pause()


async def _workers(pilot: Pilot) -> None:
    await _table(pilot)
    await pilot.press("w")
    await wait_for(pilot, lambda: pilot.app.main_screen.query_one(WorkerPanel).display, what="the panel")
    await pilot.pause()


async def _help(pilot: Pilot) -> None:
    await _table(pilot)
    await pilot.press("question_mark")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, HelpScreen), what="help")
    await pilot.pause()


async def _facets(pilot: Pilot) -> None:
    await _table(pilot)
    await pilot.press("f")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, FacetScreen), what="the facets")
    await pilot.pause()
    pilot.app.screen.query_one(Input).cursor_blink = False
    await pilot.pause()


async def _palette(pilot: Pilot) -> None:
    await _table(pilot)
    await pilot.press("ctrl+p")
    await pilot.pause()
    await pilot.press(*"retry")
    await pilot.pause(0.3)
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False
    await pilot.pause()


async def _select(pilot: Pilot, message_id: str) -> None:
    app: TaskTuiApp = pilot.app  # type: ignore[assignment]
    app.main_screen.query_one(TaskRows).move_to(main_rows(app).index(message_id))
    await pilot.pause()


async def _connection(pilot: Pilot) -> None:
    await _table(pilot)
    pilot.app.push_screen(ConnectionScreen(DEMO_DSN))
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ConnectionScreen), what="the dialog")
    await pilot.pause()


async def _retry_confirm(pilot: Pilot) -> None:
    await _table(pilot)
    await _select(pilot, REJECTED)
    await pilot.press("R")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ConfirmRetryModal), what="the confirmation")
    await pilot.pause()


async def _detail(pilot: Pilot) -> None:
    await _table(pilot)
    await _select(pilot, REJECTED)
    await pilot.press("enter")
    app = pilot.app
    await wait_for(
        pilot,
        lambda: (
            isinstance(app.screen, TaskDetailScreen) and app.screen.view(False).loaded and app.screen.view(True).loaded
        ),
        what="the detail",
    )
    await pilot.pause()


async def _detail_previous(pilot: Pilot) -> None:
    await _detail(pilot)
    await pilot.press("p")
    await pilot.pause()


async def _detail_fields(pilot: Pilot) -> None:
    await _detail(pilot)
    await pilot.press("i")
    await pilot.pause()


async def _bulk_preview(pilot: Pilot) -> None:
    await _table(pilot)
    await pilot.press("B")
    await wait_for(
        pilot, lambda: isinstance(pilot.app.screen, BulkRetryScreen) and pilot.app.screen.preview is not None
    )
    await pilot.pause()


async def _bulk_progress(pilot: Pilot) -> None:
    await _bulk_preview(pilot)
    screen = pilot.app.screen
    screen.rate = 0.2  # the second retry waits 5 s: the first one's progress is on screen meanwhile
    await pilot.press("y")
    await wait_for(pilot, lambda: screen.query_one(ProgressBar).progress >= 1, what="the first retry")
    await pilot.pause()


async def _bulk_summary(pilot: Pilot) -> None:
    await _bulk_preview(pilot)
    screen = pilot.app.screen
    screen.rate = 1_000.0
    await pilot.press("y")
    await wait_for(pilot, lambda: screen.summary is not None, what="the summary")
    await pilot.pause()


async def _export(pilot: Pilot, key: str) -> None:
    await pilot.press(key)
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ExportDialog), what="the export dialog")
    field = pilot.app.screen.query_one(Input)
    field.cursor_blink = False
    field.value = "/home/sre/incidents"  # the current folder by default: the same on every machine here
    field.cursor_position = len(field.value)
    await pilot.pause()


async def _export_tasks(pilot: Pilot) -> None:
    await _table(pilot)
    await _export(pilot, "x")


async def _export_bundle(pilot: Pilot) -> None:
    await _table(pilot)
    await _select(pilot, REJECTED)
    await _export(pilot, "X")


async def _every_status(pilot: Pilot) -> None:
    """The table with successful tasks shown, and the legend: every status's colour and symbol."""
    await _table(pilot)
    await pilot.press("h")
    await wait_for(pilot, lambda: len(main_rows(pilot.app)) >= 12, what="the successful tasks")  # type: ignore[arg-type]
    pilot.app.clear_notifications()  # "showing successful tasks" would cover the legend
    await pilot.pause(0.3)


def incidents(fake: FakeConsole) -> None:
    """The incident questions' answers on that busy morning: an LDAP outage rising, a mail error
    that just appeared; the default queue draining a storm, one stalled; a blocked LDAP sync."""
    ldap = "authentik.sources.ldap.tasks.ldap_sync"
    fake.error_report = error_report(
        error_group(
            ldap,
            "LDAPSocketOpenError: socket connection error while opening: [Errno <n>] Connection refused to <n>:<n>",
            [message_id(11), *(message_id(n) for n in range(30, 42))],
            trend=Trend.RISING,
            buckets=(0, 1, 0, 2, 4, 6),
            tenants=("ACME", "Default"),
            example_error="LDAPSocketOpenError: socket connection error while opening: [Errno 111] Connection refused"
            " to 10.0.3.7:389",
        ),
        error_group(
            "authentik.stages.email.tasks.send_mail",
            "SMTPRecipientsRefused: {'<email>': (<n>, b'Recipient address rejected')}",
            [message_id(5), message_id(50), message_id(51)],
            rejected=0,
            trend=Trend.NEW,
            buckets=(0, 0, 0, 0, 0, 3),
            minutes_ago=(2, 6),
        ),
        error_group(
            "authentik.blueprints.v1.tasks.apply_blueprint",
            "EntryInvalidError: Serializer errors {'slug': [ErrorDetail(string='This field must be unique.')]}",
            [message_id(60)],
            trend=Trend.FALLING,
            buckets=(2, 1, 1, 0, 0, 1),
            minutes_ago=(9, 55),
        ),
    )
    fake.queue_report = queue_report(
        queue_flow(
            "default",
            waiting=412,
            delayed=6,
            in_flight=8,
            arrived=(212, 240, 96, 30, 12),
            completed=(60, 64, 70, 66, 68),
            verdict=Verdict.DRAINING,
            text="empty in ~8 min",
            basis="426 unfinished (412 waiting, 6 delayed, 8 in flight); completing 68/min, arriving 12/min over"
            " the last minute",
            overdue_retries=2,
        ),
        queue_flow(
            "slow",
            waiting=14,
            completed=(3, 1, 0, 0, 0),
            verdict=Verdict.STALLED,
            text="stalled: nothing consumed for 3 min",
            basis="14 waiting, the oldest due for 4 min; 0 in flight",
        ),
        queue_flow("priority", verdict=Verdict.IDLE),
    )
    stuck = task(1, ldap, uid="partners-ldap", state="running", minutes_ago=29)
    fake.schedule_report = schedule_report(
        schedule(1, "authentik.core.tasks.clean_expired_models", None, latest=task(6, state="done", minutes_ago=9)),
        schedule(
            2,
            ldap,
            "partners-ldap",
            status=ScheduleStatus.BLOCKED,
            crontab="*/30 * * * *",
            next_in_minutes=-25,
            latest=stuck,
            blocking=stuck,
        ),
        schedule(3, ldap, "corp-directory", crontab="*/10 * * * *", next_in_minutes=7),
        schedule(
            4,
            "authentik.enterprise.tasks.enterprise_update_usage",
            None,
            status=ScheduleStatus.PAUSED,
            crontab="0 */2 * * *",
            tenant="ACME",
        ),
        schedule(
            5,
            "authentik.outposts.tasks.outpost_controller",
            "k8s-embedded",
            crontab="0 * * * *",
            next_in_minutes=41,
            latest=task(11, state="rejected", minutes_ago=3),
        ),
    )


def _view(key: str, view: type[IncidentView]) -> Scene:
    async def scene(pilot: Pilot) -> None:
        await _table(pilot)
        await pilot.press(key)
        await wait_for(
            pilot, lambda: isinstance(pilot.app.screen, view) and pilot.app.screen.loads > 0, what=view.__name__
        )
        await pilot.pause()

    return scene


def _incidents_app() -> TaskTuiApp:
    fake, _ = console()
    incidents(fake)
    return fake_app(fake, label=LABEL)


def _no_schedule_table_app() -> TaskTuiApp:
    fake, _ = console()
    fake.schedule_report = None
    return fake_app(fake, label=LABEL)


async def _xray(pilot: Pilot) -> None:
    await _table(pilot)
    await _select(pilot, message_id(1))  # running: its worker holds the lock
    await pilot.press("W")
    app = pilot.app
    await wait_for(pilot, lambda: isinstance(app.screen, XrayScreen) and app.screen.refreshes >= 1, what="x-ray")
    await pilot.pause()


def _app(
    mode: FeedMode = FeedMode.LIVE, detail_text: str = "", blind: float | None = None, theme: str | None = None
) -> TaskTuiApp:
    fake, _ = console()
    fake.status = replace(
        fake.status, mode=mode, detail=detail_text, blind_since=None if blind is None else NOW.timestamp() - blind
    )
    return fake_app(fake, label=LABEL, theme=theme)


def _installations_app() -> TaskTuiApp:
    """Three installations: the busy one on screen, a quiet one, and one whose server is down."""
    fake, _ = console()
    fake.summary_value = summary(LABEL, alive=3, workers=5, queued=1, delayed=1, errors=17)
    quiet = FakeConsole([task(30, "authentik.core.tasks.clean_expired_models", state="done")], label=US_LABEL)
    quiet.summary_value = summary(US_LABEL, alive=2, workers=2, queued=0, errors=0)
    down = FakeConsole(mode=FeedMode.RECONNECTING, label=STAGING_LABEL)
    refused = f"cannot reach the server at {STAGING_LABEL}: connection refused"
    down.set_status(FeedMode.RECONNECTING, refused, blind_since=NOW.timestamp() - 42)
    down.fail("summary", ConnectionFailed(refused), times=100)

    def settings(label: str) -> ConsoleSettings:
        return ConsoleSettings(label=label, clock=lambda: NOW)

    return TaskTuiApp(fake, settings("prod-eu"), others=[(quiet, settings("prod-us")), (down, settings("staging"))])


async def _installations(pilot: Pilot) -> None:
    await _table(pilot)
    app: TaskTuiApp = pilot.app  # type: ignore[assignment]
    await wait_for(
        pilot,
        lambda: (
            all(i.summary or i.summary_error for i in app.installations)
            and "unreadable" in screen_text(app)
            and "errors 1h 17" in screen_text(app)
        ),
        what="the summary rows",
    )
    await pilot.pause(1.2)  # the rows redraw once a second
    await pilot.pause()


SCENES: dict[str, tuple[Callable[[], TaskTuiApp], Scene]] = {
    "table-live": (_app, _table),
    "table-polling": (lambda: _app(FeedMode.POLLING, "run `tasktui trigger install` for live updates"), _table),
    "table-reconnecting": (
        lambda: _app(
            FeedMode.RECONNECTING,
            f"cannot reach the server at {LABEL}: connection to server on socket"
            ' "/run/postgresql/.s.PGSQL.5432" failed: No such file or directory. Is the server running locally'
            " and accepting connections on that socket?",
            blind=42.0,
        ),
        _table,
    ),
    "table-paused": (_app, _paused),
    "search": (_app, _search),
    "workers": (_app, _workers),
    "help": (_app, _help),
    "facets": (_app, _facets),
    "palette": (_app, _palette),
    "connection": (_app, _connection),
    "retry-confirm": (_app, _retry_confirm),
    "detail": (_app, _detail),
    "detail-previous-attempts": (_app, _detail_previous),
    "detail-fields": (_app, _detail_fields),
    "bulk-retry-preview": (_app, _bulk_preview),
    "bulk-retry-progress": (_app, _bulk_progress),
    "bulk-retry-summary": (_app, _bulk_summary),
    "export-tasks": (_app, _export_tasks),
    "export-bundle": (_app, _export_bundle),
    "table-schedule-alarm": (_incidents_app, _table),
    "errors": (_incidents_app, _view("E", ErrorsView)),
    "queues": (_incidents_app, _view("D", QueuesView)),
    "schedules": (_incidents_app, _view("S", SchedulesView)),
    "schedules-no-table": (_no_schedule_table_app, _view("S", SchedulesView)),
    "xray": (_app, _xray),
    "installations": (_installations_app, _installations),
}

# Every status in a few themes and without colour, at 80×24 (the colours derive from each theme:
# tasktui.ui.themes; tests/test_themes.py checks them in every theme).
LOOKS = ("tasktui-ansi", "textual-light", "nord", "gruvbox", "no-color")


@SIZES
@pytest.mark.parametrize("scene", list(SCENES))
def test_snapshot(snap_compare, scene: str, size: tuple[int, int]) -> None:
    make, run_before = SCENES[scene]
    assert snap_compare(make(), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("look", LOOKS)
def test_theme_snapshot(snap_compare, monkeypatch, look: str) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    if look == "no-color":
        monkeypatch.setenv("NO_COLOR", "1")  # read when the App is made
    app = _app(theme=None if look == "no-color" else look)
    assert snap_compare(app, terminal_size=(80, 24), run_before=_every_status)


def test_the_scenes_cover_every_screen() -> None:
    """A screen added to the console gets a scene here."""
    from tasktui.ui.screens import (
        errors_view,
        export,
        facets,
        help,
        main,
        queues_view,
        retry,
        schedules_view,
        task_detail,
        xray,
    )

    screens = {
        cls.__name__
        for module in (export, facets, help, main, retry, task_detail, errors_view, queues_view, schedules_view, xray)
        for cls in vars(module).values()
        if isinstance(cls, type)
        and cls.__module__ == module.__name__
        and cls.__name__.endswith(("Screen", "Modal", "Dialog", "View"))
    }
    assert screens == {
        "ExportDialog",
        "FacetScreen",
        "HelpScreen",
        "ConnectionScreen",
        "MainScreen",
        "BulkRetryScreen",
        "ConfirmRetryModal",
        "TaskDetailScreen",
        "ErrorsView",
        "QueuesView",
        "SchedulesView",
        "XrayScreen",
    }
