"""Times in UTC by default, said so, and `z` for local time: the table's absolute times and its
column title, the header and the task detail all switch together, each naming the zone. The local
zone comes from TZ (Asia/Kolkata: +05:30, no summer time), set for the test."""

from __future__ import annotations

import time

import pytest

from tasktui.ui.app import TaskTuiApp
from tasktui.ui.screens.task_detail import TaskDetailScreen
from tasktui.ui.settings import TimeZoneChoice
from tasktui.ui.widgets.status_header import StatusHeader
from tests.conftest import run_cli
from tests.test_task_detail import open_detail, rejected_after_a_retry
from tests.ui_helpers import fake_app, screen_text, wait_for

# The rejected task last changed 3 minutes before the fake's clock (2026-01-15 12:00:00 UTC).
CHANGED_UTC = "2026-01-15 11:57:00 UTC"
CHANGED_KOLKATA = "2026-01-15 17:27:00 IST"


@pytest.fixture
def kolkata(monkeypatch):
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def _header(app: TaskTuiApp) -> str:
    header = app.main_screen.query_one(StatusHeader)
    return "\n".join("".join(s.text for s in header.render_line(y)) for y in range(header.size.height))


def _column_titles(app: TaskTuiApp) -> str:
    return next(line for line in screen_text(app).splitlines() if line.startswith("Status"))


async def test_z_switches_table_header_and_detail_between_utc_and_local_time(kolkata) -> None:
    fake, rejected = rejected_after_a_retry()
    app = fake_app(fake)
    async with app.run_test(size=(170, 30)) as pilot:
        await wait_for(pilot, lambda: CHANGED_UTC in screen_text(app), what="the time in UTC")
        # UTC by default, and labelled: the column's title and the header say so.
        assert "Changed (UTC)" in _column_titles(app) and "times UTC" in _header(app)
        await pilot.press("z")
        await wait_for(pilot, lambda: CHANGED_KOLKATA in screen_text(app), what="the time in local time")
        assert CHANGED_UTC not in screen_text(app)
        assert "Changed (IST)" in _column_titles(app) and "times IST" in _header(app)
        assert any("times in local time (IST)" in str(n.message) for n in app._notifications)

        # The detail shows local time too, with the zone's name; z there switches back for all.
        screen = await open_detail(pilot, rejected)
        await wait_for(pilot, lambda: "2026-01-15 17:27:00.000000 IST" in screen_text(app), what="detail local")
        await pilot.press("z")
        await wait_for(pilot, lambda: "2026-01-15 11:57:00.000000 UTC" in screen_text(app), what="detail in UTC")
        assert "IST" not in screen_text(app)
        assert isinstance(app.screen, TaskDetailScreen) and screen is app.screen
        await pilot.press("escape")
        await wait_for(pilot, lambda: CHANGED_UTC in screen_text(app), what="the table back in UTC")
        assert "Changed (UTC)" in _column_titles(app) and "times UTC" in _header(app)


async def test_the_config_files_local_time_opens_in_local_time(kolkata) -> None:
    fake, _ = rejected_after_a_retry()
    app = fake_app(fake, times=TimeZoneChoice(local=True))
    async with app.run_test(size=(170, 30)) as pilot:
        await wait_for(pilot, lambda: CHANGED_KOLKATA in screen_text(app), what="the time in local time")
        assert "times IST" in _header(app)


async def test_z_is_in_help_and_the_palette() -> None:
    fake, _ = rejected_after_a_retry()
    app = fake_app(fake)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        commands = {command.title: command.help for command in app.get_system_commands(app.screen)}
        assert commands["Times in UTC / in local time"] == "key: z"
        await pilot.press("question_mark")
        await pilot.pause(0.2)
        assert "Times in UTC / in local time" in screen_text(app)


def test_console_time_in_the_config_file(tmp_path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[console]\ntime = "local"\n')
    shown = run_cli("config", "show", "--json", env={"TASKTUI_CONFIG": str(config)})
    assert shown.returncode == 0, shown.stderr
    assert '"local"' in shown.stdout
    config.write_text('[console]\ntime = "CET"\n')
    bad = run_cli("config", "show", env={"TASKTUI_CONFIG": str(config)})
    assert bad.returncode == 2
    assert bad.stderr.strip().endswith("key `console.time`: expected one of utc, local, got 'CET'"), bad.stderr
