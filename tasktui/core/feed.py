"""The live feed: keep a TaskStore in step with the database, pushed by LISTEN/NOTIFY.

Life of a feed (`TaskFeed.run`, cancelled to stop):

1. Connect a query session, then a ChangeListener (registers the console, LISTENs) — in that
   order nothing committed after the initial load can be missed.
2. Load the window: every unfinished task plus the newest finished ones.
3. Collect notifications into a set of changed ids (coalesced: a burst of thousands of changes
   to a few hundred tasks is a few hundred ids) and re-read them in batches at most
   `1 / flush_interval` times a second. Rows are keyed by id and later state wins, so folded or
   duplicated notifications are harmless.
4. Without the trigger (not installed, or no right to register), poll instead: unfinished tasks
   and recently changed finished ones every `poll_interval` seconds.
5. When a connection drops, say so at once, reconnect with capped backoff and reload the window
   (notifications sent while we were away are gone for good), then report how long we were blind.

The feed reports through a FeedSink (the UI turns those calls into messages); it never imports
Textual.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter, deque
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from typing import Protocol

import psycopg

from tasktui.core import db
from tasktui.core.listener import Change, ChangeListener
from tasktui.core.models import TaskRow
from tasktui.core.session import Session, open_session
from tasktui.core.sql import tasks as q
from tasktui.core.status import FINAL_STATES, GROUPS, status_of
from tasktui.core.store import TaskStore
from tasktui.errors import ConnectionFailed, MissingPrivilege, TriggerNotInstalled, UserFacingError


class FeedMode(Enum):
    CONNECTING = "CONNECTING"
    LIVE = "LIVE"
    POLLING = "POLLING"
    RECONNECTING = "RECONNECTING"
    FAILED = "FAILED"


@dataclass(frozen=True)
class FeedStatus:
    mode: FeedMode
    detail: str = ""  # why polling / what failed / blind time after a reconnect
    label: str = ""  # the database, as user@host:port/db
    layout: str = ""  # what the task tables look like (older releases)
    blind_since: float | None = None  # wall clock when the connection was lost


@dataclass(frozen=True)
class FeedUpdate:
    changed: int  # rows that actually changed in the store


@dataclass(frozen=True)
class StatusCounts:
    by_group: dict[str, int]  # authentik's summary groups: Running, Queued, Successful, Error
    by_status: dict[str, int]  # stored aggregated_status -> count
    total: int
    elapsed_ms: float


class FeedSink(Protocol):
    def feed_status(self, status: FeedStatus) -> None: ...
    def feed_updated(self, update: FeedUpdate) -> None: ...
    def feed_counts(self, counts: StatusCounts) -> None: ...
    def feed_side_changes(self, tasklog_task_ids: frozenset[str], workers_changed: bool) -> None: ...


# Unfinished tasks are all loaded, up to this many per state (a backlog beyond that is an
# incident in itself and the counts say how big it is).
UNFINISHED_CAP_PER_STATE = 20_000
FETCH_BATCH = 500


@dataclass
class _Pending:
    task_ids: set[str] = field(default_factory=set)
    tasklog_task_ids: set[str] = field(default_factory=set)
    workers_changed: bool = False

    def add(self, change: Change) -> None:
        if change.table == "task" and change.id:
            self.task_ids.add(change.id)
        elif change.table == "tasklog" and change.task_id:
            # A new log line can change a finished task's effective status.
            self.task_ids.add(change.task_id)
            self.tasklog_task_ids.add(change.task_id)
        elif change.table == "workerstatus":
            self.workers_changed = True

    def __bool__(self) -> bool:
        return bool(self.task_ids or self.tasklog_task_ids or self.workers_changed)


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
        counts_interval: float = 10.0,
        use_trigger: bool = True,
    ) -> None:
        self.target = target
        self.store = store
        self.sink = sink
        self.channel = channel
        self.window = window
        self.flush_interval = flush_interval
        self.poll_interval = poll_interval
        self.counts_interval = counts_interval
        self.use_trigger = use_trigger
        self.session: Session | None = None
        self.queries: q.TaskQueries | None = None
        self.mode = FeedMode.CONNECTING
        self.last_event_at: float | None = None
        # Changes received per second over the last minute, for the throughput sparkline.
        self.rate: deque[int] = deque([0] * 60, maxlen=60)
        self._rate_second = int(time.time())
        self._pending = _Pending()
        self._wake = asyncio.Event()
        # Where "load older" continues, per final state (each state's window is its own keyset).
        self._older_cursor: dict[str, datetime | None] = {}
        # Finished tasks kept in the store, per final state as the window loads them (grows with paging).
        self._finished_budget: Counter[str] = Counter(dict.fromkeys(FINAL_STATES, window))
        self._status = FeedStatus(FeedMode.CONNECTING, label=target.label)

    # -- reporting -----------------------------------------------------------------------------

    def _report(self, mode: FeedMode, detail: str = "", *, blind_since: float | None = None) -> None:
        self.mode = mode
        session = self.session
        self._status = FeedStatus(
            mode=mode,
            detail=detail,
            label=session.label if session else self.target.label,
            layout=session.layout.describe() if session else "",
            blind_since=blind_since,
        )
        self.sink.feed_status(self._status)

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
        backoff = 0.5
        blind_since: float | None = None
        while True:
            try:
                await self._connected(blind_since)
            except asyncio.CancelledError:
                raise
            except (psycopg.OperationalError, ConnectionFailed, OSError) as exc:
                blind_since = blind_since or time.time()
                self._report(FeedMode.RECONNECTING, _one_line(exc), blind_since=blind_since)
            except UserFacingError as exc:
                # Missing tables or privileges: nothing to follow; try again later in case an
                # operator fixes it while the console is open.
                blind_since = blind_since or time.time()
                self._report(FeedMode.FAILED, str(exc), blind_since=blind_since)
                backoff = 10.0
            except psycopg.Error as exc:
                blind_since = blind_since or time.time()
                self._report(FeedMode.RECONNECTING, _one_line(exc), blind_since=blind_since)
            else:
                blind_since = None
            await self._close()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 10.0)

    async def _close(self) -> None:
        session, self.session = self.session, None
        if session is not None:
            with contextlib.suppress(Exception):
                await session.close()

    async def _connected(self, blind_since: float | None) -> None:
        self.session = await open_session(self.target)
        self.queries = q.TaskQueries.for_layout(self.session.layout)
        listener: ChangeListener | None = None
        polling_reason = ""
        if self.use_trigger:
            listener = ChangeListener(self.target, self.channel)
            try:
                await listener.__aenter__()
            except TriggerNotInstalled:
                listener, polling_reason = None, "run `tasktui trigger install` for live updates"
            except MissingPrivilege as exc:
                listener, polling_reason = None, f"cannot register for live updates ({exc})"
        else:
            polling_reason = "live updates switched off"
        try:
            await self.reload()
            detail = ""
            if blind_since is not None:
                detail = f"reconnected after {time.time() - blind_since:.1f}s blind; reloaded"
            if listener is not None:
                self._report(FeedMode.LIVE, detail)
                await _first_failure(self._consume(listener), self._flush_loop(), self._counts_loop())
            else:
                self._report(FeedMode.POLLING, polling_reason if not detail else f"{polling_reason}; {detail}")
                await _first_failure(self._poll_loop(), self._counts_loop())
        finally:
            if listener is not None:
                with contextlib.suppress(Exception):
                    await listener.__aexit__(None, None, None)

    # -- loading -------------------------------------------------------------------------------

    async def _states(self) -> list[str]:
        assert self.session is not None
        rows = await (await self.session.conn.execute(q.DISTINCT_STATES)).fetchall()
        return [r[0] for r in rows]

    async def _window(self, states: list[str], limits: list[int], **kw: datetime | None) -> list[TaskRow]:
        assert self.session is not None and self.queries is not None
        if not states:
            return []
        cursor = await self.session.conn.execute(self.queries.recent_by_state, q.window_params(states, limits, **kw))
        return [q.read_task(r) for r in await cursor.fetchall()]

    async def reload(self) -> None:
        """Load the window afresh: all unfinished tasks plus the newest finished ones."""
        states = await self._states()
        limits = [self.window if s in FINAL_STATES else UNFINISHED_CAP_PER_STATE for s in states]
        rows = await self._window(states, limits)
        self.store.replace_all(rows)
        self._older_cursor = _oldest_finished(rows)
        self.sink.feed_updated(FeedUpdate(len(rows)))

    async def load_older(self, count: int = 1_000) -> int:
        """Page in `count` more finished tasks older than the last page loaded (keyset on mtime,
        per final state: rejected tasks are few and reach further back than successful ones).

        The cursors follow the pages, not the rows in the store: a task that changes live can
        carry an mtime from hours ago, which must not make the next page skip everything newer."""
        rows: list[TaskRow] = []
        for state in FINAL_STATES:
            rows += await self._window([state], [count], before=self._older_cursor.get(state))
        rows.sort(key=lambda r: r.mtime, reverse=True)
        rows = rows[:count]
        for state, oldest in _oldest_finished(rows).items():
            self._older_cursor[state] = oldest
        self._finished_budget.update(row.state for row in rows)
        changed = self.store.apply(rows)
        self.sink.feed_updated(FeedUpdate(changed))
        return len(rows)

    async def fetch_by_ids(self, ids: Iterable[str]) -> tuple[list[TaskRow], list[str]]:
        """Re-read rows by id in batches; ids that no longer exist come back as deleted."""
        assert self.session is not None and self.queries is not None
        wanted = list(ids)
        found: list[TaskRow] = []
        for start in range(0, len(wanted), FETCH_BATCH):
            chunk = wanted[start : start + FETCH_BATCH]
            cursor = await self.session.conn.execute(self.queries.by_ids, {"ids": chunk})
            found.extend(q.read_task(r) for r in await cursor.fetchall())
        present = {row.message_id for row in found}
        return found, [mid for mid in wanted if mid not in present]

    # -- live ----------------------------------------------------------------------------------

    async def _consume(self, listener: ChangeListener) -> None:
        async for change in listener.changes():
            self._pending.add(change)
            self._count_rate(1)
            self._wake.set()

    async def _flush_loop(self) -> None:
        """Apply pending changes as soon as they arrive, but at most once per flush_interval:
        an isolated change is on screen after one query; a storm is coalesced."""
        last_flush = 0.0
        while True:
            await self._wake.wait()
            wait = self.flush_interval - (time.monotonic() - last_flush)
            if wait > 0:
                await asyncio.sleep(wait)
            self._wake.clear()
            last_flush = time.monotonic()
            pending, self._pending = self._pending, _Pending()
            if pending:
                await self._apply(pending)

    async def _apply(self, pending: _Pending) -> None:
        changed = 0
        if pending.task_ids:
            upserts, deleted = await self.fetch_by_ids(pending.task_ids)
            changed = self.store.apply(upserts, deleted)
            self._keep_bounded()
        self.sink.feed_updated(FeedUpdate(changed))
        if pending.tasklog_task_ids or pending.workers_changed:
            self.sink.feed_side_changes(frozenset(pending.tasklog_task_ids), pending.workers_changed)

    def _keep_bounded(self) -> None:
        """Tasks finishing live pile up in the window; past a quarter over budget, drop the
        oldest finished ones (a console left open for days stays small). "Load older" then
        continues from the oldest finished task kept."""
        if self.store.prune_finished(self._finished_budget):
            self._older_cursor = _oldest_finished(self.store.rows.values())

    # -- polling fallback ----------------------------------------------------------------------

    async def _poll_loop(self) -> None:
        # authentik does not bump mtime for preprocess/running/postprocess or requeues, so
        # unfinished tasks are re-read whole each time; finished ones by recent mtime (with a
        # margin for worker clock skew).
        last_poll = datetime.now().astimezone()
        while True:
            await asyncio.sleep(self.poll_interval)
            started = datetime.now().astimezone()
            states = await self._states()
            unfinished_states = [s for s in states if s not in FINAL_STATES]
            unfinished = await self._window(unfinished_states, [UNFINISHED_CAP_PER_STATE] * len(unfinished_states))
            finished_states = [s for s in states if s in FINAL_STATES]
            since = last_poll - timedelta(seconds=30)
            finished = await self._window(finished_states, [self.window] * len(finished_states), since=since)
            seen = {row.message_id for row in unfinished} | {row.message_id for row in finished}
            vanished = self.store.unfinished_ids() - seen
            upserts, deleted = await self.fetch_by_ids(vanished) if vanished else ([], [])
            changed = self.store.apply([*unfinished, *finished, *upserts], deleted)
            self._keep_bounded()
            self._count_rate(changed)
            self.sink.feed_updated(FeedUpdate(changed))
            last_poll = started

    # -- counts --------------------------------------------------------------------------------

    async def _counts_loop(self) -> None:
        while True:
            counts = await self.counts()
            self.sink.feed_counts(counts)
            # Counting reads the whole table: cheap ones often, expensive ones rarely.
            if counts.elapsed_ms < 50:
                interval = min(2.0, self.counts_interval)
            elif counts.elapsed_ms < 1_000:
                interval = self.counts_interval
            else:
                interval = max(60.0, self.counts_interval)
            await asyncio.sleep(interval)

    async def counts(self) -> StatusCounts:
        assert self.session is not None
        started = time.perf_counter()
        rows = await (await self.session.conn.execute(q.COUNTS)).fetchall()
        by_group = dict.fromkeys(GROUPS, 0)
        by_status: dict[str, int] = {}
        total = 0
        for _state, aggregated, n in rows:
            by_status[aggregated] = by_status.get(aggregated, 0) + n
            group = status_of(aggregated).group
            if group in by_group:
                by_group[group] += n
            total += n
        return StatusCounts(by_group, by_status, total, (time.perf_counter() - started) * 1000)


def _oldest_finished(rows: Iterable[TaskRow]) -> dict[str, datetime]:
    """The oldest change of each final state among `rows` (a state without rows: absent)."""
    oldest: dict[str, datetime] = {}
    for row in rows:
        if row.state in FINAL_STATES and (row.state not in oldest or row.mtime < oldest[row.state]):
            oldest[row.state] = row.mtime
    return oldest


async def _first_failure(*coroutines: Awaitable[None]) -> None:
    """Run loops side by side; the first to fail (or finish) stops the others and re-raises."""
    tasks = [asyncio.ensure_future(c) for c in coroutines]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:200]
