"""Every failure a user can meet reaches them as one clear line, through the real entry point.

Each case runs `python -m tasktui` in a subprocess against a real server (or a real absence of
one) with a password in the connection string, and checks: a non-zero status, exactly one line
on stderr, no traceback, and the password nowhere in the output.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from tasktui.core.session import NO_TABLES_MESSAGE
from tests.conftest import CliResult, run_cli
from tests.notify_helpers import execute

PASSWORD = "hunter2secret"

# make_role(*grants, password=None) -> role name; grants are SQL with a {role} placeholder.
MakeRole = Callable[..., str]


def _fails(result: CliResult, status: int) -> str:
    """The single error line of a failed run, after the checks every failure must pass."""
    output = result.stdout + result.stderr
    assert result.returncode == status, output
    assert "Traceback" not in output
    assert PASSWORD not in output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def _with_password(dsn: str, **params: str) -> str:
    return make_conninfo(dsn, password=PASSWORD, **params)


@pytest.fixture
def make_role(mirror_dsn: str) -> Iterator[MakeRole]:
    """Create login roles for one test (roles are cluster-wide: unique names, dropped after)."""
    created: list[str] = []

    def make(*grants: str, password: str | None = None) -> str:
        name = f"tasktui_test_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(mirror_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(name)))
            created.append(name)
            if password is not None:
                conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(name), sql.Literal(password)))
            for grant in grants:
                conn.execute(sql.SQL(grant).format(role=sql.Identifier(name)))  # type: ignore[arg-type]
        return name

    yield make
    with psycopg.connect(mirror_dsn, autocommit=True) as conn:
        for name in created:
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


def test_server_unreachable_by_tcp() -> None:
    dsn = f"postgresql://authentik:{PASSWORD}@127.0.0.1:1/authentik?connect_timeout=5"
    line = _fails(run_cli("trigger", "status", "--dsn", dsn), 2)
    assert line.startswith("tasktui: error: cannot reach the server at authentik@127.0.0.1:1/authentik: ")
    assert "Connection refused" in line


def test_server_unreachable_by_socket_from_database_url(tmp_path: Path) -> None:
    dsn = f"host={tmp_path} port=5432 user=authentik password={PASSWORD} dbname=authentik"
    line = _fails(run_cli("trigger", "install", env={"DATABASE_URL": dsn}), 2)
    assert line.startswith(f"tasktui: error: cannot reach the server at authentik@{tmp_path}:5432/authentik: ")


@pytest.mark.parametrize(
    ("dsn", "detail"),
    [
        (f"host=/tmp password='{PASSWORD}", "unterminated quoted string"),
        (f"postgresql://u:{PASSWORD}@[::1/db", "IPv6 host address"),
        (f"host=/tmp password={PASSWORD} colour=blue", 'invalid connection option "colour"'),
    ],
)
def test_invalid_connection_string(dsn: str, detail: str) -> None:
    line = _fails(run_cli("trigger", "status", "--dsn", dsn), 2)
    assert line.startswith("tasktui: error: invalid connection string: ")
    assert detail in line


def test_unknown_role(mirror_dsn: str) -> None:
    dsn = _with_password(mirror_dsn, user="tasktui_no_such_role")
    line = _fails(run_cli("trigger", "status", "--dsn", dsn), 2)
    assert line.startswith("tasktui: error: cannot open tasktui_no_such_role@")
    assert line.endswith('role "tasktui_no_such_role" does not exist')


def test_unknown_database(mirror_dsn: str) -> None:
    dsn = _with_password(mirror_dsn, dbname="tasktui_no_such_db")
    line = _fails(run_cli("trigger", "status", "--dsn", dsn), 2)
    assert line.endswith('database "tasktui_no_such_db" does not exist')


@pytest.fixture
def password_required(mirror_dsn: str) -> Iterator[Callable[[str], None]]:
    """Make the server ask the given roles for a password (the harness trusts everyone), by
    putting a scram-sha-256 rule for them first in its pg_hba.conf; restored afterwards."""
    hba = Path(execute(mirror_dsn, "SHOW hba_file")[0][0])
    if not (hba.is_file() and os.access(hba, os.W_OK)):
        pytest.skip(f"the server's pg_hba.conf ({hba}) is not a file this test may edit")
    original = hba.read_text()

    def require(role: str) -> None:
        rules = "".join(
            f"{kind} all {role} {'all ' if kind == 'host' else ''}scram-sha-256\n" for kind in ("local", "host")
        )
        hba.write_text(rules + original)
        execute(mirror_dsn, "SELECT pg_reload_conf()")
        # The postmaster reloads asynchronously: wait until a password-less login is refused.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                psycopg.connect(make_conninfo(mirror_dsn, user=role), connect_timeout=5).close()
            except psycopg.OperationalError:
                return
            time.sleep(0.05)
        raise AssertionError("the server did not start asking for a password")

    try:
        yield require
    finally:
        hba.write_text(original)
        execute(mirror_dsn, "SELECT pg_reload_conf()")


def test_wrong_password(mirror_dsn: str, make_role: MakeRole, password_required: Callable[[str], None]) -> None:
    role = make_role("GRANT SELECT ON authentik_tasks_task TO {role}", password="the-right-one")
    password_required(role)
    # The right password works: the failure below is the password's, not the setup's.
    ok = run_cli("trigger", "status", "--dsn", make_conninfo(mirror_dsn, user=role, password="the-right-one"))
    assert ok.returncode == 1 and "not installed" in ok.stdout, ok.stderr

    line = _fails(run_cli("trigger", "status", "--dsn", _with_password(mirror_dsn, user=role)), 2)
    assert line.startswith(f"tasktui: error: authentication failed for {role}@")
    assert line.endswith("check the user and password (~/.pgpass)")

    line = _fails(run_cli("trigger", "status", "--dsn", make_conninfo(mirror_dsn, user=role)), 2)
    assert line.endswith("the server wants a password and none was given")


def test_database_without_task_tables(empty_dsn: str) -> None:
    for args in (("trigger", "install"), ("trigger", "status"), ("tail",)):
        line = _fails(run_cli(*args, "--dsn", _with_password(empty_dsn)), 3)
        assert line.startswith(f"tasktui: error: {NO_TABLES_MESSAGE} (connected to ")
        assert line.endswith("; is that the right database?)") and "hunter2" not in line
    assert NO_TABLES_MESSAGE == (
        "this database has no authentik task tables; run `tasktui schema apply` for a standalone setup"
    )


def test_install_without_trigger_privilege(mirror_dsn: str, make_role: MakeRole) -> None:
    role = make_role("GRANT SELECT ON authentik_tasks_task TO {role}")
    line = _fails(run_cli("trigger", "install", "--dsn", _with_password(mirror_dsn, user=role)), 4)
    assert line == (
        f"tasktui: error: role '{role}' lacks TRIGGER on authentik_tasks_task, needed to install the notify trigger"
    )
    assert execute(mirror_dsn, "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'tasktui%'") == [(0,)]


def test_install_without_create_on_the_schema(mirror_dsn: str, make_role: MakeRole) -> None:
    role = make_role(
        "GRANT SELECT, TRIGGER ON authentik_tasks_task, authentik_tasks_tasklog, authentik_tasks_workerstatus"
        " TO {role}",
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
    )
    line = _fails(run_cli("trigger", "install", "--dsn", _with_password(mirror_dsn, user=role)), 4)
    assert line.endswith(f"role '{role}' lacks CREATE on schema public, needed to install the notify trigger")


def test_status_without_select(mirror_dsn: str, make_role: MakeRole) -> None:
    role = make_role()
    line = _fails(run_cli("trigger", "status", "--dsn", _with_password(mirror_dsn, user=role)), 4)
    assert line == f"tasktui: error: role '{role}' lacks SELECT on authentik_tasks_task, needed to show tasks"


def test_tail_without_the_trigger(mirror_dsn: str) -> None:
    line = _fails(run_cli("tail", "--dsn", _with_password(mirror_dsn)), 5)
    assert line == "tasktui: error: tasktui's notify trigger is not installed here; run `tasktui trigger install`"


def test_schema_apply_where_the_tables_exist(mirror_dsn: str) -> None:
    line = _fails(run_cli("schema", "apply", "--dsn", _with_password(mirror_dsn)), 6)
    assert line.startswith("tasktui: error: authentik's task tables already exist in this database")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--bogus",), "tasktui: error: unrecognized arguments: --bogus"),
        (("trigger", "install", "--bogus"), "tasktui: error: unrecognized arguments: --bogus"),
        (("trigger", "frobnicate"), "tasktui trigger: error: argument ACTION: invalid choice: 'frobnicate'"),
        # `--dsn` belongs to `schema apply`: argparse takes the URL for the action and quotes it.
        (("schema",), "tasktui schema: error: argument ACTION: invalid choice: 'postgresql://u:***@127.0.0.1:1/db'"),
        (("schema", "apply", "extra"), "tasktui: error: unrecognized arguments: extra"),
        (("tail", "--channel", "authentik.tasks.default.enqueue"), "tasktui tail: error: argument --channel: invalid"),
    ],
)
def test_usage_errors(args: tuple[str, ...], expected: str) -> None:
    result = run_cli(*args, "--dsn", f"postgresql://u:{PASSWORD}@127.0.0.1:1/db")
    line = _fails(result, 2)
    assert line.startswith(expected)
    assert line.endswith("--help`)")


def test_no_database_given_says_how_to_give_one(tmp_path: Path) -> None:
    """Issue 11 item 8: with no --dsn and no environment, libpq's default (a local socket) used to
    fail with only "cannot reach the server at local socket: …" and no word on what to do."""
    if any(Path(folder, ".s.PGSQL.5432").exists() for folder in ("/var/run/postgresql", "/tmp")):
        pytest.skip("a server listens on libpq's default socket here: nothing would fail")
    # run_cli drops DATABASE_URL and the PG* variables; a fresh HOME has no service file either.
    line = _fails(run_cli("workers", env={"HOME": str(tmp_path)}), 2)
    assert line.startswith("tasktui: error: cannot reach the server at local socket")
    assert line.endswith(
        "; no database was given: pass --dsn postgresql://user@host/dbname (or a libpq string) or --profile NAME"
        " from the config file, or set DATABASE_URL or the PG* variables (PGHOST, PGPORT, PGDATABASE, PGUSER)"
    )
    # Any connection setting at all (here the environment's) and the hint is left out.
    given = _fails(run_cli("workers", env={"HOME": str(tmp_path), "PGHOST": str(tmp_path)}), 2)
    assert "no database was given" not in given
