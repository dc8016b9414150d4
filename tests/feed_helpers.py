"""Running a real TaskFeed against a test database and watching what it reports."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from tasktui.core import db
from tasktui.core.console import TaskConsole
from tasktui.core.events import FeedMode, FeedStatus
from tasktui.core.feed import TaskFeed
from tasktui.core.store import TaskStore


@dataclass
class RecordingSink:
    """A FeedSink (and ConsoleEvents) that keeps everything the feed said, with when it said it."""

    statuses: list[tuple[float, FeedStatus]] = field(default_factory=list)
    counts: list[Any] = field(default_factory=list)
    health: Any = None
    updates: int = 0
    side_changes: list[tuple[frozenset[str], bool]] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)

    def feed_status(self, status: FeedStatus) -> None:
        self.statuses.append((time.monotonic(), status))

    def feed_updated(self, update: Any) -> None:
        self.updates += 1

    def feed_counts(self, counts: Any) -> None:
        self.counts.append(counts)

    def feed_side_changes(self, tasklog_task_ids: frozenset[str], workers_changed: bool) -> None:
        self.side_changes.append((tasklog_task_ids, workers_changed))

    def console_notice(self, text: str) -> None:
        self.notices.append(text)

    def feed_health(self, health: Any) -> None:
        self.health = health

    def modes(self) -> list[FeedMode]:
        return [status.mode for _, status in self.statuses]


async def until(condition: Callable[[], bool], within: float = 15.0, what: str = "") -> float:
    """Poll a condition; returns how long it took. Fails with a description on timeout."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        if condition():
            return time.monotonic() - started
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {within}s waiting for {what or condition}")


@contextlib.asynccontextmanager
async def running_feed(dsn: str, **options: Any) -> AsyncIterator[tuple[TaskFeed, TaskStore, RecordingSink]]:
    store = TaskStore()
    sink = RecordingSink()
    feed = TaskFeed(db.Target.resolve(dsn), store, sink, **options)
    task = asyncio.ensure_future(feed.run())
    try:
        yield feed, store, sink
    finally:
        task.cancel()
        # A feed cut off from a hung server may take a while to let go of its connections.
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(task, 30)


@contextlib.asynccontextmanager
async def running_console(dsn: str, **options: Any) -> AsyncIterator[tuple[TaskConsole, RecordingSink]]:
    """The real console service on `dsn`, followed (its feed running) until the block ends, then
    closed as the console closes it."""
    console = TaskConsole(db.Target.resolve(dsn), **options)
    events = RecordingSink()
    task = asyncio.ensure_future(console.follow(events))
    try:
        yield console, events
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(task, 30)
        await console.aclose()
