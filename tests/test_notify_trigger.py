"""tasktui's notify trigger: silent without a console, small payloads for every change it reports."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator

import psycopg
import pytest
from psycopg.types.json import Jsonb

from tasktui.core import db
from tasktui.core.listener import ChangeListener
from tasktui.core.session import detect_shape
from tasktui.core.trigger import DEFAULT_CHANNEL, expected_triggers, install, status
from tasktui.demo import broker
from tests.notify_helpers import Listener, execute

# Larger than any run of these tests: the listener must not refresh its heartbeat by itself.
NO_HEARTBEAT = 3600.0
MAX_PAYLOAD = 1000


@pytest.fixture
async def console(live_dsn: str) -> AsyncIterator[ChangeListener]:
    """A console registered with the default prefix (entered, never iterated)."""
    async with ChangeListener(db.Target.resolve(live_dsn), heartbeat_seconds=NO_HEARTBEAT) as listener:
        yield listener


async def _enqueue(dsn: str, **kwargs: object) -> str:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        tenant = await broker.default_tenant(conn)
        return await broker.enqueue(conn, "authentik.test.actor", tenant_id=tenant, **kwargs)  # type: ignore[arg-type]


async def test_silent_until_a_console_registers_and_again_once_it_is_stale(live_dsn: str) -> None:
    # What a console's registration looks like to the trigger, made by hand on a channel we
    # listen to (a real console's channel is chosen by the server: see below).
    channel = "tasktui_" + uuid.uuid4().hex
    with Listener(live_dsn, channel) as listener:
        await _enqueue(live_dsn)
        execute(live_dsn, "UPDATE authentik_tasks_task SET state = 'consumed', mtime = now()")
        assert listener.collect() == []
        execute(
            live_dsn,
            "INSERT INTO tasktui_console VALUES (gen_random_uuid(), %s, now(), now(), 'test', 'host', 1)",
            (channel,),
        )
        execute(live_dsn, "UPDATE authentik_tasks_task SET state = 'running'")
        assert [p["state"] for p in listener.payloads()] == ["running"]
        execute(live_dsn, "UPDATE tasktui_console SET heartbeat = now() - interval '1 minute'")
        execute(live_dsn, "UPDATE authentik_tasks_task SET state = 'postprocess'")
        await _enqueue(live_dsn)
        assert listener.collect() == []

    execute(live_dsn, "DELETE FROM tasktui_console")
    async with ChangeListener(db.Target.resolve(live_dsn), heartbeat_seconds=NO_HEARTBEAT) as console:
        assert execute(live_dsn, "SELECT console_id::text, channel FROM tasktui_console") == [
            (console.console_id, console.channel)
        ]
        assert re.fullmatch(DEFAULT_CHANNEL + "_[0-9a-f]{32}", console.channel), console.channel
        with Listener(live_dsn, console.channel) as listener:
            execute(live_dsn, "UPDATE authentik_tasks_task SET state = 'running'")  # both tasks
            assert [p["state"] for p in listener.payloads()] == ["running", "running"]
    # Leaving unregisters the console.
    assert execute(live_dsn, "SELECT count(*) FROM tasktui_console") == [(0,)]


async def test_each_recent_console_is_notified_on_its_own_channel(live_dsn: str) -> None:
    target = db.Target.resolve(live_dsn)
    async with (
        ChangeListener(target, heartbeat_seconds=NO_HEARTBEAT) as first,
        ChangeListener(target, heartbeat_seconds=NO_HEARTBEAT) as second,
        ChangeListener(target, "tasktui_other", heartbeat_seconds=NO_HEARTBEAT) as other,
    ):
        channels = [first.channel, second.channel, other.channel]
        assert len(set(channels)) == 3 and other.channel.startswith("tasktui_other_")
        with Listener(live_dsn, *channels) as listener:
            message_id = await _enqueue(live_dsn)
            notes = [(n.channel, json.loads(n.payload)) for n in listener.collect()]
            # One notification per change on each console's channel.
            assert sorted(channel for channel, p in notes if p["table"] == "task" and p["id"] == message_id) == sorted(
                channels
            )
            execute(
                live_dsn,
                "UPDATE tasktui_console SET heartbeat = now() - interval '1 minute' WHERE console_id = %s",
                (other.console_id,),
            )
            execute(live_dsn, "UPDATE authentik_tasks_task SET state = 'consumed'")
            assert sorted(n.channel for n in listener.collect()) == sorted([first.channel, second.channel])


def _check(payload: dict[str, object], expected: dict[str, object]) -> None:
    """Every expected key with its value, a server timestamp, and nothing but ids, states, levels."""
    assert {k: payload.get(k) for k in expected} == expected, payload
    assert isinstance(payload.get("ts"), int | float), payload
    allowed = {"table", "op", "id", "task_id", "state", "status", "queue", "level", "previous", "ts"}
    assert set(payload) <= allowed, payload


async def test_task_payloads_for_insert_update_delete(live_dsn: str, console: ChangeListener) -> None:
    with Listener(live_dsn, console.channel) as listener:
        task_id = str(uuid.uuid4())
        tenant = execute(live_dsn, "SELECT tenant_uuid FROM authentik_tenants_tenant")[0][0]
        execute(
            live_dsn,
            "INSERT INTO authentik_tasks_task (message_id, queue_name, actor_name, state, mtime, _messages,"
            " _previous_messages, aggregated_status, tenant_id, retries)"
            " VALUES (%s, 'default', 'authentik.test', 'done', now(), %s, '[]', '', %s, 0)",
            (task_id, Jsonb([{"log_level": "warning"}]), tenant),
        )
        (inserted,) = listener.payloads()
        _check(
            inserted,
            {"table": "task", "op": "INSERT", "id": task_id, "state": "done", "status": "warning", "queue": "default"},
        )

        execute(live_dsn, "UPDATE authentik_tasks_task SET state = 'queued', mtime = now()")
        (updated,) = listener.payloads()
        _check(updated, {"table": "task", "op": "UPDATE", "id": task_id, "state": "queued", "status": "queued"})

        execute(live_dsn, "DELETE FROM authentik_tasks_task")
        (deleted,) = listener.payloads()
        _check(deleted, {"table": "task", "op": "DELETE", "id": task_id, "state": "queued", "status": "queued"})


async def test_tasklog_payloads_for_insert_update_delete(live_dsn: str, console: ChangeListener) -> None:
    task_id = await _enqueue(live_dsn)
    with Listener(live_dsn, console.channel) as listener:
        async with await psycopg.AsyncConnection.connect(live_dsn, autocommit=True) as conn:
            await broker.log(conn, task_id, "something odd", level="warning")
        (inserted,) = listener.payloads()
        log_id = execute(live_dsn, "SELECT id::text FROM authentik_tasks_tasklog WHERE log_level = 'warning'")[0][0]
        _check(
            inserted,
            {
                "table": "tasklog",
                "op": "INSERT",
                "id": log_id,
                "task_id": task_id,
                "level": "warning",
                "previous": False,
            },
        )

        execute(live_dsn, "UPDATE authentik_tasks_tasklog SET previous = true WHERE id = %s", (log_id,))
        (updated,) = listener.payloads()
        _check(updated, {"table": "tasklog", "op": "UPDATE", "id": log_id, "task_id": task_id, "previous": True})

        execute(live_dsn, "DELETE FROM authentik_tasks_tasklog WHERE id = %s", (log_id,))
        (deleted,) = listener.payloads()
        _check(deleted, {"table": "tasklog", "op": "DELETE", "id": log_id, "task_id": task_id, "level": "warning"})


async def test_workerstatus_payloads_for_insert_update_delete(live_dsn: str, console: ChangeListener) -> None:
    with Listener(live_dsn, console.channel) as listener:
        async with await psycopg.AsyncConnection.connect(live_dsn, autocommit=True) as conn:
            worker_id = await broker.register_worker(conn, "worker-1", "2026.5.0")
            (inserted,) = listener.payloads()
            _check(inserted, {"table": "workerstatus", "op": "INSERT", "id": worker_id})

            await broker.worker_heartbeat(conn, worker_id)
            (updated,) = listener.payloads()
            _check(updated, {"table": "workerstatus", "op": "UPDATE", "id": worker_id})

            # A worker restarting on the same host: its old row goes, a new one comes.
            new_id = await broker.register_worker(conn, "worker-1", "2026.5.0")
        assert [(p["op"], p["id"]) for p in listener.payloads()] == [("DELETE", worker_id), ("INSERT", new_id)]


async def test_updates_that_change_no_visible_column_send_nothing(live_dsn: str, console: ChangeListener) -> None:
    task_id = await _enqueue(live_dsn)
    async with await psycopg.AsyncConnection.connect(live_dsn, autocommit=True) as conn:
        worker_id = await broker.register_worker(conn, "worker-1", "2026.5.0")
    with Listener(live_dsn, console.channel) as listener:
        for statement in (
            # authentik's post-processing save and blob writes that no viewer sees
            "UPDATE authentik_tasks_task SET result = '\\x00'::bytea, message = '\\x01'::bytea",
            'UPDATE authentik_tasks_task SET _previous_messages = \'[{"log_level": "error"}]\'',
            # a legacy log list on a task that is not done leaves its status as it is
            'UPDATE authentik_tasks_task SET _messages = \'[{"log_level": "error"}]\'',
            "UPDATE authentik_tasks_task SET state = state, mtime = mtime",
            "UPDATE authentik_tasks_tasklog SET previous = previous, event = event",
            "UPDATE authentik_tasks_workerstatus SET hostname = hostname, last_seen = last_seen",
        ):
            execute(live_dsn, statement)
            assert listener.collect() == [], statement

        # The same legacy list on a done task changes its status: that is visible.
        execute(live_dsn, "UPDATE authentik_tasks_task SET state = 'done'")
        assert [(p["state"], p["status"]) for p in listener.payloads()] == [("done", "error")]
    assert task_id and worker_id


async def test_payloads_stay_small_whatever_the_row_holds(live_dsn: str, console: ChangeListener) -> None:
    big_text = "x" * 1_000_000
    big_attributes = {"blob": "y" * 5_000_000}
    with Listener(live_dsn, console.channel) as listener:
        task_id = await _enqueue(live_dsn, uid=big_text, kwargs={"data": big_text})
        async with await psycopg.AsyncConnection.connect(live_dsn, autocommit=True) as conn:
            await broker.log(conn, task_id, big_text, level="error", logger=big_text, attributes=big_attributes)
            await conn.execute(
                "UPDATE authentik_tasks_tasklog SET attributes = %s WHERE event = %s",
                (Jsonb({"blob": "z" * 5_000_000}), big_text),
            )
            await conn.execute(
                "UPDATE authentik_tasks_task SET result = %s, actor_name = %s, mtime = now()",
                (b"r" * 1_000_000, "a" * 1_000_000),
            )
        notes = listener.collect()
    # task insert, 2 log inserts ("queued" and the big one), log update, task update
    assert len(notes) == 5
    assert max(len(n.payload.encode()) for n in notes) < MAX_PAYLOAD


async def test_older_layout_without_tasklog_and_tenant(mirror_dsn: str) -> None:
    """authentik 2025.8 had no task log table; a later release drops `tenant_id`."""
    execute(mirror_dsn, "DROP TABLE authentik_tasks_tasklog")
    execute(mirror_dsn, "ALTER TABLE authentik_tasks_task DROP COLUMN tenant_id CASCADE")
    target = db.Target.resolve(mirror_dsn)
    async with await db.connect(target) as conn:
        shape = await detect_shape(conn)
        assert not shape.has_tasklog and not shape.has_tenant
        status = await install(conn, shape)
    assert status.installed and status.current
    assert sorted(t for _, t in status.triggers) == [
        "tasktui_notify_task_insert_delete",
        "tasktui_notify_task_update",
        "tasktui_notify_workerstatus_insert_delete",
        "tasktui_notify_workerstatus_update",
    ]

    async with ChangeListener(target, heartbeat_seconds=NO_HEARTBEAT) as console:
        with Listener(mirror_dsn, console.channel) as listener:
            task_id = str(uuid.uuid4())
            execute(
                mirror_dsn,
                "INSERT INTO authentik_tasks_task (message_id, queue_name, actor_name, state, mtime, _messages,"
                " _previous_messages, aggregated_status, retries)"
                " VALUES (%s, 'default', 'authentik.test', 'queued', now(), '[]', '[]', '', 0)",
                (task_id,),
            )
            execute(mirror_dsn, "UPDATE authentik_tasks_task SET state = 'consumed', mtime = now()")
            payloads = listener.payloads()
    assert [(p["table"], p["op"], p["id"], p["state"]) for p in payloads] == [
        ("task", "INSERT", task_id, "queued"),
        ("task", "UPDATE", task_id, "consumed"),
    ]


async def test_authentik_dropping_a_column_after_install(mirror_dsn: str) -> None:
    """authentik's migration that drops `tenant_id` (Django: DROP COLUMN … CASCADE) must not take
    tasktui's task-update trigger with it; a column drop that does is reported, not hidden."""
    target = db.Target.resolve(mirror_dsn)
    async with await db.connect(target) as conn:
        await install(conn)
        full = await status(conn)
        assert len(full.triggers) == 6 and full.current
        assert {t for _, t in full.triggers} == {t for _, t in expected_triggers(await detect_shape(conn))}

        await conn.execute("ALTER TABLE authentik_tasks_task DROP COLUMN tenant_id CASCADE")
        after = await status(conn)
        assert after.triggers == full.triggers and after.current, after.describe()

        # A column the update trigger does watch: the trigger goes, and status says so.
        await conn.execute("ALTER TABLE authentik_tasks_task DROP COLUMN _uid CASCADE")
        broken = await status(conn)
        assert broken.missing == ["tasktui_notify_task_update"] and not broken.current
        assert "incomplete: tasktui_notify_task_update missing" in broken.describe()

        # Installing again repairs it for the new layout.
        assert (await install(conn)).current

    async with ChangeListener(target, heartbeat_seconds=NO_HEARTBEAT) as console:
        with Listener(mirror_dsn, console.channel) as listener:
            task_id = str(uuid.uuid4())
            execute(
                mirror_dsn,
                "INSERT INTO authentik_tasks_task (message_id, queue_name, actor_name, state, mtime, _messages,"
                " _previous_messages, aggregated_status, retries)"
                " VALUES (%s, 'default', 'authentik.test', 'queued', now(), '[]', '[]', '', 0)",
                (task_id,),
            )
            execute(mirror_dsn, "UPDATE authentik_tasks_task SET state = 'consumed'")
            assert [(p["op"], p["state"]) for p in listener.payloads()] == [
                ("INSERT", "queued"),
                ("UPDATE", "consumed"),
            ]
