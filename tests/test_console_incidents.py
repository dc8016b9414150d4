"""The console service's incident questions (errors grouped, queues draining, schedules) against
real PostgreSQL: what the views are given is what tasktui.core.incidents answers, on a session of
its own, and an installation without a schedule table is said as such (MissingTables), not as a
failure. The views themselves are tested on the fake (tests/test_ui_incidents.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import psycopg
import pytest

from tasktui.core import db
from tasktui.core.console import TaskConsole
from tasktui.core.incidents.draining import Verdict
from tasktui.core.incidents.errors import Trend, retry_filter
from tasktui.core.incidents.schedules import ScheduleStatus
from tasktui.core.pool import INCIDENTS, READ
from tasktui.demo import broker
from tasktui.errors import MissingTables
from tests.retry_helpers import reject
from tests.test_incident_schedules import _install


@pytest.fixture
async def console(mirror_dsn: str) -> AsyncIterator[TaskConsole]:
    service = TaskConsole(db.Target.resolve(mirror_dsn))
    yield service
    await service.aclose()


async def test_error_groups_on_a_session_of_their_own_and_retried_through_the_guarded_preview(
    conn: psycopg.AsyncConnection, console: TaskConsole
) -> None:
    failed = [await reject(conn, "authentik.sources.ldap.tasks.ldap_sync", message=f"down {n}") for n in range(3)]
    await reject(conn, "authentik.stages.email.tasks.send_mail", message="refused")
    report = await console.error_groups(timedelta(minutes=30))
    assert [(g.actor_name, g.count) for g in report.groups] == [
        ("authentik.sources.ldap.tasks.ldap_sync", 3),
        ("authentik.stages.email.tasks.send_mail", 1),
    ]
    ldap = report.groups[0]
    assert ldap.trend is Trend.NEW and ldap.signature == "ValueError: down <n>"
    assert report.trend_span == timedelta(minutes=30)
    # The periodic views never hold up a task's detail: their own session, not "read".
    assert set(console.pool.open_sessions) == {INCIDENTS}
    preview = await console.preview_bulk_retry(retry_filter(ldap))
    assert {t.message_id for t in preview.tasks} == set(failed)


async def test_queue_flows_count_what_waits(conn: psycopg.AsyncConnection, console: TaskConsole) -> None:
    tenant = await broker.default_tenant(conn)
    for _ in range(4):
        await broker.enqueue(conn, "authentik.core.tasks.clean", tenant_id=tenant, queue="slow")
    done = await broker.enqueue(conn, "authentik.core.tasks.clean", tenant_id=tenant)
    assert await broker.claim(conn, done)
    await broker.start_processing(conn, done)
    await broker.succeed(conn, done)
    await broker.release(conn, done)
    report = await console.queue_flows(5)
    flows = {flow.queue_name: flow for flow in report.queues}
    assert flows["slow"].waiting == 4 and flows["slow"].arrived == 4
    assert flows["default"].completed == 1 and flows["default"].forecast.verdict is Verdict.KEEPING_UP
    assert report.minutes == 5 and set(console.pool.open_sessions) == {INCIDENTS}


async def test_schedules_with_the_blocked_one_named(conn: psycopg.AsyncConnection, console: TaskConsole) -> None:
    made = await _install(conn)
    report = await console.schedules()
    blocked = next(s for s in report.schedules if s.id == made.ids["blocked"])
    assert blocked.status is ScheduleStatus.BLOCKED and blocked.blocking_task is not None
    assert [a.task_id for a in report.alarms if a.code == "blocked"] == [blocked.blocking_task.message_id]
    assert READ not in console.pool.open_sessions


async def test_no_schedule_table_is_said_as_such(mirror_dsn: str, console: TaskConsole) -> None:
    with psycopg.connect(mirror_dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE authentik_tasks_schedules_schedule")
    with pytest.raises(MissingTables, match="no schedule table"):
        await console.schedules()
    # Said, not a broken session: the next question is answered on the same one.
    assert (await console.queue_flows(1)).minutes == 1
