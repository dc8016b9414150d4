"""Retrying from the console (R, B), read-only mode, and the audit journal: the real app driven by
Pilot, end to end on real Postgres for a single retry and an aborted bulk run, on the fake service
for the screens' other paths."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from textual.widgets import Button, ProgressBar

from tasktui.core.events import FeedMode
from tasktui.demo import broker
from tasktui.ui.screens.retry import BulkRetryScreen, ConfirmRetryModal
from tasktui.ui.widgets.task_table import TaskRows
from tests.fake_console import FakeConsole, detail, task
from tests.retry_helpers import reject
from tests.ui_helpers import fake_app, make_app, screen_text, wait_for

# How the tests' rejected tasks failed (what the preview groups by).
REFUSED = {"exc_type": "LDAPException", "message": "connection refused"}


@pytest.fixture(autouse=True)
def journal_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TASKTUI_STATE_DIR", str(tmp_path))
    return tmp_path


async def _select(pilot, message_id: str) -> None:
    """Put the cursor on a task once the table shows it."""
    rows = pilot.app.main_screen.query_one(TaskRows)
    await wait_for(pilot, lambda: any(r.message_id == message_id for r in rows.rows), what="task drawn")
    rows.move_to(next(i for i, r in enumerate(rows.rows) if r.message_id == message_id))


def _state(app, message_id: str) -> str | None:
    row = app.service.task(message_id)
    return row.state if row else None


async def test_retry_one_rejected_task_and_watch_it_run(live_dsn: str, writer, journal_dir: Path) -> None:
    message_id = await reject(
        writer,
        "authentik.sources.ldap.tasks.ldap_sync",
        uid="corp",
        exc_type="LDAPException",
        message="connection refused",
    )
    app = make_app(live_dsn)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.service.feed.mode == FeedMode.LIVE and _state(app, message_id) == "rejected")
        await _select(pilot, message_id)
        await pilot.press("R")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmRetryModal), what="confirmation")
        text = screen_text(app)
        assert "Retry this rejected task?" in text and "still" in text and "rejected" in text
        await pilot.press("y")
        await wait_for(pilot, lambda: _state(app, message_id) == "queued", what="queued again, live")
        # A worker picks it up: the console follows it without any refresh.
        assert await broker.claim(writer, message_id)
        await broker.start_processing(writer, message_id)
        await wait_for(pilot, lambda: _state(app, message_id) == "running", what="running")
        await broker.succeed(writer, message_id)
        await wait_for(pilot, lambda: _state(app, message_id) == "done", what="done")
    lines = [json.loads(line) for line in (journal_dir / "retries.jsonl").read_text().splitlines()]
    assert any(message_id in json.dumps(line) and "retried" in json.dumps(line) for line in lines)


async def test_retry_refuses_a_task_that_is_not_rejected() -> None:
    queued = task(1, "authentik.core.tasks.clean_expired_models").message_id
    app = fake_app(FakeConsole([task(1, "authentik.core.tasks.clean_expired_models")]))
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await wait_for(pilot, lambda: _state(app, queued) == "queued")
        await _select(pilot, queued)
        await pilot.press("R")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmRetryModal)
        await wait_for(pilot, lambda: "only rejected tasks can be retried" in screen_text(app), what="refusal")


async def test_cancelling_the_confirmation_changes_nothing() -> None:
    fake = FakeConsole([task(1, "authentik.x", uid="1", state="rejected")])
    (message_id,) = fake.store.rows
    app = fake_app(fake)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: _state(app, message_id) == "rejected")
        await _select(pilot, message_id)
        await pilot.press("R")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmRetryModal))
        await pilot.press("enter")  # focus is on Cancel: a stray Enter must not retry
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmRetryModal), what="closed")
        await pilot.pause(0.3)
    assert _state(app, message_id) == "rejected"
    assert not any(name == "retry_selected" for name, _ in fake.calls)


async def test_bulk_retry_previews_runs_and_skips_duplicates() -> None:
    failing = [task(i + 1, "authentik.providers.scim.tasks.scim_sync", uid=f"p{i}", state="rejected") for i in range(3)]
    # Same actor and uid as a task already queued: the bulk run must skip it.
    twin = task(4, "authentik.outposts.tasks.outpost_controller", uid="k8s", state="rejected", minutes_ago=5)
    queued = task(5, "authentik.outposts.tasks.outpost_controller", uid="k8s")
    fake = FakeConsole([*failing, twin, queued])
    app = fake_app(fake)
    async with app.run_test(size=(140, 45)) as pilot:
        await wait_for(pilot, lambda: all(_state(app, t.message_id) == "rejected" for t in [*failing, twin]))
        await pilot.press("B")
        await wait_for(pilot, lambda: isinstance(app.screen, BulkRetryScreen) and app.screen.preview is not None)
        text = screen_text(app)
        assert "to retry: 3" in text and "skipped: 1" in text
        assert "scim_sync" in text and "connection refused" in text
        await pilot.press("y")
        await wait_for(pilot, lambda: app.screen.summary is not None, within=20, what="bulk run finished")
        tally = "4 planned = 3 retried + 1 skipped + 0 failed + 0 not attempted"
        await wait_for(pilot, lambda: tally in screen_text(app), what=tally)
        await pilot.press("escape")
        await wait_for(pilot, lambda: all(_state(app, t.message_id) == "queued" for t in failing), what="queued live")
        assert _state(app, twin.message_id) == "rejected"


async def test_bulk_retry_can_be_aborted() -> None:
    hooks = "authentik.events.tasks.notification_transport"
    fake = FakeConsole([task(i + 1, hooks, uid=f"hook{i}", state="rejected") for i in range(12)])
    app = fake_app(fake)
    async with app.run_test(size=(140, 45)) as pilot:
        await wait_for(pilot, lambda: len(app.service.store.rows) == 12)
        await pilot.press("B")
        await wait_for(pilot, lambda: isinstance(app.screen, BulkRetryScreen) and app.screen.preview is not None)
        screen = app.screen
        screen.rate = 4.0  # slow enough to abort mid-run
        await pilot.press("y")
        await wait_for(pilot, lambda: screen.query_one("#bulk-progress").progress >= 1, what="first retry")
        await pilot.press("a")
        await wait_for(pilot, lambda: screen.summary is not None, within=20, what="aborted run")
        summary = screen.summary
        assert summary.aborted and 1 <= summary.retried < 12
        assert summary.not_attempted == 12 - summary.retried - summary.skipped
        await wait_for(pilot, lambda: "Aborted after" in screen_text(app), what="aborted")


def _buttons(screen: BulkRetryScreen) -> dict[str, bool]:
    """Which of the bulk screen's buttons are shown."""
    return {name: screen.query_one(f"#{name}", Button).display for name in ("start", "abort", "close")}


async def test_an_aborted_bulk_run_says_so_and_leaves_only_close(live_dsn: str, writer, journal_dir: Path) -> None:
    """The trial: y then a at once, while the newest task's work had been queued again since the
    preview. The summary says "Aborted", adds up, and gives the reason of every skip; after the
    run only Close is left, y does nothing, Esc closes."""
    hooks = "authentik.events.tasks.notification_transport"
    ldap = "authentik.sources.ldap.tasks.ldap_sync"
    await reject(writer, ldap, uid="corp", **REFUSED)
    await reject(writer, ldap, uid="corp", **REFUSED)  # the older one is a duplicate
    plain = [await reject(writer, hooks, uid=f"hook{i}", **REFUSED) for i in range(4)]
    app = make_app(live_dsn)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(
            pilot, lambda: len(app.service.store.rows) == 6 and all(_state(app, m) == "rejected" for m in plain)
        )
        await pilot.press("B")
        await wait_for(pilot, lambda: isinstance(app.screen, BulkRetryScreen) and app.screen.preview is not None)
        screen = app.screen
        assert "to retry: 5   skipped: 1" in screen_text(app)
        await wait_for(pilot, lambda: _buttons(screen) == {"start": True, "abort": False, "close": True})
        assert not screen.query_one("#start", Button).disabled
        # Meanwhile the newest task's work is queued again (authentik's schedule, another console).
        tenant = await broker.default_tenant(writer)
        requeued = await broker.enqueue(writer, hooks, tenant_id=tenant, uid="hook3")
        screen.rate = 0.5  # the second task would wait 2 s: time to abort after the first
        await pilot.press("y")
        await wait_for(pilot, lambda: screen.query_one("#bulk-progress", ProgressBar).progress >= 1, what="first")
        assert _buttons(screen) == {"start": False, "abort": True, "close": False}
        await pilot.press("a")
        await wait_for(pilot, lambda: screen.summary is not None, within=20, what="aborted run")

        tally = "6 planned = 0 retried + 2 skipped + 0 failed + 4 not attempted"
        await wait_for(pilot, lambda: tally in screen_text(app), what=tally)
        text = screen_text(app)
        assert re.search(r"Aborted after (<0\.1|\d\.\d)s: " + re.escape(tally), text), text
        assert "Done" not in text
        assert "the same actor and uid is already queued or running (found when re-checked)" in text
        assert "a newer rejected task of the same actor and uid is retried instead" in text
        assert "not attempted 4: aborted before their turn" in text
        assert f"{plain[-1]}  skipped when re-checked" in text and requeued in text
        # Only Close is left, and it has the focus.
        await wait_for(pilot, lambda: _buttons(screen) == {"start": False, "abort": False, "close": True})
        assert "Start (y)" not in text and "Abort (a" not in text and "Close (Esc)" in text
        assert app.focused is screen.query_one("#close", Button)
        await pilot.press("y")  # nothing to start: no second run, the summary stays
        await pilot.pause(0.3)
        assert app.screen is screen and tally in screen_text(app)
        assert screen.query_one("#bulk-progress", ProgressBar).progress == 1
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, BulkRetryScreen), what="closed")
        assert all(_state(app, m) == "rejected" for m in plain)
    lines = [json.loads(line) for line in (journal_dir / "retries.jsonl").read_text().splitlines()]
    skipped = [e for line in lines if line["action"] == "bulk_retry_tasks" for e in line["tasks"] if "skip" in e]
    assert {(e["skip"], e["skipped_at"]) for e in skipped} == {("older_duplicate", "preview"), ("active_twin", "run")}
    assert lines[-1]["skipped"] == {"active_twin": 1, "older_duplicate": 1} and lines[-1]["aborted"] is True


async def test_select_only_role_is_read_only_with_the_reason() -> None:
    # What the service says for such a role (tests/test_console_service.py checks it on a real one).
    reason = "role 'tasktui_viewer' lacks UPDATE on authentik_tasks_task, needed to retry tasks"
    fake = FakeConsole([task(1, "authentik.x", uid="1", state="rejected")], capability=(False, reason))
    (message_id,) = fake.store.rows
    app = fake_app(fake)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.access.read_only, what="automatic read-only")
        assert "lacks UPDATE on authentik_tasks_task" in app.access.reason
        await wait_for(pilot, lambda: "READ-ONLY (role 'tasktui_viewer' lacks UPDATE" in screen_text(app))
        assert "Retry" not in screen_text(app).splitlines()[-1]
        await _select(pilot, message_id)
        await pilot.press("R")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmRetryModal)
        await pilot.press("question_mark")
        await pilot.pause()
        assert "Retry this rejected task" not in screen_text(app)


async def test_retry_from_the_task_detail() -> None:
    from tasktui.ui.screens.task_detail import TaskDetailScreen

    row = task(1, "authentik.providers.scim.tasks.scim_sync", uid="okta", state="rejected")
    message_id = row.message_id
    app = fake_app(FakeConsole([row], details=[detail(row)]))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: _state(app, message_id) == "rejected")
        await _select(pilot, message_id)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, TaskDetailScreen), what="detail")
        await pilot.press("R")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmRetryModal), what="confirmation over the detail")
        await pilot.press("y")
        await wait_for(pilot, lambda: _state(app, message_id) == "queued", what="retried from the detail")
