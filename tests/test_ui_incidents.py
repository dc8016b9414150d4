"""The incident views (E errors grouped, D queues draining, S schedules) on the fake service: each
shows its rows and the selected one in full, Enter opens the task's detail, R hands an error group
to the guarded bulk retry with the group's filter, a missing schedule table is a line, the header
raises an alarm on a blocked schedule, help and the palette list the views, and each reads again
on its timer (not while a task's detail covers it)."""

from __future__ import annotations

from textual.pilot import Pilot
from textual.widgets import DataTable

from tasktui.core.incidents.draining import Verdict
from tasktui.core.incidents.errors import Trend, retry_filter
from tasktui.core.incidents.schedules import ScheduleStatus
from tasktui.ui.app import TaskTuiApp
from tasktui.ui.screens.errors_view import ErrorsView
from tasktui.ui.screens.help import HelpScreen
from tasktui.ui.screens.incident_view import IncidentView
from tasktui.ui.screens.queues_view import QueuesView
from tasktui.ui.screens.retry import BulkRetryScreen
from tasktui.ui.screens.schedules_view import SchedulesView
from tasktui.ui.screens.task_detail import TaskDetailScreen
from tests.fake_console import FakeConsole, detail, message_id, task
from tests.fake_incidents import error_group, error_report, queue_flow, queue_report, schedule, schedule_report
from tests.ui_helpers import fake_app, screen_text, wait_for

LDAP = "authentik.sources.ldap.tasks.ldap_sync"
MAIL = "authentik.stages.email.tasks.send_mail"
SOCKET = "LDAPSocketOpenError: socket connection error while opening: [Errno <n>] Connection refused to <n>:<n>"


def failing() -> FakeConsole:
    rows = [task(n, LDAP, uid=f"corp-{n}", state="rejected", minutes_ago=n) for n in (1, 2, 3)]
    rows.append(task(4, MAIL, state="done", status="error", minutes_ago=4))
    fake = FakeConsole(rows, details=[detail(r) for r in rows])
    fake.error_report = error_report(
        error_group(LDAP, SOCKET, [r.message_id for r in rows[:3]], trend=Trend.RISING, buckets=(0, 0, 0, 1, 0, 2)),
        error_group(MAIL, "Recipient <email> refused", [rows[3].message_id], rejected=0, trend=Trend.NEW),
    )
    return fake


async def open_view(pilot: Pilot, key: str, view: type[IncidentView]) -> IncidentView:
    app: TaskTuiApp = pilot.app  # type: ignore[assignment]
    await wait_for(pilot, lambda: app.main_screen.is_mounted, what="the main screen")
    await pilot.press(key)
    await wait_for(pilot, lambda: isinstance(app.screen, view) and app.screen.loads > 0, what=view.__name__)
    await pilot.pause()
    return app.screen  # type: ignore[return-value]


async def test_errors_view_shows_its_groups_and_opens_the_newest_task() -> None:
    fake = failing()
    app = fake_app(fake)
    async with app.run_test(size=(120, 36)) as pilot:
        view = await open_view(pilot, "E", ErrorsView)
        text = screen_text(app)
        assert "⏎ Task" in text  # the footer: Enter is the view's, from the registry
        assert view.query_one(DataTable).row_count == 2
        assert "rising" in text and "new" in text and "sources.ldap.tasks.ldap_sync" in text
        assert "LDAPSocketOpenError: socket connection error" in text
        assert "last 1h: 4 failed in 2 groups" in text
        # The selected group in full: its trend over the buckets, its newest task.
        assert "last 1h per 10m:" in text and "0 0 0 1 0 2" in text and message_id(1) in text
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, TaskDetailScreen), what="the detail")
        assert app.screen.message_id == message_id(1)
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is view, what="back to the view")


async def test_retry_group_opens_the_guarded_bulk_retry_with_the_groups_filter() -> None:
    fake = failing()
    app = fake_app(fake)
    async with app.run_test(size=(120, 36)) as pilot:
        await open_view(pilot, "E", ErrorsView)
        await pilot.press("R")
        await wait_for(pilot, lambda: isinstance(app.screen, BulkRetryScreen), what="the bulk retry")
        screen = app.screen
        assert screen.task_filter == retry_filter(fake.error_report.groups[0])
        await wait_for(pilot, lambda: screen.preview is not None, what="the preview")
        assert {t.message_id for t in screen.preview.tasks} == {message_id(n) for n in (1, 2, 3)}
        assert "3 listed tasks" in screen_text(app)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ErrorsView), what="back to the view")
        # A group with nothing rejected has nothing to retry: said, no screen.
        await pilot.press("down", "R")
        await pilot.pause()
        assert isinstance(app.screen, ErrorsView)
        assert [c for c in fake.calls if c[0] == "preview_bulk_retry"].__len__() == 1


async def test_read_only_has_no_retry_group() -> None:
    fake = failing()
    app = fake_app(fake, read_only=True)
    async with app.run_test(size=(120, 36)) as pilot:
        await open_view(pilot, "E", ErrorsView)
        await pilot.press("R")
        await pilot.pause()
        assert isinstance(app.screen, ErrorsView)
        assert "Retry group" not in screen_text(app)


async def test_nothing_failed_is_a_line() -> None:
    app = fake_app(FakeConsole())
    async with app.run_test(size=(80, 24)) as pilot:
        await open_view(pilot, "E", ErrorsView)
        assert "Nothing failed in the last 1h." in screen_text(app)


async def test_queues_view_shows_each_queue_and_its_forecast_with_the_basis() -> None:
    fake = FakeConsole()
    fake.queue_report = queue_report(
        queue_flow(
            "default",
            waiting=420,
            in_flight=8,
            arrived=(40, 60, 80, 30, 10),
            completed=(30, 35, 40, 45, 50),
            verdict=Verdict.DRAINING,
            text="empty in ~11 min",
            basis="428 unfinished (420 waiting, 0 delayed, 8 in flight); completing 50/min, arriving 10/min",
            overdue_retries=3,
        ),
        queue_flow("slow", verdict=Verdict.STALLED, text="stalled: nothing consumed for 3 min", waiting=12),
    )
    app = fake_app(fake)
    async with app.run_test(size=(120, 36)) as pilot:
        await open_view(pilot, "D", QueuesView)
        text = screen_text(app)
        assert "empty in ~11 min" in text and "stalled: nothing consumed for 3 min" in text
        assert "2 queues, 1 stalled; rates over the last minute" in text
        assert "428 unfinished (420 waiting" in text  # the basis of the selected queue
        assert "3 retries past the eta by over 30 s" in text
        # In and out per minute: the newest minute's, as the forecast reads them.
        assert any(line.split()[:6] == ["default", "420", "0", "8", "10", "50"] for line in text.splitlines())
        # A queue has no task to open: the footer does not offer one, and Enter opens nothing.
        assert "⏎ Task" not in text and "r Reload" in text
        await pilot.press("enter")
        await pilot.pause(0.2)
        assert isinstance(app.screen, QueuesView)


async def test_schedules_view_opens_the_blocking_task_and_the_header_raises_the_alarm() -> None:
    stuck = task(1, LDAP, uid="partners-ldap", state="running", minutes_ago=29)
    done = task(2, "authentik.core.tasks.clean_expired_models", state="done", minutes_ago=2)
    fake = FakeConsole([stuck, done], details=[detail(stuck), detail(done)])
    fake.schedule_report = schedule_report(
        schedule(1, "authentik.core.tasks.clean_expired_models", None, latest=done),
        schedule(
            2,
            LDAP,
            "partners-ldap",
            status=ScheduleStatus.BLOCKED,
            next_in_minutes=-25,
            latest=stuck,
            blocking=stuck,
        ),
        schedule(3, "authentik.enterprise.tasks.enterprise_update_usage", None, status=ScheduleStatus.PAUSED),
    )
    app = fake_app(fake)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: "1 schedule blocked" in screen_text(app), what="the header's alarm")
        assert "S: schedules" in screen_text(app)
        view = await open_view(pilot, "S", SchedulesView)
        text = screen_text(app)
        assert "3 schedules (1 ok, 1 paused, 1 blocked)" in text
        assert "overdue 25m" in text and "paused" in text and "*/5 * * * *" in text
        # Blocked first, selected: its alarm in full below.
        assert view.selected_key == fake.schedule_report.schedules[1].id
        assert "authentik skips a schedule while any of its tasks" in screen_text(app)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, TaskDetailScreen), what="the detail")
        assert app.screen.message_id == stuck.message_id


async def test_no_schedule_table_is_a_line_not_an_error_and_no_alarm() -> None:
    fake = FakeConsole()
    fake.schedule_report = None
    app = fake_app(fake)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_view(pilot, "S", SchedulesView)
        text = screen_text(app)
        assert "this database has no schedule table" in text
        assert "could not" not in text and "error" not in text.lower().replace("errors", "")
        calls = sum(c[0] == "schedules" for c in fake.calls)
        await pilot.press("r")
        await pilot.pause()
        assert "this database has no schedule table" in screen_text(app)
        assert sum(c[0] == "schedules" for c in fake.calls) == calls + 1
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.main_screen, what="the table")
        assert "schedule" not in screen_text(app) and not app.main_screen.schedule_alarms


async def test_help_and_the_palette_list_the_views() -> None:
    app = fake_app(FakeConsole())
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: app.main_screen.is_mounted, what="the main screen")
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        text = screen_text(app)
        for line in ("What is failing: errors grouped", "Is it draining?", "Schedules: next run"):
            assert line in text
        await pilot.press("escape")
        titles = {c.title for c in app.get_system_commands(app.main_screen)}
        assert {
            "What is failing: errors grouped by signature and actor",
            "Is it draining? Per queue: waiting, rates, forecast",
            "Schedules: next run, latest task, blocked ones",
        } <= titles


async def test_a_view_reads_again_on_its_timer_but_not_under_a_detail(monkeypatch) -> None:
    monkeypatch.setattr(QueuesView, "REFRESH_SECONDS", 0.3)
    fake = FakeConsole([task(1, LDAP)], details=[detail(task(1, LDAP))])
    app = fake_app(fake)
    async with app.run_test(size=(80, 24)) as pilot:
        view = await open_view(pilot, "D", QueuesView)
        await wait_for(pilot, lambda: view.loads >= 3, what="two more reads")
        app.push_screen(TaskDetailScreen(fake, message_id(1), app.settings, app.access))
        await wait_for(pilot, lambda: isinstance(app.screen, TaskDetailScreen), what="the detail")
        covered = view.loads
        await pilot.pause(1.0)
        assert view.loads == covered
        await pilot.press("escape")
        await wait_for(pilot, lambda: view.loads > covered, what="a read once shown again")


async def test_a_failed_read_is_said_and_the_last_answer_stays() -> None:
    fake = failing()
    app = fake_app(fake)
    async with app.run_test(size=(120, 36)) as pilot:
        view = await open_view(pilot, "E", ErrorsView)
        from tasktui.errors import ConnectionFailed

        fake.fail("error_groups", ConnectionFailed("cannot reach the server at db.example"))
        await pilot.press("r")
        await wait_for(pilot, lambda: "could not read again" in screen_text(app), what="the failure")
        assert view.query_one(DataTable).row_count == 2
        assert "cannot reach the server at db.example" in screen_text(app)
