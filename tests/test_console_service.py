"""The console service (tasktui.core.console.TaskConsole) against real PostgreSQL: what the
screens are given — the live window, counts, workers, a task's detail and logs, retries — and how
its sessions behave when the link fails, hangs or is closed. The UI is tested on a fake with the
same protocol (tests/fake_console.py); what the fake answers, this shows the real one answers."""

from __future__ import annotations

import asyncio
import os
import pickle
import time
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg import sql

from tasktui.core import db
from tasktui.core.console import TaskConsole
from tasktui.core.events import FeedMode
from tasktui.core.filters import TaskFilter
from tasktui.core.locks import worker_lock_key
from tasktui.core.logs import ATTRIBUTES_ON_DEMAND
from tasktui.core.pool import READ, RETRY
from tasktui.core.store import DEFAULT_SORT, SortKey
from tasktui.demo import broker
from tasktui.errors import ConnectionFailed, UserFacingError
from tests.feed_helpers import running_console, until
from tests.retry_helpers import reject, rejected_after_a_retry
from tests.session_helpers import close_and_wait
from tests.tcp_proxy import stalling_proxy

REFUSED = {"exc_type": "LDAPException", "message": "connection refused"}


def _ids(console: TaskConsole, task_filter: TaskFilter | None = None, sort: SortKey = DEFAULT_SORT) -> list[str]:
    return [row.message_id for row in console.view(task_filter or TaskFilter(), sort)]


# -- the live window -----------------------------------------------------------------------------


def _state(console: TaskConsole, message_id: str) -> str | None:
    """The task's state as the window holds it (None while it is not in the window yet)."""
    task = console.task(message_id)
    return task.state if task is not None else None


async def test_a_committed_task_is_in_the_window_live_with_its_status(live_dsn: str, writer) -> None:
    async with running_console(live_dsn) as (console, events):
        await until(lambda: console.mode == FeedMode.LIVE, what="live")
        tenant = await broker.default_tenant(writer)
        queued = await broker.enqueue(writer, "authentik.sources.ldap.tasks.ldap_sync", tenant_id=tenant, uid="corp")
        await until(lambda: queued in _ids(console), what="queued task in the window")
        assert console.task(queued).status.label == "Waiting to run"
        rejected = await reject(writer, "authentik.outposts.tasks.outpost_controller", uid="k8s", **REFUSED)
        await until(
            lambda: console.task(rejected) is not None and console.task(rejected).status.style == "error",
            what="rejected task, as an error",
        )
        assert events.updates and events.modes()[-1] == FeedMode.LIVE


async def test_counts_follow_the_database(live_dsn: str, writer) -> None:
    async with running_console(live_dsn) as (console, _):
        await until(lambda: console.mode == FeedMode.LIVE, what="live")
        await reject(writer, "authentik.x.fails", uid="1", **REFUSED)
        await reject(writer, "authentik.x.fails", uid="2", **REFUSED)
        await until(lambda: console.counts().by_group["Error"] == 2, what="Error count 2")


async def test_polling_without_the_trigger_sees_changes_that_do_not_touch_mtime(mirror_dsn: str) -> None:
    async with running_console(mirror_dsn, poll_interval=0.3) as (console, events):
        await until(lambda: console.mode == FeedMode.POLLING, what="polling mode")
        assert "tasktui trigger install" in events.statuses[-1][1].detail
        conn = await psycopg.AsyncConnection.connect(mirror_dsn, autocommit=True)
        try:
            tenant = await broker.default_tenant(conn)
            message_id = await broker.enqueue(conn, "authentik.polled", tenant_id=tenant)
            await until(lambda: message_id in _ids(console), what="polled task")
            assert await broker.claim(conn, message_id)
            await broker.start_processing(conn, message_id)
            await until(lambda: console.task(message_id).state == "running", what="running seen by polling")
        finally:
            await conn.close()


async def test_a_done_task_that_logged_an_error_is_effectively_an_error(live_dsn: str, writer) -> None:
    tenant = await broker.default_tenant(writer)
    message_id = await broker.enqueue(writer, "authentik.events.tasks.notification_transport", tenant_id=tenant)
    assert await broker.claim(writer, message_id)
    await broker.start_processing(writer, message_id)
    await broker.log(writer, message_id, "webhook returned 500", level="error", logger="authentik.events")
    await broker.succeed(writer, message_id)
    async with running_console(live_dsn) as (console, _):
        await until(lambda: console.task(message_id) is not None, what="task loaded")
        row = console.task(message_id)
        assert row.aggregated_status == "done" and row.effective_status == "error" and row.status_differs
        assert message_id in _ids(console)  # not hidden as successful


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
async def test_the_window_adapts_to_older_and_newer_table_shapes(mirror_dsn: str, alteration: str) -> None:
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
        async with running_console(mirror_dsn) as (console, _):
            await until(lambda: console.mode == FeedMode.LIVE, what="live feed")
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
            shown = TaskFilter(hide_successful=False)
            await until(lambda: len(_ids(console, shown)) == 1, what="task in the window")
            row = console.view(shown, DEFAULT_SORT)[0]
            # The legacy JSON log level reaches the status through authentik's own trigger.
            assert row.aggregated_status == "warning" and row.status.label == "Warning"
    finally:
        await conn.close()


async def test_load_older_pages_in_finished_tasks_by_keyset(live_dsn: str, writer) -> None:
    await writer.execute(
        "INSERT INTO authentik_tasks_task (message_id, queue_name, actor_name, message, state, mtime, _messages,"
        " _previous_messages, aggregated_status, tenant_id, retries)"
        " SELECT gen_random_uuid(), 'default', 'authentik.old.' || g, ''::bytea, 'done',"
        " now() - g * interval '1 minute', '[]', '[]', '', (SELECT tenant_uuid FROM authentik_tenants_tenant), 0"
        " FROM generate_series(1, 50) AS g"
    )
    async with running_console(live_dsn, window=20) as (console, _):
        await until(lambda: console.mode == FeedMode.LIVE and console.loaded == 20, what="bounded window")
        assert {r.actor_name for r in console.store.rows.values()} == {f"authentik.old.{g}" for g in range(1, 21)}
        # An old task changing live joins the window with its old mtime: the next page must
        # still continue from the window's edge, not from that task.
        await writer.execute("UPDATE authentik_tasks_task SET retries = 1 WHERE actor_name = 'authentik.old.50'")
        await until(lambda: console.loaded == 21, what="old task arrives live")
        assert await console.load_older() == 30  # the one that came live is in this page too
        assert console.loaded == 50


async def test_load_older_while_not_connected_says_so_in_one_line(mirror_dsn: str) -> None:
    console = TaskConsole(db.Target.resolve(mirror_dsn))
    with pytest.raises(ConnectionFailed, match=r"^not connected \(connecting\)"):
        await console.load_older()
    await console.aclose()


async def test_the_window_stays_bounded_as_tasks_finish_live(live_dsn: str, writer) -> None:
    async with running_console(live_dsn, window=10) as (console, _):
        await until(lambda: console.mode == FeedMode.LIVE, what="live feed")
        tenant = await broker.default_tenant(writer)
        for i in range(30):
            message_id = await broker.enqueue(writer, f"authentik.burst.{i}", tenant_id=tenant)
            assert await broker.claim(writer, message_id)
            await broker.start_processing(writer, message_id)
            await broker.succeed(writer, message_id)
        await until(lambda: console.loaded and all(r.state == "done" for r in console.store.rows.values()))
        await asyncio.sleep(0.3)
        # 10 kept, up to a quarter more before the oldest are dropped.
        assert 10 <= console.loaded <= 12
        assert "authentik.burst.29" in {r.actor_name for r in console.store.rows.values()}


async def test_facets_name_what_the_window_holds(live_dsn: str, writer) -> None:
    tenant = await broker.default_tenant(writer)
    await broker.enqueue(writer, "authentik.a", tenant_id=tenant, queue="default")
    await broker.enqueue(writer, "authentik.b", tenant_id=tenant, queue="slow")
    await broker.enqueue(writer, "authentik.b", tenant_id=tenant, queue="slow", uid="2")
    async with running_console(live_dsn) as (console, _):
        await until(lambda: console.loaded == 3, what="loaded")
        facets = console.facets()
        assert facets.queues == [("default", 1), ("slow", 2)]
        assert facets.tenants == [("Default", 3)]
        assert facets.actors == [("authentik.a", 1), ("authentik.b", 2)]


# -- workers -------------------------------------------------------------------------------------


async def test_workers_are_judged_as_authentik_judges_them(live_dsn: str, writer) -> None:
    async with running_console(live_dsn) as (console, _):
        report = await console.workers()
        assert report.alive == 0 and any("No workers connected" in a.message for a in report.alarms)
        # A worker boots: its row plus the session advisory lock it holds for its life.
        locks = await psycopg.AsyncConnection.connect(live_dsn, autocommit=True)
        try:
            worker_id = await broker.register_worker(writer, "worker-a.example", "2026.5.0")
            await locks.execute("SELECT pg_advisory_lock(%s)", (worker_lock_key(worker_id),))
            report = await console.workers()
            assert report.alive == 1 and report.workers[0].hostname == "worker-a.example"
            assert not any("No workers connected" in a.message for a in report.alarms)
        finally:
            await close_and_wait(writer, locks)
        # Its session ends: the lock is gone, so authentik would no longer count it alive.
        assert (await console.workers()).alive == 0


# -- one task ------------------------------------------------------------------------------------


async def test_a_task_in_full_and_its_logs_by_pages(live_dsn: str, writer) -> None:
    mid = await rejected_after_a_retry(writer)
    async with running_console(live_dsn) as (console, _):
        detail = await console.task_detail(mid)
        assert detail is not None and detail.state == "rejected" and detail.retries == 1
        assert detail.related == "authentik_sources_ldap.ldapsource:42" and detail.tenant == "Default"
        assert detail.message.summary() == "authentik.sources.ldap.tasks.ldap_sync()"
        assert detail.result.summary() == "LDAPException: server down"
        assert (detail.log_counts.current, detail.log_counts.previous) == (3, 3)
        current = await console.log_page(mid, previous=False, backward=True)
        assert [line.event for line in current.lines][-1] == "server down" and not current.has_more
        assert current.lines[-1].exception[0]["exc_type"] == "LDAPException"
        previous = await console.log_page(mid, previous=True, backward=True)
        assert [line.event for line in previous.lines] == [
            "Task has been queued",
            "Task is being processed",
            "first try timed out",
        ]
        # Jumps: the error line of the previous attempt, and the lines around it.
        problem = await console.problem_line(mid, previous=True, cursor=None, backward=True)
        assert problem is not None and problem.event == "first try timed out"
        window = await console.log_window(mid, problem, previous=True, limit=200)
        assert window.lines[window.index] == problem and len(window.lines) == 3


async def test_a_5_mb_attribute_comes_only_on_demand_and_bounded(live_dsn: str, writer) -> None:
    tenant = await broker.default_tenant(writer)
    mid = await broker.enqueue(writer, "authentik.blob", tenant_id=tenant, uid="blob")
    await writer.execute(
        'INSERT INTO authentik_tasks_tasklog (id, event, log_level, logger, "timestamp", attributes, previous, task_id)'
        " SELECT gen_random_uuid(), 'huge attributes', 'info', 'x', now() + interval '1 second',"
        " jsonb_build_object('blob', (SELECT string_agg(md5(i::text), '') FROM generate_series(1, 160000) AS i)),"
        " false, %s",
        (mid,),
    )
    async with running_console(live_dsn) as (console, _):
        page = await console.log_page(mid, previous=False, backward=True)
        line = page.lines[-1]
        assert line.event == "huge attributes" and not line.attributes_inline and line.attributes_size > 5_000_000
        value = await console.attributes(line)
        assert not value.complete and abs(value.size - line.attributes_size) < 100
        assert len(value.text) == ATTRIBUTES_ON_DEMAND and value.text.startswith('{"blob":')


async def test_a_malicious_pickle_is_decoded_to_a_placeholder_and_runs_nothing(live_dsn: str, writer, tmp_path) -> None:
    target = tmp_path / "pwned"

    class Evil:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (os.system, (f"touch {target}",))

    tenant = await broker.default_tenant(writer)
    mid = await broker.enqueue(writer, "authentik.evil.bare", tenant_id=tenant)
    await writer.execute(
        "UPDATE authentik_tasks_task SET message = %s WHERE message_id = %s", (pickle.dumps(Evil(), protocol=0), mid)
    )
    async with running_console(live_dsn) as (console, _):
        detail = await console.task_detail(mid)
        assert detail is not None and detail.message.problem == "not a dramatiq message (a posix.system)"
        assert detail.message.decoded.describe() == f"<posix.system('touch {target}')>"
    assert not target.exists()


async def test_a_deleted_task_has_no_detail(live_dsn: str, writer) -> None:
    mid = await rejected_after_a_retry(writer)
    async with running_console(live_dsn) as (console, _):
        assert await console.task_detail(mid) is not None
        await writer.execute("DELETE FROM authentik_tasks_tasklog WHERE task_id = %s", (mid,))
        await writer.execute("DELETE FROM authentik_tasks_task WHERE message_id = %s", (mid,))
        assert await console.task_detail(mid) is None
        assert await console.task_detail(str(uuid.uuid4())) is None


# -- the session pool ----------------------------------------------------------------------------


async def test_callers_that_arrive_together_share_one_session(live_dsn: str, writer) -> None:
    mid = await rejected_after_a_retry(writer)
    console = TaskConsole(db.Target.resolve(live_dsn))
    try:
        # Ten calls at once, none with a session yet: one connection, opened once.
        results = await asyncio.gather(*(console.task_detail(mid) for _ in range(10)), console.workers())
        assert all(result is not None for result in results)
        assert console.pool.opened == 1 and list(console.pool.open_sessions) == [READ]
        assert await _tasktui_backends(writer) == 1
    finally:
        await console.aclose()


async def test_closing_closes_every_session_and_refuses_more(live_dsn: str, writer) -> None:
    mid = await rejected_after_a_retry(writer)
    console = TaskConsole(db.Target.resolve(live_dsn))
    await console.task_detail(mid)
    await console.retry_capability()
    sessions = list(console.pool.open_sessions.values())
    assert sorted(console.pool.open_sessions) == [READ, RETRY]
    await console.aclose()
    assert all(session.conn.closed for session in sessions)
    with pytest.raises(ConnectionFailed, match="closing"):
        await console.workers()
    # The server notices the closed connections at once; its backends end a moment later.
    for _ in range(200):
        if not await _tasktui_backends(writer):
            break
        await asyncio.sleep(0.05)
    assert await _tasktui_backends(writer) == 0


async def _tasktui_backends(conn: psycopg.AsyncConnection) -> int:
    row = await (await conn.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'tasktui' AND datname = current_database()"
    )).fetchone()  # fmt: skip
    return int(row[0])


async def test_a_dropped_session_is_one_line_then_reconnected(live_dsn: str, writer) -> None:
    mid = await rejected_after_a_retry(writer)
    console = TaskConsole(db.Target.resolve(live_dsn))
    try:
        await console.task_detail(mid)
        pid = console.pool.open_sessions[READ].conn.info.backend_pid
        await writer.execute("SELECT pg_terminate_backend(%s)", (pid,))
        with pytest.raises(UserFacingError) as failure:
            await console.task_detail(mid)
        assert "\n" not in str(failure.value) and str(failure.value)
        assert READ not in console.pool.open_sessions  # dropped: the next call reconnects
        detail = await console.task_detail(mid)
        assert detail is not None and console.pool.opened == 2
    finally:
        await console.aclose()


async def test_a_hung_server_is_said_within_the_bound_and_the_next_call_reconnects(live_dsn: str) -> None:
    async with stalling_proxy(live_dsn) as proxy:
        console = TaskConsole(db.Target.resolve(proxy.dsn), link_timeout=1.0)
        try:
            assert (await console.workers()).alive == 0
            proxy.stall()
            started = time.monotonic()
            with pytest.raises(ConnectionFailed, match="did not answer"):
                # (Without the bound the call waits for ever: the proxy accepts every write.)
                await asyncio.wait_for(console.workers(), 30)
            waited = time.monotonic() - started
            # One statement timeout (5 s) plus the link timeout, then abandoned: not TCP's minutes.
            assert waited < db.STATEMENT_TIMEOUT_MS / 1000 + 1.0 + 2.0, waited
            proxy.resume()
            assert (await console.workers()).alive == 0
            assert console.pool.opened == 2
        finally:
            await console.aclose()


async def test_a_role_that_may_not_read_the_names_is_told_once(live_dsn: str, writer) -> None:
    role = f"tasktui_names_hidden_{uuid.uuid4().hex[:8]}"  # roles are cluster-wide: a name of its own
    await writer.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
    await writer.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
    try:
        for table in ("authentik_tasks_task", "authentik_tasks_tasklog", "authentik_tasks_workerstatus"):
            await writer.execute(
                sql.SQL("GRANT SELECT ON {} TO {}").format(sql.Identifier(table), sql.Identifier(role))
            )
        await reject(writer, "authentik.x", uid="1", **REFUSED)
        async with running_console(f"{live_dsn} user={role}") as (console, events):
            await console.workers()
            pid = console.pool.open_sessions[READ].conn.info.backend_pid
            await writer.execute("SELECT pg_terminate_backend(%s)", (pid,))
            with pytest.raises(UserFacingError):
                await console.workers()
            await console.workers()  # reconnected: the role has not changed, nothing new to say
            await until(lambda: console.mode == FeedMode.LIVE, what="live")
            assert len(events.notices) == 1 and "tenant names" in events.notices[0]
    finally:
        await writer.execute(
            sql.SQL("DROP OWNED BY {}; DROP ROLE {}").format(sql.Identifier(role), sql.Identifier(role))
        )


# -- retries -------------------------------------------------------------------------------------


async def test_a_retry_through_the_service_is_journaled(live_dsn: str, writer, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TASKTUI_STATE_DIR", str(tmp_path))
    message_id = await reject(writer, "authentik.sources.ldap.tasks.ldap_sync", uid="corp", **REFUSED)
    async with running_console(live_dsn) as (console, _):
        assert (await console.retry_capability())[0]
        result = await console.retry_selected([message_id])
        assert result.all_retried and result.journal_error is None
        await until(lambda: console.task(message_id) and console.task(message_id).state == "queued", what="queued")
    assert message_id in (tmp_path / "retries.jsonl").read_text()


async def test_bulk_preview_and_run_skip_duplicates_and_can_be_aborted(
    live_dsn: str, writer, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("TASKTUI_STATE_DIR", str(tmp_path))
    failing = [
        await reject(writer, "authentik.providers.scim.tasks.scim_sync", uid=f"p{i}", **REFUSED) for i in range(3)
    ]
    twin = await reject(writer, "authentik.outposts.tasks.outpost_controller", uid="k8s", **REFUSED)
    tenant = await broker.default_tenant(writer)
    await broker.enqueue(writer, "authentik.outposts.tasks.outpost_controller", tenant_id=tenant, uid="k8s")
    async with running_console(live_dsn) as (console, _):
        preview = await console.preview_bulk_retry(TaskFilter(hide_successful=False))
        assert len(preview.to_retry) == 3 and sum(preview.skipped.values()) == 1
        assert {t.message_id for t in preview.to_retry} == set(failing)
        progress = []
        summary = await console.run_bulk_retry(preview, rate=0, abort=asyncio.Event(), on_progress=progress.append)
        assert summary.tally() == "4 planned = 3 retried + 1 skipped + 0 failed + 0 not attempted"
        assert len(progress) == 3
        await until(lambda: all(_state(console, m) == "queued" for m in failing), what="queued live")
        assert _state(console, twin) == "rejected"
        # Aborted before it starts: nothing more is tried.
        again = await console.preview_bulk_retry(TaskFilter(hide_successful=False))
        abort = asyncio.Event()
        abort.set()
        aborted = await console.run_bulk_retry(again, rate=0, abort=abort, on_progress=progress.append)
        assert aborted.aborted and aborted.retried == 0


async def test_a_select_only_role_may_not_retry_and_is_told_why(live_dsn: str, writer) -> None:
    role = f"tasktui_viewer_{uuid.uuid4().hex[:8]}"  # roles are cluster-wide: a name of its own
    await writer.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
    await writer.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
    try:
        for table in ("authentik_tasks_task", "authentik_tasks_tasklog", "authentik_tasks_workerstatus",
                      "authentik_tenants_tenant", "django_content_type", "tasktui_console"):  # fmt: skip
            await writer.execute(
                sql.SQL("GRANT SELECT ON {} TO {}").format(sql.Identifier(table), sql.Identifier(role))
            )
        console = TaskConsole(db.Target.resolve(f"{live_dsn} user={role}"))
        try:
            allowed, reason = await console.retry_capability()
            assert not allowed and "lacks UPDATE on authentik_tasks_task" in reason
        finally:
            await console.aclose()
    finally:
        await writer.execute(
            sql.SQL("DROP OWNED BY {}; DROP ROLE {}").format(sql.Identifier(role), sql.Identifier(role))
        )


async def test_a_2025_8_task_reads_and_jumps_in_its_json_log_lists(mirror_dsn: str) -> None:
    from tests.test_detail_jump import legacy_list, problem

    conn = await psycopg.AsyncConnection.connect(mirror_dsn, autocommit=True)
    try:
        await conn.execute("DROP TABLE authentik_tasks_tasklog")
        await conn.execute("ALTER TABLE authentik_tasks_task DROP COLUMN eta CASCADE, DROP COLUMN retries CASCADE")
        mid = str(uuid.uuid4())
        base = datetime(2025, 8, 20, 10, tzinfo=UTC)
        current = await legacy_list(
            conn, 1_000, {100: problem("error", "legacy failure"), 500: problem("warning", "legacy warning")}, base
        )
        previous = await legacy_list(conn, 600, {50: problem("error", "earlier failure")}, base - timedelta(hours=1))
        await conn.execute(
            "INSERT INTO authentik_tasks_task (message_id, queue_name, actor_name, message, state, mtime, _uid,"
            " _messages, _previous_messages, aggregated_status, tenant_id)"
            " VALUES (%s, 'default', %s, %s, 'done', now(), 'legacy', %s, %s, 'error',"
            " (SELECT tenant_uuid FROM authentik_tenants_tenant LIMIT 1))",
            (mid, "authentik.legacy.actor", broker.encode_message(mid, "authentik.legacy.actor"), current, previous),
        )
        async with running_console(mirror_dsn, poll_interval=0.3) as (console, _):
            detail = await console.task_detail(mid)
            assert detail is not None and (detail.log_counts.current, detail.log_counts.previous) == (1_000, 600)
            tail = await console.log_page(mid, previous=False, backward=True)
            assert tail.lines[-1].event == "line 1000" and tail.lines[-1].legacy and tail.has_more
            # The jumps the screen makes with E, e and p, one query each.
            found = []
            cursor = tail.lines[0].cursor
            while (hit := await console.problem_line(mid, previous=False, cursor=cursor, backward=True)) is not None:
                found.append(hit.event)
                cursor = hit.cursor
            assert found == ["legacy warning", "legacy failure"]
            assert await console.problem_line(mid, previous=False, cursor=cursor, backward=False) is not None
            earlier = await console.problem_line(mid, previous=True, cursor=None, backward=True)
            assert earlier is not None and earlier.event == "earlier failure" and earlier.previous
            window = await console.log_window(mid, earlier, previous=True, limit=200)
            assert window.lines[window.index].event == "earlier failure" and window.index == 49
            assert not window.has_before and window.has_after  # 49 lines before it, 550 after
    finally:
        await conn.close()


async def test_new_log_lines_are_heard_of_with_their_task(live_dsn: str, writer) -> None:
    tenant = await broker.default_tenant(writer)
    mid = await broker.enqueue(writer, "authentik.events.tasks.notification_transport", tenant_id=tenant)
    async with running_console(live_dsn) as (console, events):
        await until(lambda: console.mode == FeedMode.LIVE, what="live")
        await broker.log(writer, mid, "sending to webhook (live)", logger="authentik.events")
        await until(lambda: any(mid in ids for ids, _ in events.side_changes), what="the task's log change")
        page = await console.log_page(mid, previous=False, backward=True)
        assert page.lines[-1].event == "sending to webhook (live)"


# -- exports -------------------------------------------------------------------------------------


async def test_the_incident_bundle_of_a_task_holds_it_in_full_with_the_fleet_counts_and_filter(
    live_dsn: str, writer
) -> None:
    mid = await rejected_after_a_retry(writer)
    async with running_console(live_dsn) as (console, _):
        task_filter = TaskFilter(statuses=frozenset({"rejected"}))
        bundle = await console.incident_bundle(mid, task_filter)
        report = bundle.report
        assert report.detail.message_id == mid and report.detail.state == "rejected"
        current, previous = report.groups
        assert [line.event for line in current.lines][-1] == "server down"
        assert [line.event for line in previous.lines][-1] == "first try timed out"
        assert current.exceptions[-1] is not None  # the traceback of the failure
        assert bundle.status.counts.get("rejected") == 1
        assert bundle.task_filter == task_filter and "%(f_statuses)s" in bundle.filter_sql
        assert bundle.versions.trigger_installed is not None and bundle.versions.postgres
        with pytest.raises(UserFacingError, match="no task with message id"):
            await console.incident_bundle(str(uuid.uuid4()), task_filter)
