"""Rejected tasks made the way authentik makes them, roles with few privileges, and the rows a
retry is judged by — for the retry tests (core and CLI)."""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo
from psycopg.types.json import Jsonb

from tasktui.demo import broker
from tests.conftest import CliResult
from tests.notify_helpers import execute

ENQUEUE_CHANNEL = "authentik.tasks.default.enqueue"


async def reject(
    conn: psycopg.AsyncConnection,
    actor: str = "authentik.test.sync",
    *,
    uid: str | None = None,
    queue: str = "default",
    exc_type: str = "ValueError",
    message: str = "boom",
    automatic_retries: int = 0,
) -> str:
    """A task through authentik's life cycle to `rejected`: enqueue, claim, run, fail — first
    `automatic_retries` times with an automatic retry (so `retries` counts them), then for good."""
    tenant = await broker.default_tenant(conn)
    message_id = await broker.enqueue(conn, actor, tenant_id=tenant, uid=uid, queue=queue)
    for attempt in range(automatic_retries + 1):
        # The claim's advisory lock lives on this session; released as a worker does after ack/nack.
        assert await broker.claim(conn, message_id, queue)
        await broker.start_processing(conn, message_id)
        delay = 1 if attempt < automatic_retries else None
        await broker.fail(
            conn, message_id, exc_type, message, retry_delay_ms=delay, retries=attempt, actor=actor, queue=queue
        )
        await broker.release(conn, message_id, queue)
    return message_id


def task_row(dsn: str, message_id: str) -> dict[str, Any]:
    rows = execute(
        dsn,
        "SELECT state, aggregated_status, eta, retries, message, mtime, result FROM authentik_tasks_task"
        " WHERE message_id = %s",
        (message_id,),
    )
    assert rows, f"task {message_id} not found"
    keys = ("state", "aggregated_status", "eta", "retries", "message", "mtime", "result")
    return dict(zip(keys, rows[0], strict=True))


def task_logs(dsn: str, message_id: str) -> list[dict[str, Any]]:
    rows = execute(
        dsn,
        "SELECT event, log_level, logger, attributes, previous FROM authentik_tasks_tasklog WHERE task_id = %s"
        ' ORDER BY "timestamp", event',
        (message_id,),
    )
    keys = ("event", "level", "logger", "attributes", "previous")
    return [dict(zip(keys, row, strict=True)) for row in rows]


def states(dsn: str) -> dict[str, str]:
    return {str(mid): state for mid, state in execute(dsn, "SELECT message_id, state FROM authentik_tasks_task")}


@contextmanager
def role(dsn: str, *grants: str) -> Iterator[str]:
    """A login role with only `grants` (each "PRIVILEGES ON TABLE"), as a connection string."""
    name = f"tasktui_test_{uuid.uuid4().hex[:10]}"
    password = uuid.uuid4().hex
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(name), sql.Literal(password)))
        for grant in grants:
            conn.execute(sql.SQL("GRANT " + grant + " TO {}").format(sql.Identifier(name)))  # type: ignore[arg-type]
    try:
        yield make_conninfo(dsn, user=name, password=password)
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (name,))
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


# authentik 2025.8: no task log table, no eta/retries; its enqueue NOTIFY had no eta condition.
LEGACY_2025_8 = (
    "DROP TABLE authentik_tasks_tasklog",
    "DROP TRIGGER pgtrigger_notify_enqueueing_0bc94 ON authentik_tasks_task",
    "ALTER TABLE authentik_tasks_task DROP COLUMN eta, DROP COLUMN retries",
    "CREATE CONSTRAINT TRIGGER pgtrigger_notify_enqueueing_0bc94 AFTER INSERT OR UPDATE ON authentik_tasks_task"
    " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.state = 'queued')"
    " EXECUTE PROCEDURE pgtrigger_notify_enqueueing_0bc94()",
)


def make_legacy(dsn: str) -> None:
    for statement in LEGACY_2025_8:
        execute(dsn, statement)


def legacy_entry(event: str, level: str = "info", attributes: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "event": event,
        "log_level": level,
        "logger": broker.MIDDLEWARE_LOGGER,
        "timestamp": "2025-08-20T10:00:00.000000Z",
        "attributes": attributes or {},
    }


def insert_legacy_rejected(
    dsn: str, messages: list[dict[str, Any]], previous: list[dict[str, Any]], *, uid: str | None = None
) -> str:
    message_id = str(uuid.uuid4())
    execute(
        dsn,
        "INSERT INTO authentik_tasks_task (message_id, queue_name, actor_name, message, state, mtime, _uid,"
        " _messages, _previous_messages, aggregated_status, tenant_id)"
        " SELECT %s, 'default', 'authentik.legacy.sync', %s, 'rejected', now(), %s, %s, %s, '', tenant_uuid"
        " FROM authentik_tenants_tenant LIMIT 1",
        (message_id, b"legacy-message", uid, Jsonb(messages), Jsonb(previous)),
    )
    return message_id


def journal_lines(state_dir: Path) -> list[dict[str, Any]]:
    path = state_dir / "retries.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def _cli_env(env: dict[str, str]) -> dict[str, str]:
    """The environment tests.conftest.run_cli gives the CLI (no PG* or DATABASE_URL), plus `env`."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("PG") and k != "DATABASE_URL"},
        **env,
    }


def run_cli_stdin(*args: str, env: dict[str, str], tty_input: str | None = None, timeout: float = 60) -> CliResult:
    """Like tests.conftest.run_cli, with stdin fixed: /dev/null (not a terminal), or with
    `tty_input` a pseudo-terminal on which a person types that text."""
    full_env = _cli_env(env)
    command = [sys.executable, "-m", "tasktui", *args]
    if tty_input is None:
        proc = subprocess.run(
            command, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout, env=full_env
        )
        return CliResult(proc.returncode, proc.stdout, proc.stderr)
    controller, terminal = pty.openpty()
    try:
        with subprocess.Popen(
            command, stdin=terminal, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=full_env
        ) as running:
            os.write(controller, tty_input.encode())  # the line discipline keeps it until read
            stdout, stderr = running.communicate(timeout=timeout)
        return CliResult(running.returncode, stdout, stderr)
    finally:
        os.close(controller)
        os.close(terminal)


def run_cli_interrupted(*args: str, env: dict[str, str], after: str, timeout: float = 60) -> CliResult:
    """Run the CLI, press Ctrl-C (SIGINT) once a line of stderr starts with `after`, and
    collect the rest; the returned stderr holds every line, `after`'s included."""
    command = [sys.executable, "-m", "tasktui", *args]
    with subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_cli_env(env),
    ) as running:
        assert running.stderr is not None
        seen = []
        while not (seen and seen[-1].startswith(after)):
            line = running.stderr.readline()
            assert line, f"the CLI ended before printing {after!r}: {''.join(seen)}"
            seen.append(line)
        running.send_signal(signal.SIGINT)
        stdout, stderr = running.communicate(timeout=timeout)
    return CliResult(running.returncode, stdout, "".join(seen) + stderr)


LDAP_SYNC = "authentik.sources.ldap.tasks.ldap_sync"


async def rejected_after_a_retry(conn: psycopg.AsyncConnection, *, first_error: str = "first try timed out") -> str:
    """An LDAP sync linked to its source: the first attempt fails with `first_error` and is
    retried; the second fails for good (rejected) — so it has current and previous logs."""
    row = await (
        await conn.execute(
            "INSERT INTO django_content_type (app_label, model) VALUES ('authentik_sources_ldap', 'ldapsource')"
            " ON CONFLICT (app_label, model) DO UPDATE SET model = EXCLUDED.model RETURNING id"
        )
    ).fetchone()
    assert row is not None
    tenant = await broker.default_tenant(conn)
    mid = await broker.enqueue(conn, LDAP_SYNC, tenant_id=tenant, uid="corp-ldap", args=(7,), rel_obj=(row[0], "42"))
    for attempt, (exc_type, message, delay) in enumerate(
        (("TimeoutError", first_error, 0), ("LDAPException", "server down", None))
    ):
        assert await broker.claim(conn, mid)
        await broker.start_processing(conn, mid)
        await broker.fail(conn, mid, exc_type, message, retry_delay_ms=delay, retries=attempt, actor=LDAP_SYNC)
        await broker.release(conn, mid)
    return mid
