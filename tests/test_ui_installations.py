"""A console on several installations (`tasktui --dsn A --dsn B`), on fake services: a summary row
per installation above every main screen, switching with ], [ and the digits, each installation's
screens kept while another is shown, and one installation's trouble staying its own. (Two real
databases in one console, with a real fault: tests/test_console_installations.py.)"""

from __future__ import annotations

from textual.widgets import Input

from tasktui.core.events import FeedMode
from tasktui.errors import ConnectionFailed
from tasktui.ui.app import TaskTuiApp
from tasktui.ui.screens.help import HelpScreen
from tasktui.ui.screens.task_detail import TaskDetailScreen
from tasktui.ui.settings import ConsoleSettings
from tasktui.ui.widgets.installation_rows import InstallationRows
from tasktui.ui.widgets.status_header import StatusHeader
from tests.fake_console import NOW, FakeConsole, detail, summary, task
from tests.ui_helpers import fake_app, main_rows, screen_text, wait_for

LDAP = "authentik.sources.ldap.tasks.ldap_sync"
SCIM = "authentik.providers.scim.tasks.scim_sync"


def two_installations() -> tuple[TaskTuiApp, FakeConsole, FakeConsole]:
    """prod-eu with an LDAP sync running, staging with a SCIM sync rejected."""
    ldap = task(1, LDAP, uid="corp-directory", state="running", minutes_ago=1)
    prod = FakeConsole([ldap], details=[detail(ldap)], label="tasktui@db-eu/authentik")
    prod.summary_value = summary("tasktui@db-eu/authentik", alive=3, workers=3, queued=12, delayed=2, errors=4)
    staging = FakeConsole(
        [task(2, SCIM, uid="okta", state="rejected", retries=5, minutes_ago=3)], label="tasktui@db-staging/authentik"
    )
    staging.summary_value = summary("tasktui@db-staging/authentik", alive=1, workers=2, queued=0, errors=1)
    app = TaskTuiApp(
        prod,
        ConsoleSettings(label="prod-eu", clock=lambda: NOW),
        others=[(staging, ConsoleSettings(label="staging", clock=lambda: NOW))],
    )
    return app, prod, staging


def header_text(app: TaskTuiApp) -> str:
    return str(app.main_screen.query_one(StatusHeader).render())


async def test_a_row_per_installation_and_switching_by_key_keeps_each_ones_screens() -> None:
    app, prod, staging = two_installations()
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: "errors 1h 4" in screen_text(app), what="the summary rows")
        text = screen_text(app)
        assert "▶ 1 prod-eu" in text and "  2 staging" in text
        assert "LIVE" in text
        assert "workers 3/3 · queued 12 · errors 1h 4 · running 2 · delayed 2" in text
        assert "workers 1/2 · queued 0 · errors 1h 1 · running 2" in text
        assert main_rows(app) == [task(1).message_id]
        assert "prod-eu" in header_text(app)  # the header names the installation

        await pilot.press("right_square_bracket")
        await wait_for(pilot, lambda: main_rows(app) == [task(2).message_id], what="staging's table")
        assert "▶ 2 staging" in screen_text(app)
        await pilot.press("left_square_bracket")
        await wait_for(pilot, lambda: main_rows(app) == [task(1).message_id], what="prod's table")

        # A detail opened on prod stays open while staging is shown, and is there on the way back.
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, TaskDetailScreen), what="prod's detail")
        await pilot.press("2")
        await wait_for(pilot, lambda: "▶ 2 staging" in screen_text(app), what="staging from the detail")
        assert main_rows(app) == [task(2).message_id]
        await pilot.press("1")
        await wait_for(pilot, lambda: isinstance(app.screen, TaskDetailScreen), what="the detail again")
        assert app.screen.message_id == task(1).message_id
        await pilot.press("escape")
        await pilot.press("9")  # no ninth installation: nothing happens
        await pilot.pause()
        assert "▶ 1 prod-eu" in screen_text(app)

        # Each main screen follows its own installation while another is shown.
        prod.put(task(3, LDAP, uid="partners", state="queued"))
        await pilot.press("2")
        staging.put(task(4, SCIM, uid="azure", state="queued"))
        await wait_for(pilot, lambda: task(4).message_id in main_rows(app), what="staging's new task")
        await pilot.press("1")
        await wait_for(pilot, lambda: task(3).message_id in main_rows(app), what="prod's new task")
        assert task(4).message_id not in main_rows(app)


async def test_an_installation_that_goes_down_says_so_in_its_row_and_the_other_goes_on() -> None:
    app, prod, staging = two_installations()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: "errors 1h 1" in screen_text(app), what="the summary rows")
        staging.set_status(FeedMode.RECONNECTING, "cannot reach the server at db-staging: connection refused")
        staging.fail("summary", ConnectionFailed("cannot reach the server at db-staging: connection refused"))
        app.refresh_summaries()
        await wait_for(pilot, lambda: "unreadable: cannot reach" in screen_text(app), what="staging's row")
        line = next(row for row in screen_text(app).splitlines() if "2 staging" in row)
        assert "RECONNECTING" in line
        prod_line = next(row for row in screen_text(app).splitlines() if "1 prod-eu" in row)
        assert "LIVE" in prod_line and "errors 1h 4" in prod_line
        # prod's table goes on; its header says nothing of staging's trouble.
        prod.put(task(3, LDAP, uid="partners", state="queued"))
        await wait_for(pilot, lambda: task(3).message_id in main_rows(app), what="prod's new task")
        assert "LIVE" in header_text(app) and "RECONNECTING" not in header_text(app)
        # staging's own header says why.
        await pilot.press("2")
        await wait_for(pilot, lambda: "connection refused" in header_text(app), what="staging's header")
        assert "RECONNECTING" in header_text(app)


async def test_switch_keys_are_in_help_and_the_palette_and_do_not_steal_typing() -> None:
    app, _, _ = two_installations()
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: main_rows(app) == [task(1).message_id], what="the table")
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        help_screen = app.screen
        help_screen.query_one("VerticalScroll").scroll_end(animate=False)
        await wait_for(pilot, lambda: "Switch to installation N" in screen_text(app), what="the keys in help")
        await pilot.press("escape")
        # Typed into the search box, a digit is text, not a switch.
        await pilot.press("slash", "2")
        await pilot.pause()
        assert app.main_screen.query_one(Input).value == "2"
        assert "▶ 1 prod-eu" in screen_text(app)
        await pilot.press("escape")
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"staging")
        await wait_for(pilot, lambda: "Installation 2: staging" in screen_text(app), what="the palette")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "▶ 2 staging" in screen_text(app), what="switched from the palette")


async def test_one_installation_has_no_rows_and_no_switch_keys() -> None:
    fake = FakeConsole([task(1, LDAP)])
    app = fake_app(fake)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: main_rows(app) == [task(1).message_id], what="the table")
        assert not app.main_screen.query(InstallationRows)
        assert "summary" not in [name for name, _ in fake.calls]
        await pilot.press("right_square_bracket", "2")
        await pilot.pause()
        assert app.current_mode == "installation-1"
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        app.screen.query_one("VerticalScroll").scroll_end(animate=False)
        await pilot.pause()
        assert "installation" not in screen_text(app).lower()
