"""The console end to end: the real app on the real service against real PostgreSQL — what appears
on screen when another connection commits changes, and what it says when its connections are cut.
The screens' behaviour is tested on the fake service (tests/test_ui_*.py), the service itself in
tests/test_console_service.py."""

from __future__ import annotations

from tasktui.core.events import FeedMode
from tasktui.demo import broker
from tasktui.ui.widgets.task_table import TaskRows
from tests.retry_helpers import reject
from tests.ui_helpers import component_color, make_app, row_style, row_texts, screen_text, wait_for


def _ids_on_screen(app) -> list[str]:
    return [r.message_id for r in app.main_screen.query_one(TaskRows).rows]


async def test_committed_task_appears_live_with_its_status_colour(live_dsn: str, writer) -> None:
    app = make_app(live_dsn)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: app.service.feed.mode == FeedMode.LIVE, what="live feed")
        tenant = await broker.default_tenant(writer)
        queued = await broker.enqueue(writer, "authentik.sources.ldap.tasks.ldap_sync", tenant_id=tenant, uid="corp")
        await wait_for(pilot, lambda: queued in _ids_on_screen(app), what="queued task on screen")
        assert any("Waiting to run" in line and "ldap_sync:corp" in line for line in row_texts(app))
        # Move the cursor away so the row shows its own colour, not the cursor's.
        rejected = await reject(
            writer,
            "authentik.outposts.tasks.outpost_controller",
            uid="k8s",
            exc_type="LDAPException",
            message="connection refused",
        )
        # `reject` commits each step of the life cycle: the row can be on screen while still queued.
        await wait_for(
            pilot,
            lambda: rejected in _ids_on_screen(app) and app.service.task(rejected).state == "rejected",
            what="rejected task",
        )
        app.main_screen.query_one(TaskRows).move_to(_ids_on_screen(app).index(rejected))
        await pilot.pause()
        assert row_style(app, queued).color == component_color(app, "queued")
        app.main_screen.query_one(TaskRows).move_to(_ids_on_screen(app).index(queued))
        await pilot.pause()
        assert row_style(app, rejected).color == component_color(app, "error")
        await wait_for(pilot, lambda: "LIVE" in screen_text(app), what="LIVE")


async def test_reconnects_after_the_backend_is_terminated_and_says_how_long_it_was_blind(live_dsn: str, writer) -> None:
    app = make_app(live_dsn)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: app.service.feed.mode == FeedMode.LIVE, what="live feed")
        # Kill every tasktui backend, as an operator or a failover would.
        await writer.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = 'tasktui' AND pid <> pg_backend_pid() AND datname = current_database()"
        )
        await wait_for(pilot, lambda: app.service.feed.mode == FeedMode.RECONNECTING, what="reconnecting shown")
        await wait_for(pilot, lambda: "RECONNECTING" in screen_text(app), what="RECONNECTING")
        # A change committed while the console is blind is picked up by the reload.
        tenant = await broker.default_tenant(writer)
        missed = await broker.enqueue(writer, "authentik.while.blind", tenant_id=tenant)
        await wait_for(pilot, lambda: app.service.feed.mode == FeedMode.LIVE, within=15, what="live again")
        await wait_for(pilot, lambda: missed in _ids_on_screen(app), what="change made while blind")
        await wait_for(pilot, lambda: "blind; reloaded" in screen_text(app), what="blind; reloaded")
