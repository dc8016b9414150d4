"""Applying notified changes to the window: the ids that notifications named, collected as they
come (a burst of thousands of changes to a few hundred tasks is a few hundred ids), and the flush
that re-reads them in batches, at most `1 / flush_interval` times a second. Rows are keyed by id
and later state wins, so folded or duplicated notifications are harmless."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg

from tasktui.core.events import FeedSink, FeedUpdate
from tasktui.core.listener import Change
from tasktui.core.window import TaskWindow


@dataclass
class PendingChanges:
    task_ids: set[str] = field(default_factory=set)
    tasklog_task_ids: set[str] = field(default_factory=set)
    workers_changed: bool = False

    def add(self, change: Change) -> None:
        if change.table == "task":
            self.task_ids.add(change.id)
        elif change.table == "tasklog" and change.task_id:
            # A new log line can change a finished task's effective status.
            self.task_ids.add(change.task_id)
            self.tasklog_task_ids.add(change.task_id)
        elif change.table == "workerstatus":
            self.workers_changed = True

    def merge(self, other: PendingChanges) -> None:
        self.task_ids |= other.task_ids
        self.tasklog_task_ids |= other.tasklog_task_ids
        self.workers_changed |= other.workers_changed

    def __bool__(self) -> bool:
        return bool(self.task_ids or self.tasklog_task_ids or self.workers_changed)


class ChangeFlusher:
    """Collects changes (`add`) and applies them to the window (`run`, until cancelled)."""

    def __init__(
        self, window: TaskWindow, sink: FeedSink, *, flush_interval: float, on_counts: Callable[[], None]
    ) -> None:
        self.window = window
        self.sink = sink
        self.flush_interval = flush_interval
        self.on_counts = on_counts
        self.pending = PendingChanges()
        self._wake = asyncio.Event()

    def add(self, change: Change) -> None:
        self.pending.add(change)
        self._wake.set()

    def forget(self) -> None:
        """A reload read everything afresh: what was pending is in it."""
        self.pending = PendingChanges()

    async def run(self) -> None:
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
            try:
                await self.apply()
            except psycopg.errors.QueryCanceled:
                # A re-read that took too long (a huge batch on a busy server): try again shortly.
                self._wake.set()
                await asyncio.sleep(1.0)

    async def apply(self) -> None:
        changed = 0
        async with self.window.lock:
            # Taken under the lock: a re-check running meanwhile sees these ids as pending.
            pending, self.pending = self.pending, PendingChanges()
            if not pending:
                return
            try:
                if pending.task_ids:
                    upserts, deleted = await self.window.fetch_by_ids(pending.task_ids)
                    changed = self.window.store.apply(upserts, deleted)
                    self.window.keep_bounded()
            except BaseException:
                self.pending.merge(pending)
                raise
        self.sink.feed_updated(FeedUpdate(changed))
        if changed:
            self.on_counts()
        if pending.tasklog_task_ids or pending.workers_changed:
            self.sink.feed_side_changes(frozenset(pending.tasklog_task_ids), pending.workers_changed)
