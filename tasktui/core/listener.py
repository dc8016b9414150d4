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
* **Both of the trigger's modes are followed.** While the trigger NOTIFYs, changes arrive as
  notifications. Once some console asked for drain mode (tasktui.core.changemode), they are
  read from the trigger's change table on a short timer instead, on this same connection
  between waits, and handed on like notifications; after each drain a `DRAINED` marker follows.
  The listener asks for drain mode itself when the rate it sees climbs (`mode="auto"`), and
  keeps draining for a while after the trigger went back to NOTIFY, until every transaction
  that could still have recorded a change has ended.
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
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

import psycopg

from tasktui.core import db
from tasktui.core.changemode import AUTO, CHOICES, DrainCursor, ModePolicy
from tasktui.core.session import detect_shape
from tasktui.core.sql import trigger as trigger_sql
from tasktui.core.trigger import DRAIN_MODE, HEARTBEAT_SECONDS, MODES, NOTIFY_MODE, validate_channel
from tasktui.errors import LinkHung, MissingPrivilege, RegistrationLost, TriggerNotInstalled

# How long a round trip to the server may take before the link counts as hung.
LINK_TIMEOUT = 5.0
# In drain mode, how often the change table is read (a change waits half of it on average).
DRAIN_INTERVAL = 0.05
# How often a drain also drops rows past their retention.
TIDY_SECONDS = 5.0
# After the trigger went back to NOTIFY: keep draining at least this long, and at most this long
# while waiting for every transaction that began before the switch to end.
WIND_DOWN_SECONDS = 10.0
WIND_DOWN_CAP_SECONDS = 60.0
# The longest wait for notifications: then the rate is looked at (auto mode), and a switch to
# drain mode announced meanwhile starts the drains (the wait cannot be cut short: see above).
TICK_SECONDS = 0.25

TABLES = frozenset(("task", "tasklog", "workerstatus"))
OPS = frozenset(("INSERT", "UPDATE", "DELETE"))
SENTINEL = "sentinel"  # the feed's own marker (see TaskFeed's reconciliation)
MODE = "mode"  # the trigger changed mode (sent by tasktui_mode, kept by the listener)
DRAINED = "drained"  # a drain of the change table ended (made by the listener, never parsed)
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
        if table == MODE:
            mode = data.get("mode")
            if mode in MODES:
                return cls(MODE, "", mode, None, None, None, received, payload)
            return cls.invalid(payload, received)
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

    @classmethod
    def drained(cls, kind: str, op: str, row_id: str, task_id: str | None, received_at: float) -> Change:
        """A change read from the trigger's change table (its values come from the trigger's own
        insert, through tasktui_drain; the payload is what `tail` prints)."""
        task_part = f', "task_id": "{task_id}"' if task_id else ""
        payload = f'{{"table": "{kind}", "op": "{op}", "id": "{row_id}"{task_part}, "via": "drain"}}'
        return cls(kind, op, row_id, task_id, None, None, received_at, payload)


class ChangeListener:
    """`async with ChangeListener(target, channel) as listener: async for change in listener.changes()`.

    `mode`: "auto" (ask for drain mode while the rate is high, tasktui.core.changemode), or
    always ask for "notify" or for "drain"."""

    def __init__(
        self,
        target: db.Target,
        channel: str = "tasktui",
        *,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
        link_timeout: float = LINK_TIMEOUT,
        on_gap: Callable[[], None] | None = None,
        mode: str = AUTO,
        drain_interval: float = DRAIN_INTERVAL,
        policy: ModePolicy | None = None,
    ):
        if mode not in CHOICES:
            raise ValueError(f"invalid mode {mode!r}: one of {', '.join(CHOICES)}")
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
        # The trigger's modes: what this console asks for, what the trigger does as last heard,
        # and where this console's drain has got to.
        self.choice = mode
        self.policy = policy or ModePolicy()
        self.wants = NOTIFY_MODE if mode == AUTO else mode
        self.mode = NOTIFY_MODE
        self.drain_interval = drain_interval
        self._cursor: DrainCursor | None = None
        self._wind_down_until = 0.0  # monotonic: drain at least until then after a switch back
        self._wind_down_cap = 0.0  # and at most until then
        self._wind_down_bar: int | None = None  # and until a drain's snapshot has xmin past this
        self.switches = 0  # mode changes heard
        self.drains = 0
        self.drained_rows = 0

    async def __aenter__(self) -> ChangeListener:
        conn = await db.connect(self.target)
        try:
            await db.bounded(detect_shape(conn), self.link_timeout, "reading the task tables' layout")
            row = await db.bounded(
                (await conn.execute(trigger_sql.REGISTRATION_AVAILABLE)).fetchone(),
                self.link_timeout,
                "checking the trigger",
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
            registering = db.fetch_value(conn, trigger_sql.REGISTER_CONSOLE, params)
            channel = await db.bounded(registering, self.link_timeout, "registering")
            self.channel = str(channel)
            # Where a drain starts: every change committed from here on is read by a later drain
            # (or notified), so the window a caller loads after entering misses nothing.
            self._cursor = await self._drain_start(conn)
            requesting = db.fetch_value(
                conn, trigger_sql.REQUEST_MODE, {"console_id": self.console_id, "wants": self.wants}
            )
            self._heard_mode(await db.bounded(requesting, self.link_timeout, "asking for a mode"))
        except psycopg.errors.ProgramLimitExceeded as exc:
            await conn.close()
            raise MissingPrivilege(str(db.user_error(exc, self.target))) from None
        except psycopg.Error as exc:
            await conn.close()
            raise db.user_error(exc, self.target) from None
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
                    conn.execute(trigger_sql.UNREGISTER_CONSOLE, {"console_id": self.console_id}),
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
            row = await db.bounded(
                _fetch_row(conn, trigger_sql.HEARTBEAT_AND_MODE, {"console_id": self.console_id}),
                self.link_timeout,
                "heartbeat",
            )
        except LinkHung:
            self._hung = True
            raise
        lapsed, mode = row if row is not None else (None, None)
        if lapsed is None:
            raise RegistrationLost("this console's registration for live updates was removed; reconnecting")
        self.alive_at = time.time()
        self._heard_mode(mode)
        if lapsed:
            self.gaps += 1
            if self.on_gap is not None:
                self.on_gap()

    # -- the trigger's modes ---------------------------------------------------------------------

    @property
    def draining(self) -> bool:
        """Whether changes are read from the change table now: in drain mode, and after the
        trigger went back to NOTIFY until every transaction that could still have recorded a
        change there has ended (a drain's snapshot has its xmin past the first one taken after
        the switch) — at least WIND_DOWN_SECONDS, at most WIND_DOWN_CAP_SECONDS."""
        if self.mode == DRAIN_MODE:
            return True
        now = time.monotonic()
        if now >= self._wind_down_cap:
            return False
        if now < self._wind_down_until or self._wind_down_bar is None:
            return True
        return self._cursor is not None and self._cursor.xmin < self._wind_down_bar

    def _heard_mode(self, mode: object) -> None:
        if mode not in MODES or mode == self.mode:
            return
        self.switches += 1
        if self.mode == DRAIN_MODE:
            now = time.monotonic()
            self._wind_down_until = now + WIND_DOWN_SECONDS
            self._wind_down_cap = now + WIND_DOWN_CAP_SECONDS
            self._wind_down_bar = None
        self.mode = str(mode)

    async def request_mode(self, wants: str) -> None:
        """Ask the trigger for a mode (it follows the most demanding live console)."""
        assert self.conn is not None, "enter the listener first"
        requesting = db.fetch_value(
            self.conn, trigger_sql.REQUEST_MODE, {"console_id": self.console_id, "wants": wants}
        )
        mode = await db.bounded(requesting, self.link_timeout, "asking for a mode")
        if mode is None:
            raise RegistrationLost("this console's registration for live updates was removed; reconnecting")
        self.wants = wants
        self._heard_mode(mode)

    async def _drain_start(self, conn: psycopg.AsyncConnection) -> DrainCursor:
        params = {"console_id": self.console_id, "since": None, "tidy": False}
        rows = await db.bounded(_fetch_all(conn, trigger_sql.DRAIN, params), self.link_timeout, "starting a drain")
        return DrainCursor.parse(rows[0][0])

    async def _drain(self, tidy: bool) -> list[Change]:
        """The changes recorded since the last drain, then a DRAINED marker."""
        assert self.conn is not None and self._cursor is not None
        params = {"console_id": self.console_id, "since": self._cursor.text, "tidy": tidy}
        try:
            rows = await db.bounded(
                _fetch_all(self.conn, trigger_sql.DRAIN, params), self.link_timeout, "draining changes"
            )
        except LinkHung:
            self._hung = True
            raise
        received = time.time()
        self.alive_at = received
        self._cursor = DrainCursor.parse(rows[0][0])
        if self.mode != DRAIN_MODE and self._wind_down_bar is None:
            self._wind_down_bar = self._cursor.xmax
        changes = [
            Change.drained(kind, op, row_id, task_id, received)
            for _snapshot, _xid, kind, op, row_id, task_id in rows
            if kind is not None
        ]
        self.drains += 1
        self.drained_rows += len(changes)
        changes.append(Change(DRAINED, "", str(self.drains), None, None, None, received, ""))
        return changes

    async def changes(self) -> AsyncIterator[Change]:
        """Yield each change as it arrives, notified or drained; heartbeat between waits, and
        ask for the mode the rate calls for. Raises psycopg.OperationalError when the connection
        is lost and LinkHung when it stops answering (callers reconnect)."""
        assert self.conn is not None, "enter the listener first"
        conn = self.conn
        now = time.monotonic()
        next_heartbeat = now + self.heartbeat_seconds
        next_drain = now
        next_tidy = now + TIDY_SECONDS
        while True:
            wake = min(next_heartbeat, now + TICK_SECONDS)
            if self.draining:
                wake = min(wake, next_drain)
            # The generator runs until this deadline and then ends by itself once the batch in
            # hand is handed out — never `break` out of it (see the module's docstring).
            notifies = conn.notifies(timeout=max(0.0, wake - time.monotonic()))
            async with aclosing(notifies):
                async for notify in notifies:
                    if notify.channel == self.channel:
                        change = Change.parse(notify.payload)
                        self.alive_at = change.received_at
                        if change.table == MODE:
                            self._heard_mode(change.id)
                            continue
                        if change.table in TABLES:
                            self.policy.count()
                        yield change
            now = time.monotonic()
            if self.draining and now >= next_drain:
                drained = await self._drain(tidy=now >= next_tidy)
                if now >= next_tidy:
                    next_tidy = now + TIDY_SECONDS
                next_drain = now + self.drain_interval
                self.policy.count(len(drained) - 1)
                for change in drained:
                    yield change
            if self.choice == AUTO:
                wanted = self.policy.decide()
                if wanted != self.wants:
                    await self.request_mode(wanted)
            now = time.monotonic()
            if now >= next_heartbeat:
                await self.heartbeat()
                next_heartbeat = time.monotonic() + self.heartbeat_seconds


async def _fetch_row(
    conn: psycopg.AsyncConnection[Any], query: str, params: Mapping[str, Any]
) -> tuple[Any, ...] | None:
    return await (await conn.execute(query, params)).fetchone()


async def _fetch_all(
    conn: psycopg.AsyncConnection[Any], query: str, params: Mapping[str, Any]
) -> list[tuple[Any, ...]]:
    return await (await conn.execute(query, params)).fetchall()
