"""A state or status tasktui does not know (a newer authentik's) is shown — never filtered away
by the default "hide successful" — and coloured as Unknown, in the table, the detail and a bulk
retry's SQL filter alike."""

from __future__ import annotations

from tasktui.core import db
from tasktui.core.events import FeedMode
from tasktui.core.filters import TaskFilter
from tasktui.core.session import open_session
from tasktui.core.sql.tasks import TaskQueries
from tasktui.core.status import UNKNOWN
from tasktui.core.store import DEFAULT_SORT
from tasktui.demo import broker
from tasktui.ui.screens.task_detail import TaskDetailScreen
from tasktui.ui.widgets.task_table import TaskRows
from tests.fake_console import FakeConsole, detail, task
from tests.feed_helpers import running_console, until
from tests.notify_helpers import execute
from tests.ui_helpers import component_color, fake_app, row_style, screen_text, wait_for


async def test_an_unknown_state_is_loaded_kept_by_the_default_filter_and_by_its_sql(live_dsn: str, writer) -> None:
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
    async with running_console(live_dsn) as (console, _):
        await until(lambda: console.mode == FeedMode.LIVE and console.loaded == 3, what="three tasks loaded")
        shown = [row.message_id for row in console.view(TaskFilter(), DEFAULT_SORT)]
        assert paused in shown and queued in shown
        assert done not in shown  # successful ones stay hidden
        assert console.task(paused).status == UNKNOWN

    # The SQL form of the same filter (bulk retry, `retry --filter`) keeps it as well.
    async with await open_session(db.Target.resolve(live_dsn)) as session:
        queries = TaskQueries.for_shape(session.shape)
    where, params = TaskFilter().where_sql(queries)
    kept = execute(live_dsn, f"{queries.select} WHERE {where}", params)
    assert {row[0] for row in kept} == {paused, queued}


async def test_an_unknown_state_is_shown_by_default_and_coloured_as_unknown() -> None:
    paused = task(1, "authentik.test.paused", state="paused", minutes_ago=1)
    done = task(2, "authentik.test.done", state="done", minutes_ago=2)
    queued = task(3, "authentik.test.queued", minutes_ago=3)
    app = fake_app(FakeConsole([paused, done, queued], details=[detail(paused)]))
    async with app.run_test(size=(120, 30)) as pilot:
        assert app.main_screen.task_filter.hide_successful
        rows = app.main_screen.query_one(TaskRows)

        def ids() -> list[str]:
            return [r.message_id for r in rows.rows]

        await wait_for(pilot, lambda: paused.message_id in ids(), what="the paused task, shown")
        assert done.message_id not in ids()  # successful ones stay hidden
        rows.move_to(ids().index(queued.message_id))  # the cursor's colour is its own
        await pilot.pause()
        assert row_style(app, paused.message_id).color == component_color(app, "unknown")
        assert f"{UNKNOWN.label} " in screen_text(app)
        rows.move_to(ids().index(paused.message_id))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, TaskDetailScreen), what="the detail")
        await wait_for(pilot, lambda: "Unknown [paused]" in screen_text(app), what="its status")
