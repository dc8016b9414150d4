"""The incident commands' shared promises, through the real entry point: `--help` shows an example
and the exit statuses; a database without the tables, or a role that may not read them, is one
clear line with the documented status — never a traceback, never a password."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from tasktui.demo import broker
from tests.conftest import run_cli
from tests.retry_helpers import role

PASSWORD = "hunter2secret"
# Each command with the arguments it needs beyond --dsn.
COMMANDS = {
    "errors": [],
    "queues": [],
    "schedules": [],
    "xray": ["3fa85f64-5717-4562-b3fc-2c963f66afa6"],
    "summary": [],
}


def _one_line(result: object, status: int) -> str:
    output = result.stdout + result.stderr  # type: ignore[attr-defined]
    assert result.returncode == status, output  # type: ignore[attr-defined]
    assert "Traceback" not in output and PASSWORD not in output
    lines = result.stderr.splitlines()  # type: ignore[attr-defined]
    assert len(lines) == 1, result.stderr  # type: ignore[attr-defined]
    return lines[0]


@pytest.mark.parametrize("command", COMMANDS)
def test_help_has_an_example_and_the_exit_statuses(command: str) -> None:
    result = run_cli(command, "--help")
    assert result.returncode == 0
    assert "example:" in result.stdout and "exit status:" in result.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_a_database_without_task_tables(command: str, empty_dsn: str) -> None:
    dsn = make_conninfo(empty_dsn, password=PASSWORD)
    result = run_cli(command, "--dsn", dsn, *COMMANDS[command])
    if command == "summary":  # the row says why; the status is the installation's
        assert result.returncode == 3 and "no authentik task tables" in result.stdout
        return
    assert "no authentik task tables" in _one_line(result, 3)


@pytest.fixture
def task_table_only(mirror_dsn: str) -> Iterator[str]:
    """A role that may read the task table and nothing else (no logs, no tenants, no workers)."""
    with role(mirror_dsn, "SELECT ON authentik_tasks_task") as dsn:
        yield dsn


@pytest.mark.parametrize("command", ["errors", "queues", "schedules", "xray"])
async def test_a_role_that_may_not_read_what_the_view_needs(
    command: str, task_table_only: str, mirror_dsn: str
) -> None:
    # The task exists (an unknown id is "not found" before anything else is read).
    async with await psycopg.AsyncConnection.connect(mirror_dsn, autocommit=True) as conn:
        tenant = await broker.default_tenant(conn)
        await broker.enqueue(conn, "authentik.test.xray", tenant_id=tenant, message_id=COMMANDS["xray"][0])
    line = _one_line(run_cli(command, "--dsn", task_table_only, *COMMANDS[command]), 4)
    assert "permission denied" in line or "may not read" in line
