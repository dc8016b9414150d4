"""The x-ray screen on the fake service: `W` from the table and from the detail, what is on screen,
the refresh on a timer and on `r`, a failed refresh, a task that is gone, and going back. (What
the service answers on a real database, with a session that holds the lock:
tests/test_console_service.py's x-ray test.)"""

from __future__ import annotations

from dataclasses import replace

from tasktui.errors import ConnectionFailed
from tasktui.ui.screens.main import MainScreen
from tasktui.ui.screens.task_detail import TaskDetailScreen
from tasktui.ui.screens.xray import XrayScreen
from tests.fake_console import FakeConsole, detail, task, workers, xray
from tests.ui_helpers import fake_app, main_rows, screen_text, wait_for

ACTOR = "authentik.sources.ldap.tasks.ldap_sync"


def _console() -> tuple[FakeConsole, str]:
    report = workers(("authentik-worker-7d9f8c6b5-6jpvy", "2026.5.0", 12, True))
    running = task(1, ACTOR, uid="corp-directory", state="running", minutes_ago=1)
    other = task(2, "authentik.sources.ldap.tasks.ldap_sync_page", uid="corp-directory:users:3", state="running")
    fake = FakeConsole([running, other], details=[detail(running)], report=report)
    fake.xrays[running.message_id] = xray(running, report, other=other)
    return fake, running.message_id


async def test_w_on_a_row_x_rays_its_task_and_refreshes_while_open() -> None:
    fake, running = _console()
    app = fake_app(fake)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: running in main_rows(app), what="the table")
        app.main_screen.rows.move_to(main_rows(app).index(running))
        await pilot.press("W")
        await wait_for(pilot, lambda: isinstance(app.screen, XrayScreen) and app.screen.refreshes >= 1, what="x-ray")
        text = screen_text(app)
        assert f"X-ray of {running}" in text
        assert "Verdict: running, claimed 1m ago; its worker holds the task's lock" in text
        assert "held by pid 4242" in text
        assert f"Worker: {fake.report.workers[0].worker_id} (2026.5.0) alive" in text
        assert "query running 42s" in text
        assert "wait Lock:transactionid" in text
        assert "task 22222222-2222-2222-2222-222222222222" in text  # its other lock
        assert "every 3 s, r now · read-only" in text

        # On the timer: a query that has run longer since.
        fake.xrays[running] = replace(
            fake.xrays[running],
            sessions=tuple(
                replace(s, query_seconds=95.0) if s.state == "active" else s for s in fake.xrays[running].sessions
            ),
        )
        await wait_for(pilot, lambda: "query running 2m" in screen_text(app), within=10, what="the timer")
        # On r, at once.
        calls = sum(1 for name, _ in fake.calls if name == "xray")
        await pilot.press("r")
        await wait_for(pilot, lambda: sum(1 for name, _ in fake.calls if name == "xray") > calls, what="r")

        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), what="back")


async def test_a_failed_refresh_keeps_the_last_x_ray_under_its_reason_and_a_gone_task_says_so() -> None:
    fake, running = _console()
    app = fake_app(fake)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: running in main_rows(app), what="the table")
        app.main_screen.rows.move_to(main_rows(app).index(running))
        await pilot.press("W")
        await wait_for(pilot, lambda: isinstance(app.screen, XrayScreen) and app.screen.refreshes >= 1, what="x-ray")
        fake.fail("xray", ConnectionFailed("cannot reach the server at db.example: timeout"))
        await pilot.press("r")
        await wait_for(pilot, lambda: "could not x-ray the task: cannot reach" in screen_text(app), what="the error")
        assert "(showing the last x-ray)" in screen_text(app)
        assert "held by pid 4242" in screen_text(app)
        # The next refresh heals it.
        await pilot.press("r")
        await wait_for(pilot, lambda: "could not x-ray" not in screen_text(app), what="healed")
        # The task is deleted (its result expired).
        del fake.xrays[running]
        await pilot.press("r")
        await wait_for(pilot, lambda: f"no task {running} any more" in screen_text(app), what="gone")


async def test_w_in_the_detail_x_rays_the_task_shown_and_escape_comes_back_to_it() -> None:
    fake, running = _console()
    app = fake_app(fake)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: running in main_rows(app), what="the table")
        app.main_screen.rows.move_to(main_rows(app).index(running))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, TaskDetailScreen), what="the detail")
        await pilot.press("W")
        await wait_for(pilot, lambda: isinstance(app.screen, XrayScreen) and app.screen.refreshes >= 1, what="x-ray")
        assert app.screen.message_id == running
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, TaskDetailScreen), what="back to the detail")


async def test_the_x_ray_is_in_help_and_the_palette() -> None:
    fake, running = _console()
    app = fake_app(fake)
    async with app.run_test(size=(120, 80)) as pilot:
        await wait_for(pilot, lambda: running in main_rows(app), what="the table")
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: "X-ray: the worker and sessions" in screen_text(app), what="help")
        await pilot.press("escape")
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"x-ray")
        await wait_for(pilot, lambda: "X-ray: the worker and sessions" in screen_text(app), what="the palette")
