"""What the console's header says about the live view, against real PostgreSQL: its counts of
tasks in flight are the table's rows (same flush), it says how many "successful" tasks logged
problems, and it shows the drift the re-check had to heal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tasktui.core.events import FeedMode
from tasktui.demo import broker
from tasktui.ui.widgets.task_table import TaskRows
from tests.ui_helpers import make_app, screen_text, wait_for


def _running_rows(app) -> int:
    return sum(1 for row in app.main_screen.query_one(TaskRows).rows if row.status.group == "Running")


async def test_header_counts_what_the_table_shows_and_the_drift_it_healed(live_dsn: str, writer) -> None:
    tenant = await broker.default_tenant(writer)
    finished_with_error = await broker.enqueue(writer, "authentik.logged.an.error", tenant_id=tenant)
    assert await broker.claim(writer, finished_with_error)
    await broker.start_processing(writer, finished_with_error)
    await broker.log(writer, finished_with_error, "could not reach the directory", level="error")
    await broker.succeed(writer, finished_with_error)
    app = make_app(live_dsn, reconcile_interval=1.0)
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await wait_for(pilot, lambda: app.service.feed.mode == FeedMode.LIVE, what="live")
        running = []
        for n in range(3):
            mid = await broker.enqueue(writer, f"authentik.runs.{n}", tenant_id=tenant)
            assert await broker.claim(writer, mid)
            await broker.start_processing(writer, mid)
            running.append(mid)
            # Every flush moves header and table together: whenever the header counts a task
            # running, the table shows it.
            await wait_for(pilot, lambda n=n: _running_rows(app) == n + 1, what=f"{n + 1} running rows")
            assert app.main_screen.header_state.counts.by_group["Running"] == _running_rows(app)
        await wait_for(pilot, lambda: "Running 3" in screen_text(app), what="Running 3 in the header")
        # authentik calls it successful; its logs say otherwise, and the header says how many.
        await wait_for(pilot, lambda: "(1 with errors/warnings)" in screen_text(app), what="problems counted")
        await wait_for(pilot, lambda: "drift 0/h" in screen_text(app), what="no drift")

        # A change whose notification never comes (trigger disabled in its transaction).
        async with writer.transaction():
            await writer.execute("ALTER TABLE authentik_tasks_task DISABLE TRIGGER tasktui_notify_task_update")
            await writer.execute(
                "UPDATE authentik_tasks_task SET state = 'postprocess' WHERE message_id = %s", (running[0],)
            )
            await writer.execute("ALTER TABLE authentik_tasks_task ENABLE TRIGGER tasktui_notify_task_update")
        await wait_for(
            pilot,
            lambda: app.service.store.rows[running[0]].state == "postprocess",
            within=10,
            what="the silent change healed by the re-check",
        )
        await wait_for(pilot, lambda: "drift 1/h" in screen_text(app), what="drift 1 shown")
        await pilot.press("H")
        await wait_for(pilot, lambda: "drift 1 in the last hour" in screen_text(app), what="health notice")


async def test_reconnected_news_fades_from_the_header(live_dsn: str, writer) -> None:
    now = [datetime.now(UTC)]
    app = make_app(live_dsn, clock=lambda: now[0])
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: app.service.feed.mode == FeedMode.LIVE, what="live")
        await writer.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = 'tasktui' AND pid <> pg_backend_pid() AND datname = current_database()"
        )
        await wait_for(pilot, lambda: "blind; reloaded" in screen_text(app), within=20, what="reconnect news")

        def thirty_one_seconds_later() -> bool:
            # Moved on at every look: a second outage on a crowded machine brings news of its own,
            # which must fade as well.
            now[0] = datetime.now(UTC) + timedelta(seconds=31)
            app.main_screen.show_header()
            return "blind; reloaded" not in screen_text(app)

        await wait_for(pilot, thirty_one_seconds_later, what="the news faded")
        assert "LIVE" in screen_text(app)
