"""Receive tasktui's change notifications: register as a watching console, LISTEN, heartbeat.

The listener owns one dedicated autocommit connection (psycopg's `notifies()` holds the
connection lock, so nothing else may run on it). Between waits it refreshes the console's
heartbeat on that same connection, which also proves the connection is still alive: a console
whose listener died stops making the trigger speak within `STALE_AFTER`.

Registering, heartbeating and unregistering go through the install's functions (see
schema/tasktui_notify.sql): the server decides whether this role may watch, and picks the
console's own channel — `<prefix>_<random>` — on which it LISTENs for us.
"""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass

import psycopg

from tasktui.core import db
from tasktui.core.session import detect_layout
from tasktui.core.sql import trigger as q
from tasktui.core.trigger import HEARTBEAT_SECONDS, validate_channel
from tasktui.errors import MissingPrivilege, RegistrationLost, TriggerNotInstalled


@dataclass(frozen=True)
class Change:
    """One notification: "this row changed". Notifications fold and can be lost across a
    reconnect, so a change is a reason to re-read a row, never a count of events."""

    table: str  # "task" | "tasklog" | "workerstatus" | "unknown"
    op: str
    id: str
    task_id: str | None
    state: str | None
    sent_at: float | None  # server clock, epoch seconds
    received_at: float  # local clock, epoch seconds
    payload: str

    @classmethod
    def parse(cls, payload: str, received_at: float | None = None) -> Change:
        received = time.time() if received_at is None else received_at
        try:
            data = json.loads(payload)
            if not isinstance(data, dict):
                raise ValueError("not an object")
        except ValueError:
            return cls("unknown", "", "", None, None, None, received, payload)

        def text(key: str) -> str | None:
            value = data.get(key)
            return None if value is None else str(value)

        sent = data.get("ts")
        return cls(
            table=text("table") or "unknown",
            op=text("op") or "",
            id=text("id") or "",
            task_id=text("task_id"),
            state=text("state"),
            sent_at=float(sent) if isinstance(sent, int | float) else None,
            received_at=received,
            payload=payload,
        )


class ChangeListener:
    """`async with ChangeListener(target, channel) as listener: async for change in listener.changes()`."""

    def __init__(self, target: db.Target, channel: str = "tasktui", *, heartbeat_seconds: float = HEARTBEAT_SECONDS):
        self.target = target
        self.prefix = validate_channel(channel)
        self.channel = ""  # the console's own channel, chosen by the server when it registers
        self.console_id = str(uuid.uuid4())
        self.heartbeat_seconds = heartbeat_seconds
        self.conn: psycopg.AsyncConnection | None = None

    async def __aenter__(self) -> ChangeListener:
        conn = await db.connect(self.target)
        try:
            await detect_layout(conn)  # sets the search_path to the task tables' schema
            functions, table = await (await conn.execute(q.REGISTRATION_AVAILABLE)).fetchone()
            if not functions:
                raise TriggerNotInstalled(
                    "tasktui's notify trigger here is outdated; run `tasktui trigger install` to upgrade it"
                    if table
                    else "tasktui's notify trigger is not installed here; run `tasktui trigger install`"
                )
            # Registered and listening in one statement: from here on no change can be missed,
            # so a caller that loads its initial state after entering sees every later change.
            params = {"console_id": self.console_id, "prefix": self.prefix, "hostname": socket.gethostname()[:255]}
            self.channel = str(await db.fetch_value(conn, q.REGISTER_CONSOLE, params))
        except psycopg.errors.ProgramLimitExceeded as exc:
            await conn.close()
            raise MissingPrivilege(str(db.explain(exc, self.target))) from None
        except psycopg.Error as exc:
            await conn.close()
            raise db.explain(exc, self.target) from None
        except BaseException:
            await conn.close()
            raise
        self.conn = conn
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        conn, self.conn = self.conn, None
        if conn is None or conn.closed:
            return
        try:
            await conn.execute(q.UNREGISTER_CONSOLE, {"console_id": self.console_id})
        except psycopg.Error:
            pass  # the row goes stale on its own
        finally:
            await conn.close()

    async def changes(self) -> AsyncIterator[Change]:
        """Yield each notification as it arrives; heartbeat between waits. Raises
        psycopg.OperationalError when the connection is lost (callers reconnect)."""
        assert self.conn is not None, "enter the listener first"
        conn = self.conn
        next_heartbeat = time.monotonic() + self.heartbeat_seconds
        while True:
            remaining = max(0.05, next_heartbeat - time.monotonic())
            # Close the generator explicitly: it holds the connection lock until closed, and
            # the heartbeat below needs the connection.
            notifies = conn.notifies(timeout=remaining)
            async with aclosing(notifies):
                async for notify in notifies:
                    if notify.channel == self.channel:
                        yield Change.parse(notify.payload)
                    if time.monotonic() >= next_heartbeat:
                        break
            await self._heartbeat(conn)
            next_heartbeat = time.monotonic() + self.heartbeat_seconds

    async def _heartbeat(self, conn: psycopg.AsyncConnection) -> None:
        """Refresh the registration; a registration that is gone (removed by this role or the
        installer) means changes are no longer sent here: raise, as a dropped connection does."""
        if not await db.fetch_value(conn, q.HEARTBEAT, {"console_id": self.console_id}):
            raise RegistrationLost("this console's registration for live updates was removed; reconnecting")
