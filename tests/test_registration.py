"""Console registration, locked down (trigger version 2), proven with real roles and real grants:
a role that may not read the task table can neither register, nor remove or forge registrations,
nor make the trigger speak, nor listen in; a reader registers through the functions only; a
writer that is not the installer still writes (and notifies); an installation of version 1 is
upgraded in place."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tasktui.core import db
from tasktui.core.events import FeedMode
from tasktui.core.listener import ChangeListener
from tasktui.core.session import detect_shape
from tasktui.core.trigger import MAX_CONSOLES_PER_ROLE, TRIGGER_VERSION, install, render_install_sql, status
from tasktui.demo import broker
from tasktui.errors import MissingPrivilege, RegistrationLost
from tasktui.ui.widgets.task_table import TaskRows
from tests.conftest import run_cli
from tests.notify_helpers import Listener, execute
from tests.retry_helpers import role
from tests.ui_helpers import make_app, wait_for

TASK_TABLES = "authentik_tasks_task, authentik_tasks_tasklog, authentik_tasks_workerstatus"
READER = f"SELECT ON TABLE {TASK_TABLES}"
WRITER = f"SELECT, INSERT, UPDATE, DELETE ON TABLE {TASK_TABLES}"
NO_HEARTBEAT = 3600.0
V1_SCRIPT = Path(__file__).parent / "data" / "tasktui_notify_v1.sql"

# Everything a role with a login and no grant could try on tasktui's objects directly.
DIRECT_WRITES = (
    "INSERT INTO tasktui_console VALUES (gen_random_uuid(), 'tasktui', '2100-01-01', now(), 'me', 'h', 1)",
    "UPDATE tasktui_console SET heartbeat = '2100-01-01'",
    "DELETE FROM tasktui_console",
    "SELECT channel FROM tasktui_console",
)


def _refused(dsn: str, statement: str, params: object = None) -> str:
    """The error a statement gets (the test fails if it succeeds)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        try:
            conn.execute(statement, params)  # type: ignore[arg-type]
        except psycopg.errors.InsufficientPrivilege as exc:
            return str(exc)
    raise AssertionError(f"not refused: {statement}")


def _consoles(dsn: str) -> list[tuple[str, str, str]]:
    return [
        (str(console_id), channel, username)
        for console_id, channel, username in execute(
            dsn, "SELECT console_id, channel, username FROM tasktui_console ORDER BY started"
        )
    ]


async def _enqueue(dsn: str) -> str:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        return await broker.enqueue(conn, "authentik.test.actor", tenant_id=await broker.default_tenant(conn))


async def test_a_role_without_grants_cannot_register_remove_forge_or_listen_in(live_dsn: str) -> None:
    async with ChangeListener(db.Target.resolve(live_dsn), heartbeat_seconds=NO_HEARTBEAT) as watching:
        with role(live_dsn) as stranger:
            for statement in DIRECT_WRITES:
                assert "permission denied for table tasktui_console" in _refused(stranger, statement)
            message = _refused(stranger, "SELECT tasktui_register(gen_random_uuid(), 'tasktui', 'h')")
            assert "may not read the task table, so it may not watch it live" in message
            # Removing someone's registration through the function removes nothing.
            with psycopg.connect(stranger, autocommit=True) as conn:
                assert conn.execute("SELECT tasktui_unregister(%s)", (watching.console_id,)).fetchone() == (False,)
            assert [c[0] for c in _consoles(live_dsn)] == [watching.console_id]

            # Listening on the channel every version-1 console shared gets nothing, while the
            # console's own channel (which the stranger cannot read) gets the change.
            with Listener(stranger, "tasktui") as eavesdropper, Listener(live_dsn, watching.channel) as console:
                await _enqueue(live_dsn)
                assert [json.loads(n.payload)["table"] for n in console.collect()] == ["task", "tasklog"]
                assert eavesdropper.collect() == []

            # Nor can it borrow the trigger function for a table of its own.
            execute(live_dsn, "CREATE SCHEMA stranger_schema")
            execute(
                live_dsn,
                sql.SQL("GRANT USAGE, CREATE ON SCHEMA stranger_schema TO {}").format(
                    sql.Identifier(psycopg.conninfo.conninfo_to_dict(stranger)["user"])
                ),
            )
            with psycopg.connect(stranger, autocommit=True) as conn:
                conn.execute("CREATE TABLE stranger_schema.mine (message_id uuid)")
            assert "permission denied for function public.tasktui_notify" in _refused(
                stranger,
                "CREATE TRIGGER t AFTER INSERT ON stranger_schema.mine"
                " FOR EACH ROW EXECUTE FUNCTION public.tasktui_notify('task')",
            )

            # `tail` refuses in one line, and nothing was registered.
            result = run_cli("tail", "--dsn", stranger, timeout=30)
            assert result.returncode == 4, result
            assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
            assert "may not read the task table, so it may not watch it live" in result.stderr
        assert [c[0] for c in _consoles(live_dsn)] == [watching.console_id]


async def test_a_reader_registers_only_through_the_functions_with_the_servers_clock(live_dsn: str) -> None:
    with role(live_dsn, READER) as reader, role(live_dsn, READER) as other_reader:
        reader_name = psycopg.conninfo.conninfo_to_dict(reader)["user"]
        for statement in DIRECT_WRITES:
            assert "permission denied for table tasktui_console" in _refused(reader, statement)
        async with ChangeListener(db.Target.resolve(reader), heartbeat_seconds=0.2) as console:
            ((console_id, channel, username),) = _consoles(live_dsn)
            assert (console_id, channel, username) == (console.console_id, console.channel, reader_name)
            with Listener(live_dsn, console.channel) as listener:
                task_id = await _enqueue(live_dsn)
                changes = console.changes()
                first = await asyncio.wait_for(anext(changes), 10)
                assert (first.table, first.id) == ("task", task_id)
                assert len(listener.collect()) == 2
            # The heartbeat is the server's now(), refreshed by the function only.
            before = execute(live_dsn, "SELECT heartbeat, now() FROM tasktui_console")[0]
            assert before[0] <= before[1]
            with psycopg.connect(other_reader, autocommit=True) as conn:
                # Another role can neither keep it alive nor remove it.
                assert conn.execute("SELECT tasktui_heartbeat(%s)", (console.console_id,)).fetchone() == (None,)
                assert conn.execute("SELECT tasktui_unregister(%s)", (console.console_id,)).fetchone() == (False,)
            assert [c[0] for c in _consoles(live_dsn)] == [console.console_id]
            await changes.aclose()
        # Leaving removes its own registration.
        assert _consoles(live_dsn) == []


async def test_set_role_counts_and_so_does_losing_the_grant(live_dsn: str) -> None:
    group = f"tasktui_group_{uuid.uuid4().hex[:8]}"
    execute(live_dsn, sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(group)))
    execute(live_dsn, sql.SQL("GRANT SELECT ON TABLE authentik_tasks_task TO {}").format(sql.Identifier(group)))
    try:
        with role(live_dsn) as login:
            name = psycopg.conninfo.conninfo_to_dict(login)["user"]
            execute(live_dsn, sql.SQL("ALTER ROLE {} NOINHERIT").format(sql.Identifier(name)))
            execute(live_dsn, sql.SQL("GRANT {} TO {}").format(sql.Identifier(group), sql.Identifier(name)))
            assert "may not read the task table" in _refused(
                login, "SELECT tasktui_register(gen_random_uuid(), 'tasktui', 'h')"
            )
            with psycopg.connect(login, autocommit=True) as conn:
                conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(group)))
                console_id = str(uuid.uuid4())
                conn.execute("SELECT tasktui_register(%s, 'tasktui', 'h')", (console_id,))
                assert _consoles(live_dsn)[0][2] == group
                # Standing and not lapsed (a lapse would make the console re-check what it shows).
                assert conn.execute("SELECT tasktui_heartbeat(%s)", (console_id,)).fetchone() == (False,)
                execute(
                    live_dsn, sql.SQL("REVOKE SELECT ON authentik_tasks_task FROM {}").format(sql.Identifier(group))
                )
                with pytest.raises(psycopg.errors.InsufficientPrivilege, match="may no longer read the task table"):
                    conn.execute("SELECT tasktui_heartbeat(%s)", (console_id,))
    finally:
        execute(
            live_dsn, sql.SQL("DROP OWNED BY {}; DROP ROLE {}").format(sql.Identifier(group), sql.Identifier(group))
        )


async def test_a_role_holds_a_bounded_number_of_registrations(live_dsn: str) -> None:
    with role(live_dsn, READER) as reader, psycopg.connect(reader, autocommit=True) as conn:
        for _ in range(MAX_CONSOLES_PER_ROLE):
            conn.execute("SELECT tasktui_register(gen_random_uuid(), 'tasktui', 'h')")
        with pytest.raises(psycopg.errors.ProgramLimitExceeded, match=f"has {MAX_CONSOLES_PER_ROLE} consoles"):
            conn.execute("SELECT tasktui_register(gen_random_uuid(), 'tasktui', 'h')")
        with pytest.raises(MissingPrivilege, match=f"has {MAX_CONSOLES_PER_ROLE} consoles watching already"):
            async with ChangeListener(db.Target.resolve(reader)):
                pass


async def test_a_writer_that_is_not_the_installer_writes_and_notifies(live_dsn: str) -> None:
    """The trigger runs as the writer's statement does: with no right on tasktui's table, its
    'anyone watching?' check must still read it (the function runs as the installer)."""
    with role(live_dsn, WRITER) as writer_dsn, role(live_dsn, READER) as reader:
        async with ChangeListener(db.Target.resolve(reader), heartbeat_seconds=NO_HEARTBEAT) as console:
            with Listener(live_dsn, console.channel) as listener:
                async with await psycopg.AsyncConnection.connect(writer_dsn, autocommit=True) as writer:
                    tenant = execute(live_dsn, "SELECT tenant_uuid FROM authentik_tenants_tenant LIMIT 1")[0][0]
                    task_id = await broker.enqueue(writer, "authentik.test.actor", tenant_id=tenant)
                    await writer.execute("UPDATE authentik_tasks_task SET state = 'consumed', mtime = now()")
                    await writer.execute("DELETE FROM authentik_tasks_tasklog")
                    await writer.execute("DELETE FROM authentik_tasks_task")
                payloads = listener.payloads()
        assert [(p["table"], p["op"]) for p in payloads] == [
            ("task", "INSERT"),
            ("tasklog", "INSERT"),
            ("task", "UPDATE"),
            ("tasklog", "DELETE"),
            ("task", "DELETE"),
        ]
        assert {p.get("id") for p in payloads if p["table"] == "task"} == {task_id}
        # With nobody watching, the writer's statements pass the gate as well.
        async with await psycopg.AsyncConnection.connect(writer_dsn, autocommit=True) as writer:
            await broker.enqueue(writer, "authentik.test.actor", tenant_id=tenant)
        assert execute(live_dsn, "SELECT count(*) FROM authentik_tasks_task") == [(1,)]


async def test_a_writer_cannot_make_the_trigger_run_its_code_as_the_installer(live_dsn: str) -> None:
    """The trigger function runs as the installer for every writer: a writer that puts a schema of
    its own first on its search_path, with a better-matching `left(varchar, integer)` in it, must
    not get that function called (it would run with the installer's rights)."""
    with role(live_dsn, WRITER) as writer_dsn, role(live_dsn, READER) as reader:
        writer_name = psycopg.conninfo.conninfo_to_dict(writer_dsn)["user"]
        execute(live_dsn, sql.SQL("CREATE SCHEMA evil AUTHORIZATION {}").format(sql.Identifier(writer_name)))
        with psycopg.connect(writer_dsn, autocommit=True) as conn:
            conn.execute(
                "CREATE FUNCTION evil.left(character varying, integer) RETURNS text LANGUAGE plpgsql AS"
                " $$ BEGIN RAISE EXCEPTION 'hijacked by %', current_user; END $$"
            )
        async with ChangeListener(db.Target.resolve(reader), heartbeat_seconds=NO_HEARTBEAT) as console:
            with Listener(live_dsn, console.channel) as listener:
                async with await psycopg.AsyncConnection.connect(writer_dsn, autocommit=True) as writer:
                    await writer.execute("SET search_path = evil, pg_catalog, public")
                    tenant = execute(live_dsn, "SELECT tenant_uuid FROM authentik_tenants_tenant LIMIT 1")[0][0]
                    await writer.execute("SET search_path = public")
                    task_id = await broker.enqueue(writer, "authentik.test.actor", tenant_id=tenant)
                    await writer.execute("SET search_path = evil, pg_catalog, public")
                    await writer.execute("UPDATE authentik_tasks_task SET state = 'consumed', mtime = now()")
                payloads = listener.payloads()
        assert [(p["op"], p.get("state")) for p in payloads if p["table"] == "task"] == [
            ("INSERT", "queued"),
            ("UPDATE", "consumed"),
        ]
        assert {p["id"] for p in payloads if p["table"] == "task"} == {task_id}


async def test_a_removed_registration_makes_the_console_reconnect_not_go_deaf(live_dsn: str, writer) -> None:
    target = db.Target.resolve(live_dsn)
    async with ChangeListener(target, heartbeat_seconds=0.2) as listener:
        execute(live_dsn, "DELETE FROM tasktui_console")  # the installer can; nobody else
        with pytest.raises(RegistrationLost):
            async with asyncio.timeout(10):
                async for _change in listener.changes():
                    pass

    # The console itself: it reconnects, registers again and shows what changed meanwhile.
    app = make_app(live_dsn)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(
            pilot, lambda: app.service.feed.mode == FeedMode.LIVE and len(_consoles(live_dsn)) == 1, what="LIVE"
        )
        first = _consoles(live_dsn)[0][0]
        execute(live_dsn, "DELETE FROM tasktui_console")
        deadline = time.monotonic() + 30
        while not (_consoles(live_dsn) and _consoles(live_dsn)[0][0] != first):
            assert time.monotonic() < deadline, "the console did not register again"
            await pilot.pause(0.1)
        message_id = await broker.enqueue(
            writer, "authentik.after.reregistering", tenant_id=await broker.default_tenant(writer)
        )
        await wait_for(
            pilot,
            lambda: message_id in [r.message_id for r in app.main_screen.query_one(TaskRows).rows],
            within=15,
            what="a task written after the registration was removed",
        )


async def test_upgrade_from_version_1_takes_back_every_right_and_drops_forged_rows(mirror_dsn: str) -> None:
    target = db.Target.resolve(mirror_dsn)
    async with await db.connect(target) as conn:
        shape = await detect_shape(conn)
        await conn.execute(render_install_sql(shape, V1_SCRIPT.read_text(), version=1))  # type: ignore[arg-type]
        assert (await status(conn, shape)).version == 1
    with role(mirror_dsn) as stranger:
        name = psycopg.conninfo.conninfo_to_dict(stranger)["user"]
        # What version 1 allowed anyone: a heartbeat that never goes stale, next to a real console.
        execute(
            stranger,
            "INSERT INTO tasktui_console VALUES (gen_random_uuid(), 'tasktui', '2100-01-01', now(), 'x', 'h', 1)",
        )
        execute(
            mirror_dsn,
            "INSERT INTO tasktui_console VALUES (gen_random_uuid(), 'tasktui', now(), now(), 'someone', 'host', 2)",
        )
        # A version-2 console refuses an outdated install clearly.
        result = run_cli("tail", "--dsn", mirror_dsn, timeout=30)
        assert result.returncode == 5 and "outdated; run `tasktui trigger install` to upgrade it" in result.stderr

        out = run_cli("trigger", "install", "--dsn", mirror_dsn)
        assert out.returncode == 0, out.stderr
        assert f"installed, version {TRIGGER_VERSION} (current); 1 console(s) watching now" in out.stdout
        assert [c[2] for c in _consoles(mirror_dsn)] == ["someone"]
        privileges = execute(
            mirror_dsn,
            "SELECT has_table_privilege(%(r)s, 'tasktui_console', 'SELECT, INSERT, UPDATE, DELETE'),"
            " has_function_privilege(%(r)s, 'tasktui_notify()', 'EXECUTE')",
            {"r": name},
        )
        assert privileges == [(False, False)]
        assert "permission denied" in _refused(stranger, DIRECT_WRITES[1])


async def test_install_takes_back_what_default_privileges_hand_out(mirror_dsn: str) -> None:
    with role(mirror_dsn) as other:
        name = psycopg.conninfo.conninfo_to_dict(other)["user"]
        execute(mirror_dsn, "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO PUBLIC")
        for kind in ("TABLES", "FUNCTIONS"):
            execute(
                mirror_dsn,
                sql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON {} TO {}").format(
                    sql.SQL(kind), sql.Identifier(name)
                ),
            )
        async with await db.connect(db.Target.resolve(mirror_dsn)) as conn:
            await install(conn)
        grantees = execute(
            mirror_dsn,
            """
            SELECT 'table', CASE a.grantee WHEN 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END, a.privilege_type
            FROM pg_class AS c, aclexplode(c.relacl) AS a
            WHERE c.relname IN ('tasktui_console', 'tasktui_changes') AND a.grantee <> c.relowner
            UNION ALL
            SELECT p.oid::regprocedure::text, CASE a.grantee WHEN 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END,
                   a.privilege_type
            FROM pg_proc AS p, aclexplode(COALESCE(p.proacl, acldefault('f', p.proowner))) AS a
            WHERE p.proname LIKE 'tasktui%%' AND a.grantee <> p.proowner
            ORDER BY 1, 2
            """,
        )
        assert grantees == [
            ("tasktui_drain(uuid,pg_snapshot,boolean)", "PUBLIC", "EXECUTE"),
            ("tasktui_heartbeat(uuid)", "PUBLIC", "EXECUTE"),
            ("tasktui_mode(uuid,text)", "PUBLIC", "EXECUTE"),
            ("tasktui_register(uuid,text,text)", "PUBLIC", "EXECUTE"),
            ("tasktui_unregister(uuid)", "PUBLIC", "EXECUTE"),
        ]


def test_tail_as_a_reader_escapes_hostile_payloads_by_json_rules(live_dsn: str) -> None:
    """A queue name is text anyone shaping tasks controls: a C1 CSI or a bidi override in it must
    reach the terminal as a JSON escape, and the line must still be exact JSON."""
    hostile = "q\u009b31m\u202eevil\x1b]0;title\x07\x7f"
    with role(live_dsn, READER) as reader:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tasktui", "tail", "--dsn", reader],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={k: v for k, v in os.environ.items() if not k.startswith("PG") and k != "DATABASE_URL"},
        )
        try:
            assert proc.stderr is not None and proc.stdout is not None
            assert proc.stderr.readline().startswith(b"listening on 'tasktui' (console ")
            tenant = execute(live_dsn, "SELECT tenant_uuid FROM authentik_tenants_tenant LIMIT 1")[0][0]
            execute(
                live_dsn,
                "INSERT INTO authentik_tasks_task (message_id, queue_name, actor_name, state, mtime, _messages,"
                " _previous_messages, aggregated_status, tenant_id, retries)"
                " VALUES (gen_random_uuid(), %s, 'authentik.test', 'queued', now(), '[]', '[]', 'queued', %s, 0)",
                (hostile, tenant),
            )
            line = proc.stdout.readline()
        finally:
            proc.terminate()
            proc.wait(timeout=15)
    assert all(0x20 <= byte < 0x7F for byte in line[:-1]) and line.endswith(b"\n"), line
    assert json.loads(line)["queue"] == hostile
