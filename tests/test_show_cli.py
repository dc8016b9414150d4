"""`tasktui show`: one task in full, untrusted text printed literally, --json for scripts."""

from __future__ import annotations

import asyncio
import json
import os
import pickle
import pty
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
from psycopg.conninfo import make_conninfo

from tasktui.core.locks import task_lock_key
from tasktui.demo import broker
from tests.conftest import run_cli
from tests.test_cli_errors import MakeRole, make_role  # noqa: F401  # the fixture, reused
from tests.test_detail import ACTOR, _insert_legacy_task

HOSTILE = "\x1b[31mred\x1b[0m [bold red]fake[/bold red] \x1b]8;;https://evil.example\x07link\x1b]8;;\x07 \x9b2J"
HOSTILE_SHOWN = (
    "\\x1b[31mred\\x1b[0m [bold red]fake[/bold red] \\x1b]8;;https://evil.example\\x07link\\x1b]8;;\\x07 \\x9b2J"
)


async def _hostile_task(dsn: str) -> str:
    """A rejected task whose uid, logs, attributes and exception carry escapes and markup."""
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        tenant = await broker.default_tenant(conn)
        mid = await broker.enqueue(conn, ACTOR, tenant_id=tenant, uid=f"uid {HOSTILE}")
        assert await broker.claim(conn, mid)
        await broker.start_processing(conn, mid)
        await broker.log(conn, mid, f"event {HOSTILE}", logger=f"logger {HOSTILE}", attributes={"note": HOSTILE})
        await broker.fail(
            conn,
            mid,
            "ValueError",
            f"boom {HOSTILE}",
            retry_delay_ms=None,
            retries=0,
            actor=ACTOR,
            frames=[{"filename": f"/x/{HOSTILE}.py", "lineno": 3, "name": "run", "locals": None}],
        )
        await conn.execute("SELECT pg_advisory_unlock(%s)", (task_lock_key("default", mid),))
    return mid


def _assert_no_control_bytes(text: str) -> None:
    assert "\x1b" not in text and "\x07" not in text and "\x9b" not in text


async def test_show_prints_escapes_and_markup_literally(mirror_dsn: str) -> None:
    mid = await _hostile_task(mirror_dsn)
    result = run_cli("show", mid, "--dsn", mirror_dsn)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    _assert_no_control_bytes(out)
    assert f"uid           uid {HOSTILE_SHOWN}" in out
    assert f"logger {HOSTILE_SHOWN}  event {HOSTILE_SHOWN}" in out
    assert '{"note": "\\u001b[31mred\\u001b[0m [bold red]fake[/bold red]' in out  # attributes as JSON
    assert f'File "/x/{HOSTILE_SHOWN}.py", line 3, in run' in out
    assert f"ValueError: boom {HOSTILE_SHOWN}" in out
    assert f"exception     ValueError: boom {HOSTILE_SHOWN}" in out
    for heading in ("Task " + mid, "Message (", "Result (", "Current attempt: 4 log lines", "Previous attempts: 0"):
        assert heading in out
    assert "status        Error [rejected]" in out
    assert "tenant        Default (" in out
    assert "<authentik.tenants.models.Tenant schema_name='public' name='Default'>" in out


async def test_show_json_is_one_object_with_the_raw_text(mirror_dsn: str) -> None:
    mid = await _hostile_task(mirror_dsn)
    result = run_cli("show", mid, "--dsn", mirror_dsn, "--json")
    assert result.returncode == 0, result.stderr
    _assert_no_control_bytes(result.stdout)  # JSON escapes them all (ensure_ascii)
    data = json.loads(result.stdout)
    assert (data["message_id"], data["actor_name"], data["state"]) == (mid, ACTOR, "rejected")
    assert data["uid"] == f"uid {HOSTILE}"
    assert data["tenant"]["name"] == "Default"
    assert data["effective_status"] == "rejected"
    assert data["message"]["actor_name"] == ACTOR
    assert data["message"]["options"]["model_create_defaults"]["tenant"]["$global"] == "authentik.tenants.models.Tenant"
    assert data["result"]["exception"] == {"type": "ValueError", "message": f"boom {HOSTILE}"}
    current = data["logs"]["current"]
    assert (current["count"], current["shown"], current["truncated"]) == (4, 4, False)
    events = [line["event"] for line in current["lines"]]
    assert events == ["Task has been queued", "Task is being processed", f"event {HOSTILE}", f"boom {HOSTILE}"]
    assert current["lines"][2]["logger"] == f"logger {HOSTILE}"
    assert current["lines"][2]["attributes"] == {"note": HOSTILE}
    error = current["lines"][-1]
    assert error["level"] == "error"
    assert error["traceback"][-1] == f"ValueError: boom {HOSTILE}"
    assert data["logs"]["previous"]["lines"] == []


async def test_unknown_and_malformed_ids_are_one_line_errors(mirror_dsn: str) -> None:
    unknown = str(uuid.uuid4())
    result = run_cli("show", unknown, "--dsn", mirror_dsn)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"tasktui: error: no task with message id {unknown} on ")
    bad = run_cli("show", "not-a-uuid", "--dsn", mirror_dsn)
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1
    assert "not a task message id: 'not-a-uuid'" in bad.stderr


async def test_a_message_id_prefix_names_the_one_task_it_starts(mirror_dsn: str) -> None:
    """The console's table shows ids by their first 8 digits: `show` takes those (as git does)."""
    ids = ["2b8ff588-0000-4000-8000-000000000001", "2b8ff588-0000-4000-8000-000000000002", "7c1d0e9a-1111-4000-8000-0"]
    ids[2] += "0" * (36 - len(ids[2]))
    async with await psycopg.AsyncConnection.connect(mirror_dsn, autocommit=True) as conn:
        tenant = await broker.default_tenant(conn)
        for message_id in ids:
            await broker.enqueue(conn, ACTOR, tenant_id=tenant, message_id=message_id)
    unique = run_cli("show", "7C1D0E9A", "--dsn", mirror_dsn, "--json")
    assert unique.returncode == 0, unique.stderr
    assert json.loads(unique.stdout)["message_id"] == ids[2]
    ambiguous = run_cli("show", "2b8ff588", "--dsn", mirror_dsn)
    assert ambiguous.returncode == 2
    assert ambiguous.stderr.count("\n") == 1
    assert "several tasks' message ids start with 2b8ff588" in ambiguous.stderr
    assert ids[0] in ambiguous.stderr and ids[1] in ambiguous.stderr
    assert run_cli("show", "2b8ff588-0000-4000-8000-0000000000", "--dsn", mirror_dsn).returncode == 2  # still two
    none = run_cli("show", "deadbeef", "--dsn", mirror_dsn)
    assert none.returncode == 1
    assert "no task whose message id starts with deadbeef" in none.stderr
    short = run_cli("show", "2b8f", "--dsn", mirror_dsn)
    assert short.returncode == 2
    assert "needs at least 8 hex digits" in short.stderr


async def test_a_malicious_message_pickle_is_shown_as_a_placeholder(mirror_dsn: str, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    # {"actor_name": …, "args": (os.system("touch …"),)} written by hand: loading it for real
    # would run the command.
    evil = (
        b"\x80\x02}q\x00(X\n\x00\x00\x00actor_nameq\x01X\x0e\x00\x00\x00authentik.evilq\x02X\x04\x00\x00\x00args"
        + b"q\x03cos\nsystem\nq\x04X"
        + len(f"touch {marker}").to_bytes(4, "little")
        + f"touch {marker}".encode()
        + b"\x85R\x85u."
    )
    async with await psycopg.AsyncConnection.connect(mirror_dsn, autocommit=True) as conn:
        mid = await broker.enqueue(conn, "authentik.evil", tenant_id=await broker.default_tenant(conn))
        await conn.execute("UPDATE authentik_tasks_task SET message = %s WHERE message_id = %s", (evil, mid))
        await conn.execute(
            "UPDATE authentik_tasks_task SET result = %s WHERE message_id = %s",
            (pickle.dumps({"__t": "dramatiq.results.Result", "exn": {"type": "X", "msg": "y"}}), mid),
        )
    text = run_cli("show", mid, "--dsn", mirror_dsn)
    as_json = run_cli("show", mid, "--dsn", mirror_dsn, "--json")
    assert not marker.exists()
    assert text.returncode == 0, text.stderr
    assert f"call          authentik.evil(<os.system('touch {marker}')>)" in text.stdout
    assert json.loads(as_json.stdout)["message"]["args"][0]["$global"] == "os.system"
    assert not marker.exists()


async def test_show_on_a_2025_8_database_reads_legacy_logs(mirror_dsn: str) -> None:
    async with await psycopg.AsyncConnection.connect(mirror_dsn, autocommit=True) as conn:
        await conn.execute("DROP TABLE authentik_tasks_tasklog")
        await conn.execute("ALTER TABLE authentik_tasks_task DROP COLUMN eta CASCADE, DROP COLUMN retries")
        mid = await _insert_legacy_task(conn, with_eta=False)
    result = run_cli("show", mid, "--dsn", mirror_dsn)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Current attempt: 5 log lines" in out and "Previous attempts: 1 log line" in out
    assert "2025-02-30T99:00:00Z (unreadable)" in out
    assert "authentik.legacy  earlier  [legacy]" in out
    assert "(attributes: " in out and "bytes, not shown)" in out
    assert "status        Warning [warning]" in out


async def test_max_logs_limits_each_attempt(mirror_dsn: str) -> None:
    async with await psycopg.AsyncConnection.connect(mirror_dsn, autocommit=True) as conn:
        mid = await broker.enqueue(conn, ACTOR, tenant_id=await broker.default_tenant(conn))
        for index in range(4):
            await broker.log(conn, mid, f"line {index}")
    result = run_cli("show", mid, "--dsn", mirror_dsn, "--max-logs", "2")
    assert result.returncode == 0, result.stderr
    assert "Current attempt: 5 log lines" in result.stdout
    assert "line 0" in result.stdout and "line 1" not in result.stdout
    assert "… 3 more not shown (--max-logs 0 shows all)" in result.stdout
    everything = json.loads(run_cli("show", mid, "--dsn", mirror_dsn, "--json", "--max-logs", "0").stdout)
    assert everything["logs"]["current"]["shown"] == 5


async def test_a_database_error_is_one_line(mirror_dsn: str, make_role: MakeRole) -> None:  # noqa: F811
    mid = await _hostile_task(mirror_dsn)
    tables = "authentik_tasks_task, authentik_tenants_tenant, django_content_type"
    no_tasklog = make_role(f"GRANT SELECT ON {tables}, authentik_tasks_workerstatus TO {{role}}")
    no_workerstatus = make_role(f"GRANT SELECT ON {tables}, authentik_tasks_tasklog TO {{role}}")
    for args, role, table in (
        (("show", mid), no_tasklog, "authentik_tasks_tasklog"),
        (("workers",), no_workerstatus, "authentik_tasks_workerstatus"),
    ):
        result = run_cli(*args, "--dsn", make_conninfo(mirror_dsn, user=role))
        assert result.returncode == 4, result.stderr
        assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1
        assert result.stderr.startswith("tasktui: error: permission denied on ")
        assert table in result.stderr


def _run_on_a_terminal(*args: str) -> str:
    """Run tasktui with stdout on a pseudo-terminal; everything it wrote there."""
    leader, follower = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG") and k not in ("DATABASE_URL", "NO_COLOR")}
    env |= {"TERM": "xterm-256color", "COLUMNS": "400"}
    proc = subprocess.Popen([sys.executable, "-m", "tasktui", *args], stdout=follower, stderr=subprocess.PIPE, env=env)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert proc.wait(timeout=60) == 0, proc.stderr.read() if proc.stderr else ""
    return b"".join(chunks).decode()


def test_colour_only_on_a_terminal_and_hostile_text_still_escaped(mirror_dsn: str) -> None:
    mid = asyncio.run(_hostile_task(mirror_dsn))
    out = _run_on_a_terminal("show", mid, "--dsn", mirror_dsn)
    assert "\x1b[1m" in out  # Rich styles: bold labels
    assert "\\x1b[31mred\\x1b[0m [bold red]fake[/bold red]" in out
    # The database's own sequences never reach the terminal raw.
    assert "\x1b[31mred" not in out and "\x1b]8;;" not in out and "\x07" not in out and "\x9b" not in out
    piped = run_cli("show", mid, "--dsn", mirror_dsn, env={"FORCE_COLOR": "1", "TTY_COMPATIBLE": "1"})
    assert "\x1b" not in piped.stdout  # no colour in a pipe, whatever the environment asks
