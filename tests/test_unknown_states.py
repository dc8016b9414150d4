"""A state or status tasktui does not know (a newer authentik's) is shown — never filtered away
by the default "hide successful" — and coloured as Unknown, in the table, the detail and a bulk
retry's SQL filter alike."""

from __future__ import annotations

from tasktui.core import db
from tasktui.core.filters import TaskFilter
from tasktui.core.session import open_session
from tasktui.core.sql.tasks import TaskQueries
from tasktui.core.status import UNKNOWN
from tasktui.demo import broker
from tasktui.ui.screens.task_detail import TaskDetailScreen
from tasktui.ui.widgets.task_table import TaskRows
from tests.notify_helpers import execute
from tests.ui_helpers import component_color, make_app, row_style, screen_text, wait_for


async def test_an_unknown_state_is_shown_by_default_and_coloured_as_unknown(live_dsn: str, writer) -> None:
    tenant = await broker.default_tenant(writer)
    paused = await broker.enqueue(writer, "authentik.test.paused", tenant_id=tenant)
    done = await broker.enqueue(writer, "authentik.test.done", tenant_id=tenant)
    queued = await broker.enqueue(writer, "authentik.test.queued", tenant_id=tenant)
    update = "UPDATE authentik_tasks_task SET state = %s, mtime = now() WHERE message_id = %s"
    execute(live_dsn, update, ("paused", paused))
    execute(live_dsn, update, ("done", done))
    assert execute(live_dsn, "SELECT aggregated_status FROM authentik_tasks_task WHERE message_id = %s", (paused,)) == [
        ("paused",)
    ]
    app = make_app(live_dsn)
    async with app.run_test(size=(120, 30)) as pilot:
        assert app.main_screen.task_filter.hide_successful
        rows = app.main_screen.query_one(TaskRows)
        await wait_for(pilot, lambda: paused in [r.message_id for r in rows.rows], what="the paused task, shown")
        assert done not in [r.message_id for r in rows.rows]  # successful ones stay hidden
        rows.move_to([r.message_id for r in rows.rows].index(queued))  # the cursor's colour is its own
        await pilot.pause()
        assert row_style(app, paused).color == component_color(app, "unknown")
        assert f"{UNKNOWN.label} " in screen_text(app)
        rows.move_to([r.message_id for r in rows.rows].index(paused))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, TaskDetailScreen), what="the detail")
        await wait_for(pilot, lambda: "Unknown [paused]" in screen_text(app), what="its status")

    # The SQL form of the same filter (bulk retry, `retry --filter`) keeps it as well.
    async with await open_session(db.Target.resolve(live_dsn)) as session:
        queries = TaskQueries.for_shape(session.shape)
    where, params = TaskFilter().where_sql(queries)
    kept = execute(live_dsn, f"{queries.select} WHERE {where}", params)
    assert {row[0] for row in kept} == {paused, queued}
