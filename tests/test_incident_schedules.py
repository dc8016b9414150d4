"""authentik's schedules (tasktui.core.incidents.schedules and `tasktui schedules`): read from the
schedule tables of two tenant schemas, each with its own content type numbering, linked to tasks
made through the broker life cycle; a schedule blocked by a stuck task; no table; no right."""

from __future__ import annotations

import json
import pickle
import uuid
from dataclasses import dataclass
from datetime import timedelta

import psycopg
import pytest
from psycopg import sql

from tasktui.core import db
from tasktui.core.incidents.schedules import ScheduleStatus, load_schedules
from tasktui.core.session import Session, open_session
from tasktui.demo import broker
from tasktui.errors import MissingPrivilege, MissingTables
from tests.conftest import run_cli
from tests.retry_helpers import role

LDAP = "authentik.sources.ldap.tasks.ldap_sync"
CLEAN = "authentik.core.tasks.clean_expired_models"


@dataclass
class Installation:
    acme: uuid.UUID  # the second tenant
    public_type: int  # the schedule content type id in public
    acme_type: int  # …and in t_acme, where the ids differ
    ids: dict[str, str]  # name -> schedule id


async def _schedule(
    conn: psycopg.AsyncConnection,
    schema: str,
    actor: str,
    uid: str | None,
    *,
    next_run: str,
    crontab: str = "*/5 * * * *",
) -> str:
    schedule_id = str(uuid.uuid4())
    await conn.execute(
        sql.SQL(
            "INSERT INTO {}.authentik_tasks_schedules_schedule (id, actor_name, args, kwargs, options, crontab,"
            " paused, next_run, identifier, _uid) VALUES (%s, %s, %s, %s, %s, %s, false, now() + %s::interval, %s, %s)"
        ).format(sql.Identifier(schema)),
        (
            schedule_id,
            actor,
            pickle.dumps(()),
            pickle.dumps({}),
            pickle.dumps({"uid": uid}),
            crontab,
            next_run,
            uid,
            uid,
        ),
    )
    return schedule_id


async def _sent(
    conn: psycopg.AsyncConnection, schedule_id: str, content_type: int, actor: str, *, tenant: uuid.UUID, end: str
) -> str:
    """A task the scheduler sent, taken to `end`: 'done', 'running' (claimed, lock held on this
    session), or 'queued'."""
    message_id = await broker.enqueue(conn, actor, tenant_id=tenant, rel_obj=(content_type, schedule_id))
    if end == "queued":
        return message_id
    assert await broker.claim(conn, message_id)
    await broker.start_processing(conn, message_id)
    if end == "done":
        await broker.succeed(conn, message_id)
        await broker.release(conn, message_id)
    return message_id


async def _install(conn: psycopg.AsyncConnection) -> Installation:
    public_type = (
        await (
            await conn.execute(
                "INSERT INTO django_content_type (app_label, model) VALUES ('authentik_tasks_schedules', 'schedule')"
                " RETURNING id"
            )
        ).fetchone()
    )[0]  # type: ignore[index]
    acme = uuid.uuid4()
    await conn.execute(
        "INSERT INTO authentik_tenants_tenant (tenant_uuid, schema_name, name, ready)"
        " VALUES (%s, 't_acme', 'ACME', true)",
        (acme,),
    )
    # A tenant schema of its own: its schedule table and content types, numbered differently. The
    # task table's foreign key checks ids against public's table, where 901 is something else.
    await conn.execute("INSERT INTO django_content_type (id, app_label, model) VALUES (901, 'authentik_core', 'group')")
    await conn.execute("CREATE SCHEMA t_acme")
    await conn.execute("CREATE TABLE t_acme.django_content_type (LIKE django_content_type INCLUDING ALL)")
    await conn.execute(
        "INSERT INTO t_acme.django_content_type (id, app_label, model) VALUES (900, 'authentik_core', 'user'),"
        " (901, 'authentik_tasks_schedules', 'schedule')"
    )
    await conn.execute(
        "CREATE TABLE t_acme.authentik_tasks_schedules_schedule (LIKE authentik_tasks_schedules_schedule INCLUDING ALL)"
    )
    default = await broker.default_tenant(conn)
    ids = {
        "ok": await _schedule(conn, "public", CLEAN, None, next_run="3 minutes"),
        "blocked": await _schedule(conn, "public", LDAP, "partners-ldap", next_run="-25 minutes"),
        "overdue": await _schedule(conn, "public", LDAP, "corp-ad", next_run="-10 minutes"),
        "due": await _schedule(conn, "public", CLEAN + "_2", None, next_run="-30 seconds"),
        "paused": await _schedule(
            conn, "public", "authentik.enterprise.tasks.enterprise_update_usage", None, next_run="1 hour"
        ),
        "acme": await _schedule(conn, "t_acme", LDAP, "acme-ldap", next_run="2 minutes"),
    }
    await conn.execute("UPDATE authentik_tasks_schedules_schedule SET paused = true WHERE id = %s", (ids["paused"],))
    await _sent(conn, ids["ok"], public_type, CLEAN, tenant=default, end="done")
    await _sent(conn, ids["blocked"], public_type, LDAP, tenant=default, end="done")
    await conn.execute(
        "UPDATE authentik_tasks_task SET mtime = now() - interval '40 minutes' WHERE rel_obj_id = %s", (ids["blocked"],)
    )
    await _sent(conn, ids["blocked"], public_type, LDAP, tenant=default, end="running")
    await _sent(conn, ids["overdue"], public_type, LDAP, tenant=default, end="done")
    await _sent(conn, ids["due"], public_type, CLEAN, tenant=default, end="queued")
    await _sent(conn, ids["acme"], 901, LDAP, tenant=acme, end="done")
    return Installation(acme, public_type, 901, ids)


async def test_schedules_of_every_tenant_schema_with_their_latest_task(
    conn: psycopg.AsyncConnection, session: Session
) -> None:
    made = await _install(conn)
    report = await load_schedules(session)
    by_id = {s.id: s for s in report.schedules}
    assert report.schemas == ("public", "t_acme") and report.unreadable == ()
    assert set(by_id) == set(made.ids.values())
    status = {name: by_id[schedule_id].status for name, schedule_id in made.ids.items()}
    assert status == {
        "ok": ScheduleStatus.OK,
        "blocked": ScheduleStatus.BLOCKED,
        "overdue": ScheduleStatus.OVERDUE,
        "due": ScheduleStatus.DUE,  # past its next run by 30 s: the scheduler's turn is coming
        "paused": ScheduleStatus.PAUSED,
        "acme": ScheduleStatus.OK,
    }
    acme = by_id[made.ids["acme"]]
    # Linked through t_acme's own content type id (901), named by its tenant.
    assert (acme.schema, acme.tenant, acme.display_uid) == ("t_acme", "ACME", f"{LDAP}:acme-ldap")
    assert acme.latest_task is not None and acme.latest_task.state == "done"
    assert acme.blocking_task is None
    paused = by_id[made.ids["paused"]]
    assert (paused.paused, paused.next_run, paused.overdue_by) == (True, None, None)
    ok = by_id[made.ids["ok"]]
    assert ok.crontab == "*/5 * * * *" and ok.overdue_by is None
    assert ok.next_run is not None and timedelta(minutes=2) < ok.next_run - report.checked_at < timedelta(minutes=4)


async def test_a_stuck_task_blocking_its_schedule_is_named(conn: psycopg.AsyncConnection, session: Session) -> None:
    made = await _install(conn)
    report = await load_schedules(session)
    blocked = next(s for s in report.schedules if s.id == made.ids["blocked"])
    assert blocked.blocking_task is not None and blocked.blocking_task.state == "running"
    # The newest task is the stuck one (the one before it finished 40 minutes ago).
    assert blocked.latest_task is not None and blocked.latest_task.message_id == blocked.blocking_task.message_id
    assert blocked.overdue_by is not None and timedelta(minutes=24) < blocked.overdue_by < timedelta(minutes=26)
    alarms = {a.schedule_id: a for a in report.alarms}
    assert set(alarms) == {made.ids["blocked"], made.ids["overdue"]}
    alarm = alarms[made.ids["blocked"]]
    assert (alarm.code, alarm.severity, alarm.task_id) == ("blocked", "error", blocked.blocking_task.message_id)
    assert alarm.message.startswith(f"schedule {LDAP}:partners-ldap (Default) is 25m overdue: task ")
    assert (
        "is still running" in alarm.message and "skips a schedule while any of its tasks is unfinished" in alarm.message
    )
    overdue = alarms[made.ids["overdue"]]
    assert (overdue.code, overdue.severity, overdue.task_id) == ("overdue", "warning", None)
    # The stuck task finishes: the schedule is merely overdue until the scheduler's next turn.
    await conn.execute(
        "UPDATE authentik_tasks_task SET state = 'done' WHERE message_id = %s", (blocked.blocking_task.message_id,)
    )
    again = next(s for s in (await load_schedules(session)).schedules if s.id == made.ids["blocked"])
    assert (again.status, again.blocking_task) == (ScheduleStatus.OVERDUE, None)


async def test_no_schedule_table(mirror_dsn: str) -> None:
    with psycopg.connect(mirror_dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE authentik_tasks_schedules_schedule")
    async with await open_session(db.Target.resolve(mirror_dsn)) as session:
        with pytest.raises(MissingTables, match="no schedule table"):
            await load_schedules(session)
    result = run_cli("schedules", "--dsn", mirror_dsn)
    assert result.returncode == 3
    assert result.stderr.startswith("tasktui: error: this database has no schedule table")
    assert result.stderr.count("\n") == 1


async def test_a_role_that_may_not_read_the_schedules(conn: psycopg.AsyncConnection, mirror_dsn: str) -> None:
    await _install(conn)
    with role(mirror_dsn, "SELECT ON authentik_tasks_task", "USAGE ON SCHEMA t_acme") as dsn:
        async with await open_session(db.Target.resolve(dsn)) as session:
            with pytest.raises(MissingPrivilege, match="may not read the schedule table"):
                await load_schedules(session)
        result = run_cli("schedules", "--dsn", dsn)
        assert result.returncode == 4 and result.stderr.count("\n") == 1
    grants = [
        f"SELECT ON {t}"
        for t in (
            "authentik_tasks_task",
            "authentik_tasks_tasklog",
            "authentik_tenants_tenant",
            "django_content_type",
            "authentik_tasks_schedules_schedule",
        )
    ]
    with role(mirror_dsn, *grants) as dsn:
        async with await open_session(db.Target.resolve(dsn)) as session:
            report = await load_schedules(session)
    assert report.schemas == ("public",) and report.unreadable == ("t_acme",)


async def test_cli_text_json_and_exit_status(conn: psycopg.AsyncConnection, mirror_dsn: str) -> None:
    made = await _install(conn)
    await conn.execute(
        "UPDATE authentik_tasks_schedules_schedule SET _uid = %s WHERE id = %s",
        ("\x1b[2J[red]x[/]", made.ids["ok"]),
    )
    result = run_cli("schedules", "--dsn", mirror_dsn)
    assert result.returncode == 1, result.stderr  # a schedule is blocked
    assert "Schedules in 2 tenant schemas: 6 (2 ok, 1 due, 1 paused, 1 blocked, 1 overdue)" in result.stdout
    assert f"blocked  {LDAP}:partners-ldap" in result.stdout
    assert "\x1b" not in result.stdout and "\\x1b[2J[red]x[/]" in result.stdout
    assert "error: schedule authentik.sources.ldap.tasks.ldap_sync:partners-ldap (Default) is 25m overdue" in (
        result.stdout
    )
    data = json.loads(run_cli("schedules", "--dsn", mirror_dsn, "--json").stdout)
    assert {a["code"] for a in data["alarms"]} == {"blocked", "overdue"}
    blocked = next(s for s in data["schedules"] if s["id"] == made.ids["blocked"])
    assert blocked["status"] == "blocked" and blocked["blocking_task"]["state"] == "running"
    assert isinstance(blocked["overdue_by"], float)
    await conn.execute("DELETE FROM authentik_tasks_tasklog")
    await conn.execute("DELETE FROM authentik_tasks_task")
    await conn.execute("UPDATE authentik_tasks_schedules_schedule SET next_run = now() + interval '1 minute'")
    assert run_cli("schedules", "--dsn", mirror_dsn).returncode == 0
