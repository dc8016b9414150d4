"""The harness gives each test its own real database."""

import psycopg

from tasktui.core import db
from tasktui.core.session import open_session
from tasktui.core.sql.tasks import DISTINCT_STATES, TaskQueries, read_task, window_params
from tasktui.demo import broker


def test_each_test_gets_a_fresh_mirror(mirror_dsn: str) -> None:
    with psycopg.connect(mirror_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM authentik_tasks_task").fetchone() == (0,)
        conn.execute("DELETE FROM authentik_tenants_tenant WHERE false")


async def test_window_query_reads_tasks_by_state(mirror_dsn: str) -> None:
    async with await open_session(db.Target.resolve(mirror_dsn)) as session:
        tenant = await broker.default_tenant(session.conn)
        ids = [
            await broker.enqueue(session.conn, "authentik.demo.sync", tenant_id=tenant, uid=str(i)) for i in range(3)
        ]
        states = [r[0] for r in await (await session.conn.execute(DISTINCT_STATES)).fetchall()]
        assert states == ["queued"]
        queries = TaskQueries.for_shape(session.shape)
        rows = await (await session.conn.execute(queries.recent_by_state, window_params(states, [10]))).fetchall()
        tasks = [read_task(r) for r in rows]
        assert sorted(t.message_id for t in tasks) == sorted(ids)
        assert {t.effective_status for t in tasks} == {"queued"}
        assert tasks[0].tenant_name == "Default"
