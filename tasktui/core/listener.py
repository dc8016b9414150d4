"""Receive tasktui's change notifications: register as a watching console, LISTEN, heartbeat.

The listener owns one dedicated autocommit connection (psycopg's `notifies()` holds the
connection lock, so nothing else may run on it). Three rules keep what it reports true:

* **Every notification delivered to the connection is handed on.** psycopg hands out one read's
  notifications from a local list; leaving its generator early drops the rest of that list for
  good. So the generator is never left early: it is given a deadline (the next heartbeat) and
  ends on its own once the batch in hand is out.
* **A dead or hung link is noticed while waiting.** Nothing arrives from a hung server or a cut
  network, which looks exactly like a quiet task system. The heartbeat between waits is a round
  trip bounded by `link_timeout`: no answer in time raises LinkHung (and the caller reconnects).
* **A lapse of the registration is reported.** The trigger stops notifying a console whose
  heartbeat is older than STALE_AFTER (a heartbeat that came late: a stalled loop, a slow
  server). The heartbeat says when that happened and the listener counts a `gap`, so that the
  feed re-checks the window instead of trusting notifications that never came. A registration
  that is gone altogether raises RegistrationLost: the feed reconnects and reloads.

Registering, heartbeating and unregistering go through the install's functions (see
schema/tasktui_notify.sql): the server decides whether this role may watch, and picks the
console's own channel — `<prefix>_<random>` — on which it LISTENs for us.

Payloads are hints, never trusted: any role may NOTIFY any channel. `Change.parse` accepts only
the shapes tasktui's trigger sends; everything else is an `invalid` change, to be counted and
ignored.
"""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass

import psycopg

from tasktui.core import db
from tasktui.core.session import detect_layout
from tasktui.core.sql import trigger as q
from tasktui.core.trigger import HEARTBEAT_SECONDS, validate_channel
from tasktui.errors import LinkHung, MissingPrivilege, RegistrationLost, TriggerNotInstalled

# How long a round trip to the server may take before the link counts as hung.
LINK_TIMEOUT = 5.0

TABLES = frozenset(("task", "tasklog", "workerstatus"))
OPS = frozenset(("INSERT", "UPDATE", "DELETE"))
SENTINEL = "sentinel"  # the feed's own marker (see TaskFeed's reconciliation)
INVALID = "invalid"
MAX_TEXT = 100  # longest state, queue or level a payload may carry (the trigger cuts at 100)


def _uuid(value: object) -> str | None:
    """The canonical text of a uuid, or None when `value` is not one."""
    if not isinstance(value, str) or len(value) > 36:
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def _short_text(value: object) -> str | None:
    return value if isinstance(value, str) and len(value) <= MAX_TEXT else None


@dataclass(frozen=True)
class Change:
    """One notification: "this row changed". Notifications fold and can be lost across a
    reconnect, so a change is a reason to re-read a row, never a count of events."""

    table: str  # "task" | "tasklog" | "workerstatus" | SENTINEL | INVALID
    op: str
    id: str
    task_id: str | None
    state: str | None
    sent_at: float | None  # server clock, epoch seconds
    received_at: float  # local clock, epoch seconds
    payload: str

    @property
    def valid(self) -> bool:
        return self.table != INVALID

    @classmethod
    def invalid(cls, payload: str, received_at: float) -> Change:
        return cls(INVALID, "", "", None, None, None, received_at, payload)

    @classmethod
    def parse(cls, payload: str, received_at: float | None = None) -> Change:
        """Only what tasktui's trigger (or this console's sentinel) sends is accepted: a JSON
        object naming a known table and operation, with uuids where ids belong."""
        received = time.time() if received_at is None else received_at
        try:
            data = json.loads(payload)
        except ValueError:
            return cls.invalid(payload, received)
        if not isinstance(data, dict):
            return cls.invalid(payload, received)
        table = data.get("table")
        if table == SENTINEL:
            token = data.get("token")
            if isinstance(token, str) and len(token) == 32 and token.isalnum():
                return cls(SENTINEL, "", token, None, None, None, received, payload)
            return cls.invalid(payload, received)
        op, row_id = data.get("op"), _uuid(data.get("id"))
        if table not in TABLES or op not in OPS or row_id is None:
            return cls.invalid(payload, received)
        task_id = _uuid(data.get("task_id"))
        if table == "tasklog" and task_id is None:
            return cls.invalid(payload, received)
        sent = data.get("ts")
        return cls(
            table=table,
            op=op,
            id=row_id,
            task_id=task_id,
            state=_short_text(data.get("state")),
            sent_at=float(sent) if isinstance(sent, int | float) and not isinstance(sent, bool) else None,
            received_at=received,
            payload=payload,
        )


class ChangeListener:
    """`async with ChangeListener(target, channel) as listener: async for change in listener.changes()`."""

    def __init__(
        self,
        target: db.Target,
        channel: str = "tasktui",
        *,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
        link_timeout: float = LINK_TIMEOUT,
        on_gap: Callable[[], None] | None = None,
    ):
        self.target = target
        self.prefix = validate_channel(channel)
        self.channel = ""  # the console's own channel, chosen by the server when it registers
        self.console_id = str(uuid.uuid4())
        self.heartbeat_seconds = heartbeat_seconds
        self.link_timeout = link_timeout
        self.conn: psycopg.AsyncConnection | None = None
        # Times the trigger may have stopped notifying us (our registration had lapsed); the
        # caller hears of each through `on_gap` and re-checks what it shows.
        self.gaps = 0
        self.on_gap = on_gap
        # Wall clock of the last proof that the link works (a notification or an answer).
        self.alive_at = time.time()
        self._hung = False

    async def __aenter__(self) -> ChangeListener:
        conn = await db.connect(self.target)
        try:
            await db.bounded(detect_layout(conn), self.link_timeout, "reading the task tables' layout")
            row = await db.bounded(
                (await conn.execute(q.REGISTRATION_AVAILABLE)).fetchone(), self.link_timeout, "checking the trigger"
            )
            functions, table = row if row else (False, False)
            if not functions:
                raise TriggerNotInstalled(
                    "tasktui's notify trigger here is outdated; run `tasktui trigger install` to upgrade it"
                    if table
                    else "tasktui's notify trigger is not installed here; run `tasktui trigger install`"
                )
            # Registered and listening in one statement: from here on no change can be missed,
            # so a caller that loads its initial state after entering sees every later change.
            params = {"console_id": self.console_id, "prefix": self.prefix, "hostname": socket.gethostname()[:255]}
            registering = db.fetch_value(conn, q.REGISTER_CONSOLE, params)
            channel = await db.bounded(registering, self.link_timeout, "registering")
            self.channel = str(channel)
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
        self.alive_at = time.time()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        conn, self.conn = self.conn, None
        if conn is None or conn.closed:
            return
        try:
            if not self._hung:  # a hung link would only make us wait again
                await db.bounded(
                    conn.execute(q.UNREGISTER_CONSOLE, {"console_id": self.console_id}),
                    self.link_timeout,
                    "unregistering the console",
                )
        except (psycopg.Error, LinkHung):
            pass  # the row goes stale on its own
        finally:
            await conn.close()

    async def heartbeat(self) -> None:
        """Tell the trigger we still watch, as a bounded round trip. Raises LinkHung when the
        server does not answer in time and RegistrationLost when our registration is gone
        (removed by this role or the installer: changes are no longer sent here, so the feed
        reconnects, as after a drop); counts a gap when it had lapsed."""
        assert self.conn is not None, "enter the listener first"
        conn = self.conn
        try:
            lapsed = await db.bounded(
                db.fetch_value(conn, q.HEARTBEAT, {"console_id": self.console_id}), self.link_timeout, "heartbeat"
            )
        except LinkHung:
            self._hung = True
            raise
        if lapsed is None:
            raise RegistrationLost("this console's registration for live updates was removed; reconnecting")
        self.alive_at = time.time()
        if lapsed:
            self.gaps += 1
            if self.on_gap is not None:
                self.on_gap()

    async def changes(self) -> AsyncIterator[Change]:
        """Yield each notification as it arrives; heartbeat between waits. Raises
        psycopg.OperationalError when the connection is lost and LinkHung when it stops
        answering (callers reconnect)."""
        assert self.conn is not None, "enter the listener first"
        conn = self.conn
        next_heartbeat = time.monotonic() + self.heartbeat_seconds
        while True:
            # The generator runs until this deadline and then ends by itself once the batch in
            # hand is handed out — never `break` out of it (see the module's docstring).
            notifies = conn.notifies(timeout=max(0.0, next_heartbeat - time.monotonic()))
            async with aclosing(notifies):
                async for notify in notifies:
                    if notify.channel == self.channel:
                        change = Change.parse(notify.payload)
                        self.alive_at = change.received_at
                        yield change
            await self.heartbeat()
            next_heartbeat = time.monotonic() + self.heartbeat_seconds
