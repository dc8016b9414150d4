"""`tasktui tail` as a script would use it: a subprocess printing one JSON line per change."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import IO

import psycopg
import pytest

from tasktui.demo import broker
from tests.notify_helpers import execute

TIMEOUT = 15.0


class Lines:
    """The lines a pipe produces, read by a thread so a test can wait for one with a timeout."""

    def __init__(self, stream: IO[str]) -> None:
        self._queue: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def next(self) -> str:
        try:
            line = self._queue.get(timeout=TIMEOUT)
        except queue.Empty:
            raise AssertionError(f"no line within {TIMEOUT} s; so far: {self.seen}") from None
        if line is None:
            raise AssertionError(f"the stream ended; so far: {self.seen}")
        self.seen.append(line)
        return line

    def rest(self) -> list[str]:
        """Every remaining line, once the process has exited."""
        lines = []
        while (line := self._queue.get(timeout=TIMEOUT)) is not None:
            lines.append(line)
        return lines


@pytest.fixture
def tail(live_dsn: str) -> Iterator[subprocess.Popen[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG") and k != "DATABASE_URL"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tasktui", "tail", "--dsn", live_dsn],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    yield proc
    if proc.poll() is None:
        proc.kill()
        proc.wait()


async def test_tail_prints_each_change_as_a_json_line_and_unregisters_on_sigterm(
    live_dsn: str, tail: subprocess.Popen[str]
) -> None:
    assert tail.stdout is not None and tail.stderr is not None
    out, err = Lines(tail.stdout), Lines(tail.stderr)
    # Registered (and listening) before it says so.
    assert err.next().startswith("listening on 'tasktui' (console ")
    consoles = execute(live_dsn, "SELECT channel, username, backend_pid FROM tasktui_console")
    assert len(consoles) == 1 and consoles[0][0].startswith("tasktui_")

    async with await psycopg.AsyncConnection.connect(live_dsn, autocommit=True) as conn:
        tenant = await broker.default_tenant(conn)
        task_id = await broker.enqueue(conn, "authentik.test.actor", tenant_id=tenant)
        await conn.execute("UPDATE authentik_tasks_task SET state = 'consumed', mtime = now()")
    changes = [json.loads(out.next()) for _ in range(3)]
    assert [(c["table"], c["op"]) for c in changes] == [("task", "INSERT"), ("tasklog", "INSERT"), ("task", "UPDATE")]
    assert changes[0]["id"] == task_id and changes[1]["task_id"] == task_id
    assert changes[2]["state"] == "consumed"

    tail.send_signal(signal.SIGTERM)
    assert tail.wait(timeout=TIMEOUT) == 0
    assert out.rest() == []
    assert "Traceback" not in "\n".join(err.rest())
    assert execute(live_dsn, "SELECT count(*) FROM tasktui_console") == [(0,)]


@pytest.mark.slow
def test_tail_says_so_in_one_line_when_the_trigger_is_uninstalled_under_it(
    live_dsn: str, tail: subprocess.Popen[str]
) -> None:
    """Issue 11 item 11: it used to end with a database error (`function tasktui_heartbeat(uuid)
    does not exist`, exit 1). Now one line that says what happened, exit 5 (documented)."""
    assert tail.stderr is not None
    err = Lines(tail.stderr)
    assert err.next().startswith("listening on 'tasktui' (console ")
    assert err.next() == "trigger mode: notify"  # said at start (issue 12), before any change
    uninstall = subprocess.run(
        [sys.executable, "-m", "tasktui", "trigger", "uninstall", "--dsn", live_dsn], capture_output=True, text=True
    )
    assert uninstall.returncode == 0, uninstall.stderr
    assert tail.wait(timeout=TIMEOUT) == 5  # at the next heartbeat (every 5 s)
    (line,) = err.rest()
    assert line.startswith("tasktui: error: tasktui's notify trigger was removed from ")
    assert line.endswith(
        " while tail was running, so no more changes will come; run `tasktui trigger install` to watch again"
    )
    help_text = " ".join(
        subprocess.run(
            [sys.executable, "-m", "tasktui", "tail", "--help"], capture_output=True, text=True
        ).stdout.split()
    )
    assert "5 tasktui's notify trigger is not installed — at start, or removed while tail runs" in help_text
