"""Exports from the console (x: the tasks shown, to CSV or JSON; X: the selected task's incident
bundle), driven with Pilot on the fake service: the files written parse, hold what the table
showed, the bundle has its sections, and a path that cannot be used is said in the dialog in one
line, never a traceback. The service's bundle on real Postgres is in tests/test_console_service.py."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from textual.widgets import Input, RadioButton

from tasktui.ui.app import TaskTuiApp
from tasktui.ui.screens.export import ExportDialog
from tasktui.ui.widgets.task_table import TaskRows
from tests.fake_console import task
from tests.test_task_detail import rejected_after_a_retry
from tests.ui_helpers import fake_app, main_rows, screen_text, wait_for

HOSTILE = '=HYPERLINK("http://evil")\x1b[2J'


def _console():
    fake, rejected = rejected_after_a_retry(number=2)
    fake.put(
        task(1, "authentik.sources.ldap.tasks.ldap_sync", uid="corp", state="running", minutes_ago=1),
        task(3, "authentik.blueprints.v1.tasks.apply_blueprint", uid=HOSTILE, state="queued", minutes_ago=2),
        task(4, "authentik.core.tasks.clean_expired_models", state="done", minutes_ago=5),  # hidden: successful
    )
    return fake, rejected


async def _open(pilot, key: str) -> ExportDialog:
    app: TaskTuiApp = pilot.app  # type: ignore[assignment]
    await wait_for(pilot, lambda: len(main_rows(app)) == 3, what="the table")
    await pilot.press(key)
    await wait_for(pilot, lambda: isinstance(app.screen, ExportDialog), what="the export dialog")
    await pilot.pause()
    return app.screen  # type: ignore[return-value]


def _notices(app: TaskTuiApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def _written(pilot, what: str) -> Path:
    app: TaskTuiApp = pilot.app  # type: ignore[assignment]
    await wait_for(pilot, lambda: any(f"{what} written to " in n for n in _notices(app)), what="the notice")
    (notice,) = [n for n in _notices(app) if f"{what} written to " in n]
    return Path(notice.split(" written to ", 1)[1])


async def test_x_writes_the_tasks_shown_to_csv_in_the_current_folder_and_says_where(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    fake, rejected = _console()
    app = fake_app(fake)
    async with app.run_test(size=(100, 30)) as pilot:
        dialog = await _open(pilot, "x")
        shown = main_rows(app)
        # The current folder by default, CSV first; what is written is said.
        assert dialog.query_one("#export-where", Input).value == str(tmp_path)
        text = screen_text(app)
        assert "The 3 tasks shown (hiding successful)" in text and "CSV" in text and "JSON" in text
        await pilot.press("enter")
        path = await _written(pilot, "3 tasks")
        assert not isinstance(app.screen, ExportDialog)
    assert path.parent == tmp_path and path.name.startswith("tasktui-tasks-") and path.suffix == ".csv"
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    # The table's rows in the table's order (newest change first), the successful one hidden.
    assert [row["message_id"] for row in rows] == shown
    assert rejected in {row["message_id"] for row in rows}
    queued = next(row for row in rows if row["state"] == "queued")
    assert queued["uid"] == "'" + HOSTILE  # a spreadsheet would run it as a formula otherwise


async def test_the_tasks_shown_to_json_after_a_search_into_a_folder_typed_in(tmp_path) -> None:
    fake, rejected = _console()
    app = fake_app(fake)
    folder = tmp_path / "exports"
    folder.mkdir()
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: len(main_rows(app)) == 3, what="the table")
        await pilot.press("slash", *"ldap", "enter")
        await wait_for(pilot, lambda: len(main_rows(app)) == 2, what="the search")
        shown = main_rows(app)
        dialog = await _open_when_shown(pilot, "x")
        dialog.query_one("#export-where", Input).value = str(folder)
        json_button = next(b for b in dialog.query(RadioButton) if b.name == "json")
        await pilot.click(json_button)
        await pilot.pause()
        assert dialog.file_format == "json"
        await pilot.click("#export-write")
        path = await _written(pilot, "2 tasks")
    assert path.parent == folder and path.suffix == ".json"
    data = json.loads(path.read_text())
    assert [t["message_id"] for t in data] == shown
    assert all("ldap" in t["actor_name"] for t in data) and rejected in {t["message_id"] for t in data}
    assert data[0]["last_change"].endswith("+00:00")


async def _open_when_shown(pilot, key: str) -> ExportDialog:
    app: TaskTuiApp = pilot.app  # type: ignore[assignment]
    await pilot.press(key)
    await wait_for(pilot, lambda: isinstance(app.screen, ExportDialog), what="the export dialog")
    await pilot.pause()
    return app.screen  # type: ignore[return-value]


async def test_shift_x_writes_the_selected_tasks_incident_bundle_with_every_section(tmp_path) -> None:
    fake, rejected = _console()
    app = fake_app(fake)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: len(main_rows(app)) == 3, what="the table")
        app.main_screen.query_one(TaskRows).move_to(main_rows(app).index(rejected))
        dialog = await _open_when_shown(pilot, "X")
        assert "ldap_sync:corp-ldap (Error)" in screen_text(app)
        dialog.query_one("#export-where", Input).value = str(tmp_path)
        await pilot.press("enter")
        path = await _written(pilot, "incident bundle")
    assert [args[0] for name, args in fake.calls if name == "incident_bundle"] == [rejected]
    assert path.parent == tmp_path and path.name.startswith(f"tasktui-incident-{rejected[:8]}-")
    text = path.read_text()
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings == ["## Task", "## Workers", "## Counts", "## Filter", "## Versions"]
    # The task in full: its fields, both attempts' logs and the traceback.
    assert f"Task {rejected}" in text and "Current attempt: 3 log lines" in text
    assert "Previous attempts: 3 log lines" in text and "LDAPException: server down" in text
    assert "first try timed out" in text
    assert "@worker-1.example | 2026.5.0 |" in text  # the fake's fleet, in the workers table
    assert "hiding successful" in text and "WHERE " in text  # the filter, as SQL
    assert "tasktui 0.1.0" in text


@pytest.mark.parametrize("problem", ["exists", "unwritable", "missing folder"])
async def test_a_path_that_cannot_be_used_is_said_in_the_dialog_which_stays(tmp_path, problem: str) -> None:
    fake, _ = _console()
    app = fake_app(fake)
    if problem == "exists":
        target = tmp_path / "taken.csv"
        target.write_text("keep me")
        said = f"{target} exists already"
    elif problem == "unwritable":
        # sysfs refuses a new file even to root (a folder made read-only would not stop root).
        target = Path("/sys")
        said = "cannot write /sys/tasktui-tasks-"
    else:
        target = tmp_path / "no" / "such" / "file.csv"
        said = f"cannot write {target}: No such file or directory"
    async with app.run_test(size=(100, 30)) as pilot:
        dialog = await _open(pilot, "x")
        dialog.query_one("#export-where", Input).value = str(target)
        await pilot.press("enter")
        problem_line = dialog.query_one("#export-problem")
        await wait_for(pilot, lambda: "writing" not in str(problem_line.render()), what="the answer")
        await pilot.pause()
        assert isinstance(app.screen, ExportDialog)
        shown = str(problem_line.render())
        assert shown.startswith(said) and shown.count("\n") == 0, shown  # one line (wrapped on screen)
        if problem == "unwritable":
            assert shown.endswith(": Permission denied")
        # Another path then works, from the same dialog.
        dialog.query_one("#export-where", Input).value = str(tmp_path / "fresh.csv")
        await pilot.press("enter")
        path = await _written(pilot, "3 tasks")
    assert path == tmp_path / "fresh.csv" and path.read_text().startswith("message_id,")
    if problem == "exists":
        assert (tmp_path / "taken.csv").read_text() == "keep me"


async def test_the_bundle_of_a_task_gone_meanwhile_is_one_line_and_esc_cancels(tmp_path) -> None:
    fake, rejected = _console()
    app = fake_app(fake)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: len(main_rows(app)) == 3, what="the table")
        app.main_screen.query_one(TaskRows).move_to(main_rows(app).index(rejected))
        dialog = await _open_when_shown(pilot, "X")
        fake.details.clear()
        dialog.query_one("#export-where", Input).value = str(tmp_path)
        await pilot.press("enter")
        await wait_for(pilot, lambda: "no task with message id" in screen_text(app), what="the problem")
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, ExportDialog), what="the dialog to close")
    assert list(tmp_path.iterdir()) == []


async def test_both_exports_are_in_the_palette_and_help() -> None:
    fake, _ = _console()
    app = fake_app(fake)
    async with app.run_test(size=(120, 70)) as pilot:
        await wait_for(pilot, lambda: len(main_rows(app)) == 3, what="the table")
        commands = {command.title: command.help for command in app.get_system_commands(app.screen)}
        assert commands["Export the tasks shown to a CSV or JSON file"] == "key: x"
        assert commands["Incident bundle of this task: a Markdown file"] == "key: X"
        await pilot.press("question_mark")
        await pilot.pause(0.2)
        text = screen_text(app)
        assert "Export the tasks shown to a CSV or JSON file" in text and "Incident bundle of this task" in text
