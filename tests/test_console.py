"""The live console, driven through Pilot against real PostgreSQL: what appears on screen when
another connection commits changes."""

from __future__ import annotations

import psycopg
import pytest

from tasktui.core.events import FeedMode
from tasktui.demo import broker
from tasktui.ui.widgets.task_table import TaskRows
from tests.retry_helpers import reject
from tests.ui_helpers import component_color, make_app, row_style, row_texts, screen_text, wait_for

# How the tests' rejected tasks failed (what the preview groups by).
REFUSED = {"exc_type": "LDAPException", "message": "connection refused"}


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
        await wait_for(pilot, lambda: rejected in _ids_on_screen(app), what="rejected task")
        app.main_screen.query_one(TaskRows).move_to(_ids_on_screen(app).index(rejected))
        await pilot.pause()
        assert row_style(app, queued).color == component_color(app, "queued")
        app.main_screen.query_one(TaskRows).move_to(_ids_on_screen(app).index(queued))
        await pilot.pause()
        assert row_style(app, rejected).color == component_color(app, "error")
        await wait_for(pilot, lambda: "LIVE" in screen_text(app), what="LIVE")


async def test_header_counts_follow_the_database(live_dsn: str, writer) -> None:
    app = make_app(live_dsn)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: app.main_screen.header_state.counts is not None, what="counts")
        await reject(writer, "authentik.x.fails", uid="1", **REFUSED)
        await reject(writer, "authentik.x.fails", uid="2", **REFUSED)
        await wait_for(
            pilot,
            lambda: (
                app.main_screen.header_state.counts is not None
                and app.main_screen.header_state.counts.by_group["Error"] == 2
            ),
            within=15,
            what="Error count 2",
        )
        await wait_for(pilot, lambda: "Error 2" in screen_text(app), what="Error 2")


async def test_search_facets_and_hide_successful(live_dsn: str, writer) -> None:
    tenant = await broker.default_tenant(writer)
    ldap = await broker.enqueue(writer, "authentik.sources.ldap.tasks.ldap_sync", tenant_id=tenant, uid="corp")
    scim = await broker.enqueue(writer, "authentik.providers.scim.tasks.scim_sync", tenant_id=tenant, uid="okta")
    done = await broker.enqueue(writer, "authentik.core.tasks.clean_expired_models", tenant_id=tenant)
    assert await broker.claim(writer, done)
    await broker.start_processing(writer, done)
    await broker.succeed(writer, done)
    app = make_app(live_dsn)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: {ldap, scim} <= set(_ids_on_screen(app)), what="tasks loaded")
        assert done not in _ids_on_screen(app), "successful tasks are hidden by default, as in authentik"
        await pilot.press("h")
        await wait_for(pilot, lambda: done in _ids_on_screen(app), what="successful task shown")
        await pilot.press("slash", *"scim")
        await wait_for(pilot, lambda: _ids_on_screen(app) == [scim], what="search narrows to scim")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "/scim" in screen_text(app), what="/scim")
        await pilot.press("c")
        await wait_for(pilot, lambda: len(_ids_on_screen(app)) == 3, what="filters cleared")
        # Searching by message id works too.
        await pilot.press("slash", *ldap[:8], "enter")
        await wait_for(pilot, lambda: _ids_on_screen(app) == [ldap], what="search by message id")
        await pilot.press("escape")


async def test_sort_by_column_and_invert(live_dsn: str, writer) -> None:
    tenant = await broker.default_tenant(writer)
    for actor in ("b.actor", "a.actor", "c.actor"):
        await broker.enqueue(writer, actor, tenant_id=tenant)
    app = make_app(live_dsn)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: len(_ids_on_screen(app)) == 3, what="three tasks")
        while app.main_screen.sort.column != "actor":
            await pilot.press("o")
        actors = [r.actor_name for r in app.main_screen.query_one(TaskRows).rows]
        assert actors == ["a.actor", "b.actor", "c.actor"]
        await wait_for(pilot, lambda: "Actor:uid ▲" in screen_text(app), what="Actor:uid ▲")
        await pilot.press("i")
        await pilot.pause()
        assert [r.actor_name for r in app.main_screen.query_one(TaskRows).rows] == ["c.actor", "b.actor", "a.actor"]


async def test_pause_buffers_and_resume_applies_everything(live_dsn: str, writer) -> None:
    tenant = await broker.default_tenant(writer)
    app = make_app(live_dsn)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: app.service.feed.mode == FeedMode.LIVE, what="live feed")
        await pilot.press("space")
        await wait_for(pilot, lambda: "PAUSED" in screen_text(app), what="PAUSED")
        first = await broker.enqueue(writer, "authentik.paused.one", tenant_id=tenant)
        second = await broker.enqueue(writer, "authentik.paused.two", tenant_id=tenant)
        await wait_for(pilot, lambda: {first, second} <= set(app.service.store.rows), what="feed keeps buffering")
        await pilot.pause(0.2)
        assert first not in _ids_on_screen(app) and second not in _ids_on_screen(app)
        assert app.main_screen.header_state.buffered >= 2
        await pilot.press("space")
        await wait_for(pilot, lambda: {first, second} <= set(_ids_on_screen(app)), what="resume applies")
        await wait_for(pilot, lambda: "PAUSED" not in screen_text(app), what="no " + "PAUSED")


async def test_polling_fallback_without_the_trigger(mirror_dsn: str) -> None:
    app = make_app(mirror_dsn, poll_interval=0.3)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: app.service.feed.mode == FeedMode.POLLING, what="polling mode")
        await wait_for(pilot, lambda: "tasktui trigger install" in screen_text(app), what="tasktui trigger install")
        conn = await psycopg.AsyncConnection.connect(mirror_dsn, autocommit=True)
        try:
            tenant = await broker.default_tenant(conn)
            message_id = await broker.enqueue(conn, "authentik.polled", tenant_id=tenant)
            await wait_for(pilot, lambda: message_id in _ids_on_screen(app), what="polled task")
            # A state change that does not bump mtime is still seen (unfinished rows re-read).
            assert await broker.claim(conn, message_id)
            await broker.start_processing(conn, message_id)
            await wait_for(
                pilot,
                lambda: any(r.state == "running" for r in app.main_screen.query_one(TaskRows).rows),
                what="running seen by polling",
            )
        finally:
            await conn.close()


async def test_effective_status_shows_errors_authentik_hides(live_dsn: str, writer) -> None:
    tenant = await broker.default_tenant(writer)
    message_id = await broker.enqueue(writer, "authentik.events.tasks.notification_transport", tenant_id=tenant)
    assert await broker.claim(writer, message_id)
    await broker.start_processing(writer, message_id)
    await broker.log(writer, message_id, "webhook returned 500", level="error", logger="authentik.events")
    await broker.succeed(writer, message_id)
    app = make_app(live_dsn)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: message_id in _ids_on_screen(app), what="task loaded")
        row = app.service.store.rows[message_id]
        assert row.aggregated_status == "done" and row.effective_status == "error"
        assert any(line.startswith("Error*") for line in row_texts(app))


async def test_help_lists_every_binding_and_read_only_hides_retry(live_dsn: str) -> None:
    app = make_app(live_dsn, read_only=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        text = screen_text(app)
        assert "Pause / resume live updates" in text and "Search actor, uid or message id" in text
        assert "Retry this rejected task" not in text
        await pilot.press("escape")
        await pilot.pause()
        assert "Retry" not in screen_text(app).splitlines()[-1], "no retry key in the footer when read-only"


async def test_terminal_escapes_in_actor_names_are_shown_literally(live_dsn: str, writer) -> None:
    tenant = await broker.default_tenant(writer)
    await broker.enqueue(writer, "evil.\x1b[31mred[bold]x[/bold]", tenant_id=tenant, uid="\x1b]0;title\x07")
    app = make_app(live_dsn)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: len(_ids_on_screen(app)) == 1, what="task loaded")
        line = row_texts(app)[0]
        assert "\x1b" not in line
        assert "\\x1b[31mred[bold]x[/bold]" in line


async def test_reconnects_after_the_backend_is_terminated_and_says_how_long_it_was_blind(live_dsn: str, writer) -> None:
    app = make_app(live_dsn)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: app.service.feed.mode == FeedMode.LIVE, what="live feed")
        # Kill every tasktui backend, as an operator or a failover would.
        await writer.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = 'tasktui' AND pid <> pg_backend_pid()"
        )
        await wait_for(pilot, lambda: app.service.feed.mode == FeedMode.RECONNECTING, what="reconnecting shown")
        await wait_for(pilot, lambda: "RECONNECTING" in screen_text(app), what="RECONNECTING")
        # A change committed while the console is blind is picked up by the reload.
        tenant = await broker.default_tenant(writer)
        missed = await broker.enqueue(writer, "authentik.while.blind", tenant_id=tenant)
        await wait_for(pilot, lambda: app.service.feed.mode == FeedMode.LIVE, within=15, what="live again")
        await wait_for(pilot, lambda: missed in _ids_on_screen(app), what="change made while blind")
        await wait_for(pilot, lambda: "blind; reloaded" in screen_text(app), what="blind; reloaded")


@pytest.mark.parametrize(
    "alteration",
    [
        # authentik 2025.8: no task log table, no eta/retries columns.
        "DROP TABLE authentik_tasks_tasklog;"
        " ALTER TABLE authentik_tasks_task DROP COLUMN eta CASCADE, DROP COLUMN retries CASCADE",
        # Later releases (0009): tasks lose tenant_id.
        "ALTER TABLE authentik_tasks_task DROP COLUMN tenant_id CASCADE",
    ],
    ids=["2025.8-layout", "no-tenant-layout"],
)
async def test_console_adapts_to_older_and_newer_layouts(mirror_dsn: str, alteration: str) -> None:
    from tasktui.core import db
    from tasktui.core.trigger import install

    conn = await psycopg.AsyncConnection.connect(mirror_dsn, autocommit=True)
    try:
        await conn.execute(alteration)
        installer = await db.connect(db.Target.resolve(mirror_dsn))
        await install(installer)
        await installer.close()
        columns = {r[0] for r in await (await conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'authentik_tasks_task'"
        )).fetchall()}  # fmt: skip
        app = make_app(mirror_dsn)
        async with app.run_test(size=(120, 36)) as pilot:
            await wait_for(pilot, lambda: app.service.feed.mode == FeedMode.LIVE, what="live feed")
            values = {
                "message_id": "'7d6e1c5e-0000-4000-8000-000000000001'", "queue_name": "'default'",
                "actor_name": "'authentik.legacy.actor'", "message": "''::bytea", "state": "'done'",
                "mtime": "now()", "_messages": """'[{"log_level": "warning", "event": "careful"}]'""",
                "_previous_messages": "'[]'", "aggregated_status": "''", "retries": "0",
                "tenant_id": "(SELECT tenant_uuid FROM authentik_tenants_tenant LIMIT 1)",
            }  # fmt: skip
            values = {k: v for k, v in values.items() if k in columns}
            await conn.execute(
                f"INSERT INTO authentik_tasks_task ({', '.join(values)}) VALUES ({', '.join(values.values())})"
            )
            await pilot.press("h")  # show successful (and warning) tasks
            await wait_for(pilot, lambda: len(_ids_on_screen(app)) == 1, what="task shown")
            row = app.main_screen.query_one(TaskRows).rows[0]
            # The legacy JSON log level reaches the status through authentik's own trigger.
            assert row.aggregated_status == "warning" and row.status.label == "Warning"
            assert "Warning" in row_texts(app)[0]
    finally:
        await conn.close()


async def test_worker_panel_shows_liveness_and_the_header_alarms_without_workers(live_dsn: str, writer) -> None:
    from tasktui.core.locks import worker_lock_key

    app = make_app(live_dsn)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.main_screen.worker_report is not None, what="worker report")
        await wait_for(pilot, lambda: "No workers connected" in screen_text(app), what="No workers connected")
        # A worker boots: its row plus the session advisory lock it holds for its life.
        locks = await psycopg.AsyncConnection.connect(live_dsn, autocommit=True)
        try:
            worker_id = await broker.register_worker(writer, "worker-a.example", "2026.5.0")
            await locks.execute("SELECT pg_advisory_lock(%s)", (worker_lock_key(worker_id),))
            await pilot.press("w")
            await wait_for(
                pilot,
                lambda: app.main_screen.worker_report is not None and app.main_screen.worker_report.alive == 1,
                what="worker alive (pushed by the trigger)",
            )
            await pilot.pause()
            text = screen_text(app)
            assert "worker-a.example" in text and "ALIVE" in text
            assert "No workers connected" not in text
        finally:
            await locks.close()
        # Its session ends: the lock is gone, so authentik would no longer count it alive.
        app.main_screen.refresh_workers()
        await wait_for(pilot, lambda: app.main_screen.worker_report.alive == 0, what="worker no longer alive")


async def test_facets_filter_by_status_and_queue(live_dsn: str, writer) -> None:
    from tasktui.ui.screens.facets import FacetScreen

    tenant = await broker.default_tenant(writer)
    queued = await broker.enqueue(writer, "authentik.a", tenant_id=tenant, queue="default")
    other_queue = await broker.enqueue(writer, "authentik.b", tenant_id=tenant, queue="slow")
    rejected = await reject(writer, "authentik.c", uid="1", **REFUSED)
    app = make_app(live_dsn)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: {queued, other_queue, rejected} <= set(_ids_on_screen(app)), what="loaded")
        await pilot.press("f")
        await wait_for(pilot, lambda: isinstance(app.screen, FacetScreen), what="facet picker")
        app.screen.query_one("#facet-status").select("rejected")

        def marked(key: str) -> bool:
            (line,) = [line for line in screen_text(app).splitlines() if f"({key})" in line]
            return "✓" in line

        # The selection shows as a tick, not only as a colour.
        await wait_for(pilot, lambda: marked("rejected") and not marked("done"), what="a tick on rejected only")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: _ids_on_screen(app) == [rejected], what="status facet")
        await wait_for(pilot, lambda: "status=rejected" in screen_text(app), what="status=rejected")
        await pilot.press("c", "f")
        await wait_for(pilot, lambda: isinstance(app.screen, FacetScreen), what="facet picker again")
        app.screen.query_one("#facet-queue").select("slow")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: _ids_on_screen(app) == [other_queue], what="queue facet")


async def test_load_older_pages_in_finished_tasks_by_keyset(live_dsn: str, writer) -> None:
    await writer.execute(
        "INSERT INTO authentik_tasks_task (message_id, queue_name, actor_name, message, state, mtime, _messages,"
        " _previous_messages, aggregated_status, tenant_id, retries)"
        " SELECT gen_random_uuid(), 'default', 'authentik.old.' || g, ''::bytea, 'done',"
        " now() - g * interval '1 minute', '[]', '[]', '', (SELECT tenant_uuid FROM authentik_tenants_tenant), 0"
        " FROM generate_series(1, 50) AS g"
    )
    app = make_app(live_dsn, window=20)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await wait_for(pilot, lambda: len(app.service.store) == 20, what="bounded window")
        newest = {r.actor_name for r in app.service.store.rows.values()}
        assert newest == {f"authentik.old.{g}" for g in range(1, 21)}
        # An old task changing live joins the window with its old mtime: the next page must
        # still continue from the window's edge, not from that task.
        await writer.execute("UPDATE authentik_tasks_task SET retries = 1 WHERE actor_name = 'authentik.old.50'")
        await wait_for(pilot, lambda: len(app.service.store) == 21, what="old task arrives live")
        await pilot.press("m")
        await wait_for(pilot, lambda: len(app.service.store) == 50, what="older page")
        await wait_for(pilot, lambda: "loaded 30 older finished tasks" in screen_text(app), what="notice")


async def test_live_updates_while_another_screen_is_on_top(live_dsn: str, writer) -> None:
    app = make_app(live_dsn)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: app.service.feed.mode == FeedMode.LIVE, what="live feed")
        from textual.screen import Screen

        await app.push_screen(Screen())  # a full screen on top, as the task detail is
        await pilot.pause()
        tenant = await broker.default_tenant(writer)
        message_id = await broker.enqueue(writer, "authentik.under.help", tenant_id=tenant)
        await wait_for(pilot, lambda: message_id in _ids_on_screen(app), what="table updated underneath")
        app.main_screen.tick()
        app.pop_screen()
        await pilot.pause()
        assert any("authentik.under.help" in line for line in row_texts(app))


async def test_window_stays_bounded_as_tasks_finish_live(live_dsn: str, writer) -> None:
    app = make_app(live_dsn, window=10)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.service.feed.mode == FeedMode.LIVE, what="live feed")
        tenant = await broker.default_tenant(writer)
        for i in range(30):
            message_id = await broker.enqueue(writer, f"authentik.burst.{i}", tenant_id=tenant)
            assert await broker.claim(writer, message_id)
            await broker.start_processing(writer, message_id)
            await broker.succeed(writer, message_id)
        await wait_for(
            pilot, lambda: app.service.store.rows and all(r.state == "done" for r in app.service.store.rows.values())
        )
        await pilot.pause(0.3)
        # 10 kept, up to a quarter more before the oldest are dropped.
        assert 10 <= len(app.service.store) <= 12
        assert "authentik.burst.29" in {r.actor_name for r in app.service.store.rows.values()}
