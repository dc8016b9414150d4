"""The live feed: keep a TaskStore in step with the database, pushed by LISTEN/NOTIFY, checked by
a re-read of the window, and honest about the link.

Life of a feed (`TaskFeed.run`, cancelled to stop):

1. Connect a query session, then a ChangeListener (registers the console, LISTENs) — in that
   order nothing committed after the initial load can be missed.
2. Load the window: every unfinished task plus the newest finished ones.
3. Run four loops side by side, each failing on its own terms:
   * the listener collects notifications into a set of changed ids (a burst of thousands of
     changes to a few hundred tasks is a few hundred ids) and heartbeats with a bounded round
     trip, so a hung server or a cut network is noticed within `link_timeout` of a heartbeat;
   * the flush re-reads those ids in batches, at most `1 / flush_interval` times a second; rows
     are keyed by id and later state wins, so folded or duplicated notifications are harmless;
   * the reconciliation re-reads the window every `reconcile_interval` seconds and heals what
     differs (notifications can be lost outside tasktui's control); what it had to heal is drift,
     counted in the feed's health (tasktui.core.health);
   * the counts (tasktui.core.counts) run on a connection of their own: a slow or failing count
     marks the counts stale or estimated and never touches the rest.
   Losing the link in the listener, the flush or the reconciliation is losing the feed: it says
   so at once (RECONNECTING, with the reason) and the others stop.
4. Without the trigger (not installed, or no right to register), poll instead: unfinished tasks
   and recently changed finished ones every `poll_interval` seconds.
5. Reconnect with capped backoff and reload the window (notifications sent while we were away are
   gone for good), then report how long we were blind — counted from the last proof that the
   link worked. Each outage is its own: blind time and backoff start afresh after a reload.

The feed reports through a FeedSink (the UI turns those calls into messages); it never imports
Textual.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Iterable
from datetime import datetime
from typing import Any

import psycopg

from tasktui.core import db
from tasktui.core.bugs import internal_error
from tasktui.core.changemode import AUTO
from tasktui.core.changes import ChangeFlusher
from tasktui.core.counts import COUNTS_STALE_AFTER, COUNTS_TIMEOUT_MS, FinishedCounter, StatusCounts, combine
from tasktui.core.events import FeedMode, FeedSink, FeedStatus, FeedUpdate
from tasktui.core.health import DriftLedger, FeedHealth
from tasktui.core.listener import DRAINED, LINK_TIMEOUT, SENTINEL, ChangeListener
from tasktui.core.models import TaskRow
from tasktui.core.reconcile import Recheck
from tasktui.core.session import Session, open_session
from tasktui.core.sql import tasks as tasks_sql
from tasktui.core.sql import trigger as trigger_sql
from tasktui.core.store import TaskStore
from tasktui.core.trigger import HEARTBEAT_SECONDS
from tasktui.core.window import UNFINISHED_CAP_PER_STATE, TaskWindow
from tasktui.errors import ConnectionFailed, LinkHung, MissingPrivilege, TriggerNotInstalled, UserFacingError

log = logging.getLogger(__name__)


MIN_BACKOFF, MAX_BACKOFF, FAILED_RETRY = 0.5, 10.0, 10.0
RECONCILE_INTERVAL = 5.0
RECONCILE_DUTY = 0.05  # the re-check never takes more than this share of the time
CLEANUP_WAIT = 1.0  # how long a failing feed waits for its loops to stop before moving on


class TaskFeed:
    def __init__(
        self,
        target: db.Target,
        store: TaskStore,
        sink: FeedSink,
        *,
        channel: str = "tasktui",
        window: int = 2_000,
        flush_interval: float = 0.05,
        poll_interval: float = 2.0,
        reconcile_interval: float = RECONCILE_INTERVAL,
        counts_timeout_ms: int = COUNTS_TIMEOUT_MS,
        link_timeout: float = LINK_TIMEOUT,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
        use_trigger: bool = True,
        trigger_mode: str = AUTO,
    ) -> None:
        self.target = target
        self.store = store
        self.sink = sink
        self.channel = channel
        self.window = window
        self.flush_interval = flush_interval
        self.poll_interval = poll_interval
        self.reconcile_interval = reconcile_interval
        self.counts_timeout_ms = counts_timeout_ms
        self.link_timeout = link_timeout
        self.heartbeat_seconds = heartbeat_seconds
        self.use_trigger = use_trigger
        self.trigger_mode = trigger_mode
        self.session: Session | None = None
        self.mode = FeedMode.CONNECTING
        self.last_event_at: float | None = None
        # Changes received per second over the last minute, for the throughput sparkline.
        self.rate: deque[int] = deque([0] * 60, maxlen=60)
        self._rate_second = int(time.time())
        self._window = TaskWindow(store, self._fetchall, window=window, notice=sink.console_notice)
        self._changes = ChangeFlusher(
            self._window, sink, flush_interval=flush_interval, on_counts=lambda: self.sink.feed_counts(self.counts())
        )
        self._reconcile_now = asyncio.Event()
        self._listener: ChangeListener | None = None
        self._status = FeedStatus(FeedMode.CONNECTING, label=target.label)
        # Bookkeeping of outages: when the link last worked, and whether this connection reloaded.
        self._alive_at = time.time()
        self._blind_since: float | None = None
        self._reloaded = False
        # Health
        self._drift = DriftLedger()
        # Sentinels that came back while changes were being drained: the drain that starts next
        # has read every change committed before the re-check (see reconcile()).
        self._awaiting_drain: list[str] = []
        self._ignored = 0
        self._reconnects = 0
        self._reconcile_every = reconcile_interval
        self._reconcile_ms: float | None = None
        self._last_reconcile_at: float | None = None
        self._reconcile_error = ""
        self._recheck = Recheck(
            self._fetchall,
            store,
            self._window.lock,
            window=window,
            cap_per_state=UNFINISHED_CAP_PER_STATE,
            pending=lambda: self._changes.pending.task_ids,
            fetch_rows=self._window.fetch_by_ids,
        )
        # Counts, on a connection of their own
        self._counter = FinishedCounter(
            target,
            timeout_ms=counts_timeout_ms,
            link_timeout=link_timeout,
            on_counted=lambda: self.sink.feed_counts(self.counts()),
        )

    # -- reporting -----------------------------------------------------------------------------

    @property
    def queries(self) -> tasks_sql.TaskQueries | None:
        """The statements for the connected database's table shape."""
        return self._window.queries

    @queries.setter
    def queries(self, queries: tasks_sql.TaskQueries | None) -> None:
        self._window.queries = queries

    @property
    def listen_channel(self) -> str:
        """The channel this console listens on now."""
        return self._listener.channel if self._listener is not None else self.channel

    def _report(self, mode: FeedMode, detail: str = "", *, fades: bool = False) -> None:
        self.mode = mode
        session = self.session
        down = mode in (FeedMode.RECONNECTING, FeedMode.FAILED)
        self._status = FeedStatus(
            mode=mode,
            detail=detail,
            label=session.label if session else self.target.label,
            shape=session.shape.describe() if session else "",
            blind_since=self._blind_since if down else None,
            fades=fades,
        )
        self.sink.feed_status(self._status)

    def health(self) -> FeedHealth:
        return FeedHealth(
            drift_last_hour=self._drift.last_hour(),
            drift_total=self._drift.total,
            last_drift_at=self._drift.last_at,
            last_drift_ids=self._drift.last_ids,
            ignored_payloads=self._ignored,
            reconcile_interval=self._reconcile_every,
            last_reconcile_at=self._last_reconcile_at,
            reconcile_ms=self._reconcile_ms,
            reconcile_error=self._reconcile_error,
            reconnects=self._reconnects,
            gaps=self._listener.gaps if self._listener is not None else 0,
            trigger_mode=self._listener.mode if self._listener is not None else "",
            drained_rows=self._listener.drained_rows if self._listener is not None else 0,
            mode_switches=self._listener.switches if self._listener is not None else 0,
        )

    def _report_health(self) -> None:
        self.sink.feed_health(self.health())

    def counts(self) -> StatusCounts:
        """The header's counts from the store as it is now (see tasktui.core.counts)."""
        return combine(
            self.store.tally(),
            self._counter.finished,
            error=self._counter.error,
            stale_after=COUNTS_STALE_AFTER,
            now=time.time(),
        )

    def rate_snapshot(self) -> list[int]:
        """Changes per second over the last minute, oldest first (the last one still filling)."""
        self._count_rate(0)
        return list(self.rate)

    def _count_rate(self, n: int) -> None:
        now = int(time.time())
        if now != self._rate_second:
            for _ in range(min(60, now - self._rate_second)):
                self.rate.append(0)
            self._rate_second = now
        self.rate[-1] += n
        if n:
            self.last_event_at = time.time()

    # -- life cycle ----------------------------------------------------------------------------

    async def run(self) -> None:
        """Run until cancelled: connect, load, follow changes; reconnect after any drop."""
        backoff = MIN_BACKOFF
        while True:
            self._reloaded = False
            retry_in = backoff
            try:
                await self._connected()
            except asyncio.CancelledError:
                raise
            except LinkHung as exc:
                # Nothing came back for a while before we noticed: blind since the last answer.
                self._lost(FeedMode.RECONNECTING, str(exc), since_last_answer=True)
            except UserFacingError as exc:
                if isinstance(exc, ConnectionFailed):
                    self._lost(FeedMode.RECONNECTING, str(exc))
                else:
                    # Missing tables or privileges: nothing to follow; try again later in case
                    # an operator fixes it while the console is open.
                    self._lost(FeedMode.FAILED, str(exc))
                    retry_in = FAILED_RETRY
            except (psycopg.Error, OSError) as exc:
                # A dropped connection fails at once (the socket closes): blind from now.
                self._lost(FeedMode.RECONNECTING, _one_line(exc))
            except Exception as exc:
                # A bug must not leave a console that says LIVE and reads nothing: say so, start over.
                self._lost(FeedMode.RECONNECTING, internal_error(log, "the feed", exc))
            finally:
                await self._disconnect()
            # A connection that reloaded worked: the next outage is a new one.
            backoff = MIN_BACKOFF if self._reloaded else min(backoff * 2, MAX_BACKOFF)
            if self._reloaded:
                retry_in = min(retry_in, MIN_BACKOFF)
            await asyncio.sleep(retry_in)

    def _lost(self, mode: FeedMode, reason: str, *, since_last_answer: bool = False) -> None:
        """Say at once that the console is blind, and since when: from now for a drop, which is
        noticed as it happens; from the last answer for a link that stopped answering."""
        if self._blind_since is None:
            if since_last_answer:
                alive = self._listener.alive_at if self._listener is not None else self._alive_at
                self._blind_since = max(alive, self._alive_at)
            else:
                self._blind_since = time.time()
        self._report(mode, reason)

    async def _disconnect(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(Exception):
                await listener.__aexit__(None, None, None)
        session, self.session = self.session, None
        if session is not None:
            with contextlib.suppress(Exception):
                await session.close()

    async def _connected(self) -> None:
        self.session = await open_session(self.target)
        self.queries = tasks_sql.TaskQueries.for_shape(self.session.shape)
        polling_reason = ""
        if self.use_trigger:
            listener = ChangeListener(
                self.target,
                self.channel,
                heartbeat_seconds=self.heartbeat_seconds,
                link_timeout=self.link_timeout,
                on_gap=self._reconcile_now.set,
                mode=self.trigger_mode,
            )
            try:
                await listener.__aenter__()
                self._listener = listener
            except TriggerNotInstalled:
                polling_reason = "run `tasktui trigger install` for live updates"
            except MissingPrivilege as exc:
                polling_reason = f"cannot register for live updates ({exc})"
        else:
            polling_reason = "live updates switched off"
        await self.reload()
        self._reloaded = True
        detail = ""
        if self._blind_since is not None:
            detail = f"reconnected after {time.time() - self._blind_since:.1f}s blind; reloaded"
            self._blind_since = None
            self._reconnects += 1
        if self._listener is not None:
            self._report(FeedMode.LIVE, detail, fades=bool(detail))
            self._report_health()
            await _until_one_fails(
                self._consume(self._listener), self._changes.run(), self._reconcile_loop(), self._counter.run()
            )
        else:
            self._report(FeedMode.POLLING, f"{polling_reason}; {detail}" if detail else polling_reason)
            await _until_one_fails(self._poll_loop(), self._counter.run())

    # -- reading -------------------------------------------------------------------------------

    async def _fetchall(self, query: Any, params: Any = None) -> list[tuple[Any, ...]]:
        """One query on the feed's session, bounded on the client too: a hung server would never
        enforce its own statement timeout."""
        assert self.session is not None
        conn = self.session.conn

        async def run() -> list[tuple[Any, ...]]:
            return await (await conn.execute(query, params)).fetchall()

        rows = await db.bounded(run(), db.STATEMENT_TIMEOUT_MS / 1000 + self.link_timeout, "reading tasks")
        self._alive_at = time.time()
        return rows

    async def reload(self) -> None:
        """Load the window afresh: all unfinished tasks plus the newest finished ones.

        In two reads, so that the first screen does not wait for the whole window (see
        tasktui.core.window). Both reads hold the store's lock: changes notified meanwhile are
        re-read after them."""
        async with self._window.lock:
            loaded, finished = await self._window.load_first()
            self._changes.forget()
            self._drift.forget_suspects()
            self._awaiting_drain.clear()
            self._recheck.forget()
            self.sink.feed_updated(FeedUpdate(loaded))
            self.sink.feed_counts(self.counts())
            if finished:
                changed = await self._window.load_rest(finished)
                self.sink.feed_updated(FeedUpdate(changed))
                self.sink.feed_counts(self.counts())

    async def load_older(self, count: int = 1_000) -> int:
        """Page in `count` more finished tasks older than the last page loaded; returns how many."""
        read, changed = await self._window.load_older(count)
        self.sink.feed_updated(FeedUpdate(changed))
        return read

    async def fetch_by_ids(self, ids: Iterable[str]) -> tuple[list[TaskRow], list[str]]:
        """Re-read rows by id in batches; ids that no longer exist come back as deleted."""
        return await self._window.fetch_by_ids(ids)

    # -- live ----------------------------------------------------------------------------------

    async def _consume(self, listener: ChangeListener) -> None:
        mode = listener.mode
        async for change in listener.changes():
            if listener.mode != mode:
                mode = listener.mode
                self._report_health()
            if change.table == SENTINEL:
                if listener.draining:
                    self._awaiting_drain.append(change.id)
                elif self._drift.settle(change.id):
                    self._report_health()
                continue
            if change.table == DRAINED:
                settled = sum(self._drift.settle(token) for token in self._awaiting_drain)
                self._awaiting_drain.clear()
                if settled:
                    self._report_health()
                continue
            if not change.valid:
                # Any role may NOTIFY any channel: not ours, not trusted, only counted.
                self._ignored += 1
                self._report_health()
                continue
            if change.table == "task":
                self._drift.notified(change.id)
            elif change.table == "tasklog" and change.task_id:
                self._drift.notified(change.task_id)
            self._changes.add(change)
            self._count_rate(1)

    # -- reconciliation ------------------------------------------------------------------------

    async def _reconcile_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._reconcile_now.wait(), timeout=self._reconcile_every)
            self._reconcile_now.clear()
            try:
                await self.reconcile()
                self._reconcile_error = ""
            except (psycopg.OperationalError, ConnectionFailed):
                raise  # the link is gone: the feed reconnects
            except psycopg.Error as exc:  # a timeout on a busy server: the next round tries again
                self._reconcile_error = _one_line(exc)
            except Exception as exc:
                self._reconcile_error = internal_error(log, "re-checking the window", exc)
            self._drift.settle_overdue()
            self._report_health()

    async def reconcile(self) -> int:
        """Re-check the window against the database and heal what differs (see
        tasktui.core.reconcile); returns how many rows were corrected. Corrections that no
        notification in hand explains are suspected drift, settled by a sentinel notification."""
        assert self.queries is not None
        result = await self._recheck.round(self.queries)
        self._reconcile_ms = result.elapsed * 1000
        self._last_reconcile_at = time.time()
        self._reconcile_every = max(self.reconcile_interval, result.elapsed / RECONCILE_DUTY)
        if result.corrected:
            self._window.keep_bounded()
            self.sink.feed_updated(FeedUpdate(len(result.corrected)))
            self.sink.feed_counts(self.counts())
        if result.suspects:
            token = uuid.uuid4().hex
            self._drift.suspect(token, set(result.suspects))
            # Delivered after every notification committed before it: once it is back, a suspect
            # that no notification explained is drift (tasktui.core.health).
            await self._fetchall(
                trigger_sql.SEND_SENTINEL,
                {"channel": self.listen_channel, "payload": json.dumps({"table": SENTINEL, "token": token})},
            )
        return len(result.corrected)

    # -- polling fallback ----------------------------------------------------------------------

    async def _poll_loop(self) -> None:
        last_poll = datetime.now().astimezone()
        while True:
            await asyncio.sleep(self.poll_interval)
            started = datetime.now().astimezone()
            changed = await self._window.poll(since=last_poll)
            self._count_rate(changed)
            self.sink.feed_updated(FeedUpdate(changed))
            if changed:
                self.sink.feed_counts(self.counts())
            last_poll = started


async def _until_one_fails(*coroutines: Awaitable[None]) -> None:
    """Run loops side by side; the first to fail (or finish) stops the others and re-raises at
    once — the others get a moment to stop, not a wait on a server that may not answer."""
    tasks = [asyncio.ensure_future(c) for c in coroutines]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks, timeout=CLEANUP_WAIT)
        for task in tasks:
            task.add_done_callback(_retrieve)


def _retrieve(task: asyncio.Future[None]) -> None:
    if not task.cancelled():
        task.exception()


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:200]
