"""What the live feed reports, and to whom: its mode and status, updates of the window, counts,
side changes and health, through a FeedSink (the console turns the calls into Textual messages)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

from tasktui.core.counts import StatusCounts
from tasktui.core.health import FeedHealth


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
    shape: str = ""  # what the task tables look like (older releases)
    blind_since: float | None = None  # wall clock of the last proof that the link worked
    at: float = field(default_factory=time.time)  # wall clock of this report
    fades: bool = False  # the detail is news ("reconnected after …"): shown for a while only


@dataclass(frozen=True)
class FeedUpdate:
    changed: int  # rows that actually changed in the store


class FeedSink(Protocol):
    def feed_status(self, status: FeedStatus) -> None: ...
    def feed_updated(self, update: FeedUpdate) -> None: ...
    def feed_counts(self, counts: StatusCounts) -> None: ...
    def feed_side_changes(self, tasklog_task_ids: frozenset[str], workers_changed: bool) -> None: ...
    def feed_health(self, health: FeedHealth) -> None: ...
    def console_notice(self, text: str) -> None: ...  # something to tell the user once
