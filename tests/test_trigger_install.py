"""Installing, upgrading, inspecting and removing the notify trigger, through the real CLI."""

from __future__ import annotations

from typing import Any

import pytest

from tasktui.core.trigger import FUNCTIONS, TRIGGER_VERSION
from tests.conftest import run_cli
from tests.notify_helpers import execute

# Everything in the database that tasktui could have created, by catalog.
TASKTUI_OBJECTS = """
SELECT 'function', p.oid::regprocedure::text, pg_get_functiondef(p.oid), obj_description(p.oid, 'pg_proc')
FROM pg_proc AS p JOIN pg_namespace AS n ON n.oid = p.pronamespace
WHERE p.proname LIKE 'tasktui%' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
UNION ALL
SELECT 'trigger', c.relname || '.' || t.tgname, pg_get_triggerdef(t.oid), obj_description(t.oid, 'pg_trigger')
FROM pg_trigger AS t JOIN pg_class AS c ON c.oid = t.tgrelid
WHERE t.tgname LIKE 'tasktui%'
UNION ALL
SELECT 'relation', c.relname, c.relkind::text, obj_description(c.oid, 'pg_class')
FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
WHERE c.relname LIKE 'tasktui%' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
ORDER BY 1, 2
"""

# authentik's side, byte for byte: every other trigger (with its comment, where pgtrigger keeps
# its hash) and every other function of the schema, by definition.
AUTHENTIK_OBJECTS = """
SELECT 'trigger', c.relname || '.' || t.tgname, pg_get_triggerdef(t.oid), obj_description(t.oid, 'pg_trigger'),
       t.tgenabled::text
FROM pg_trigger AS t JOIN pg_class AS c ON c.oid = t.tgrelid
WHERE t.tgname NOT LIKE 'tasktui%' AND c.relname LIKE 'authentik%'
UNION ALL
SELECT 'function', p.oid::regprocedure::text, pg_get_functiondef(p.oid), obj_description(p.oid, 'pg_proc'),
       p.proowner::regrole::text
FROM pg_proc AS p JOIN pg_namespace AS n ON n.oid = p.pronamespace
WHERE n.nspname = 'public' AND p.proname NOT LIKE 'tasktui%'
ORDER BY 1, 2
"""


def _cli(*args: str) -> str:
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def _tasktui_objects(dsn: str) -> list[tuple[Any, ...]]:
    return execute(dsn, TASKTUI_OBJECTS)


def test_install_twice_is_installing_once(mirror_dsn: str) -> None:
    assert _tasktui_objects(mirror_dsn) == []
    out = _cli("trigger", "install", "--dsn", mirror_dsn)
    assert f"installed, version {TRIGGER_VERSION} (current)" in out
    first = _tasktui_objects(mirror_dsn)
    kinds = [row[0] for row in first]
    assert sorted(row[1] for row in first if row[0] == "function") == sorted(FUNCTIONS)
    assert kinds.count("trigger") == 6
    assert [row[1] for row in first if row[0] == "relation"] == [
        "tasktui_changes",
        "tasktui_changes_xid",
        "tasktui_console",
        "tasktui_console_pkey",
    ]
    # The drain table is unlogged: nothing of it goes through the WAL.
    assert execute(mirror_dsn, "SELECT relpersistence FROM pg_class WHERE relname = 'tasktui_changes'") == [("u",)]

    _cli("trigger", "install", "--dsn", mirror_dsn)
    assert _tasktui_objects(mirror_dsn) == first


def test_reinstall_keeps_registered_consoles(live_dsn: str) -> None:
    execute(
        live_dsn,
        "INSERT INTO tasktui_console VALUES (gen_random_uuid(), 'tasktui', now(), now(), 'someone', 'host', 1)",
    )
    _cli("trigger", "install", "--dsn", live_dsn)
    assert execute(live_dsn, "SELECT username FROM tasktui_console") == [("someone",)]
    out = _cli("trigger", "status", "--dsn", live_dsn)
    assert "1 console(s) watching now" in out
    assert "console someone@host pid 1 channel tasktui" in out


def test_reinstall_upgrades_an_older_version_in_place(live_dsn: str) -> None:
    fresh = _tasktui_objects(live_dsn)
    # What an older release could have left: a differently named trigger on the task table, a
    # different function body and an older version marker.
    execute(
        live_dsn,
        """
        CREATE OR REPLACE FUNCTION tasktui_notify() RETURNS trigger LANGUAGE plpgsql AS
            $$ BEGIN PERFORM pg_notify('tasktui', 'v0'); RETURN NULL; END $$;
        COMMENT ON FUNCTION tasktui_notify() IS 'tasktui notify trigger, version 0';
        DROP TRIGGER tasktui_notify_task_update ON authentik_tasks_task;
        CREATE TRIGGER tasktui_notify_task_any AFTER INSERT OR UPDATE OR DELETE ON authentik_tasks_task
            FOR EACH ROW EXECUTE FUNCTION tasktui_notify();
        """,
    )
    out = _cli("trigger", "status", "--dsn", live_dsn)
    assert "installed, version 0 (incomplete: tasktui_notify_task_update missing" in out

    out = _cli("trigger", "install", "--dsn", live_dsn)
    assert f"installed, version {TRIGGER_VERSION} (current)" in out
    assert _tasktui_objects(live_dsn) == fresh


def test_status_reports_outdated_and_not_installed(mirror_dsn: str) -> None:
    result = run_cli("trigger", "status", "--dsn", mirror_dsn)
    # Not installed is an answer, not an error, but a script must be able to tell.
    assert result.returncode == 1
    assert "not installed" in result.stdout and result.stderr == ""

    _cli("trigger", "install", "--dsn", mirror_dsn)
    execute(mirror_dsn, "COMMENT ON FUNCTION tasktui_notify() IS 'tasktui notify trigger, version 0'")
    out = _cli("trigger", "status", "--dsn", mirror_dsn)
    assert "installed, version 0 (outdated (v0; run `tasktui trigger install`))" in out


@pytest.mark.slow
def test_uninstall_removes_everything_and_leaves_authentik_byte_identical(mirror_dsn: str) -> None:
    before = execute(mirror_dsn, AUTHENTIK_OBJECTS)
    assert {row[1] for row in before} >= {
        "authentik_tasks_task.pgtrigger_notify_enqueueing_0bc94",
        "authentik_tasks_task.pgtrigger_update_aggregated_status_f18c4",
        "pgtrigger_notify_enqueueing_0bc94()",
        "pgtrigger_update_aggregated_status_f18c4()",
        "_pgtrigger_should_ignore(name)",
    }
    _cli("trigger", "install", "--dsn", mirror_dsn)
    # A console registered at the time of removal does not stop it.
    execute(
        mirror_dsn,
        "INSERT INTO tasktui_console VALUES (gen_random_uuid(), 'tasktui', now(), now(), 'someone', 'host', 1)",
    )
    assert execute(mirror_dsn, AUTHENTIK_OBJECTS) == before

    out = _cli("trigger", "uninstall", "--dsn", mirror_dsn)
    assert "notify trigger removed" in out
    assert _tasktui_objects(mirror_dsn) == []
    assert execute(mirror_dsn, AUTHENTIK_OBJECTS) == before

    # Removing what is not there is fine too.
    _cli("trigger", "uninstall", "--dsn", mirror_dsn)
    assert execute(mirror_dsn, AUTHENTIK_OBJECTS) == before
