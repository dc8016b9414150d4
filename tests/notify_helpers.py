"""Observing NOTIFY from tests without sleeping: a plain LISTEN connection and a sentinel.

Postgres delivers notifications in commit order. So after a write has committed, sending a
sentinel notification from another connection and reading until it arrives yields exactly what
the write sent — "nothing was sent" is then a fact, not a timeout that happened to pass.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import psycopg
from psycopg import sql

SENTINEL_CHANNEL = "tasktui_test_sentinel"


class Listener:
    """`LISTEN` on some channels with a connection of its own (as any extra listener would)."""

    def __init__(self, dsn: str, *channels: str) -> None:
        self.channels = channels
        self.conn = psycopg.connect(dsn, autocommit=True)
        self._sender = psycopg.connect(dsn, autocommit=True)
        for channel in (*channels, SENTINEL_CHANNEL):
            self.conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))

    def collect(self, timeout: float = 10.0) -> list[psycopg.Notify]:
        """Every notification committed before this call and not yet collected, in order."""
        token = uuid.uuid4().hex
        self._sender.execute("SELECT pg_notify(%s, %s)", (SENTINEL_CHANNEL, token))
        received: list[psycopg.Notify] = []
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            for notify in self.conn.notifies(timeout=remaining):
                if notify.channel == SENTINEL_CHANNEL:
                    if notify.payload == token:
                        return received
                    continue  # a sentinel of an earlier call that timed out
                received.append(notify)
        raise AssertionError(f"the sentinel notification did not arrive within {timeout} s")

    def payloads(self) -> list[dict[str, Any]]:
        """The JSON payloads collected now (each must be a JSON object)."""
        decoded = [json.loads(n.payload) for n in self.collect()]
        assert all(isinstance(p, dict) for p in decoded), decoded
        return decoded

    def close(self) -> None:
        self.conn.close()
        self._sender.close()

    def __enter__(self) -> Listener:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def execute(dsn: str, statement: str, params: Any = None) -> list[tuple[Any, ...]]:
    """Run one statement in its own autocommitted session; its rows if it returns any."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        cursor = conn.execute(statement, params)
        return cursor.fetchall() if cursor.description else []
