"""Messages the feed (running in a worker) sends to the app: past-tense events."""

from __future__ import annotations

from textual.message import Message

from tasktui.core.counts import StatusCounts
from tasktui.core.events import FeedStatus, FeedUpdate
from tasktui.core.health import FeedHealth


class FeedStatusChanged(Message):
    def __init__(self, status: FeedStatus) -> None:
        super().__init__()
        self.status = status


class FeedUpdated(Message):
    def __init__(self, update: FeedUpdate) -> None:
        super().__init__()
        self.update = update


class CountsUpdated(Message):
    def __init__(self, counts: StatusCounts) -> None:
        super().__init__()
        self.counts = counts


class FeedHealthChanged(Message):
    def __init__(self, health: FeedHealth) -> None:
        super().__init__()
        self.health = health


class SideChangesArrived(Message):
    """Task logs or workers changed (for an open detail screen and the worker panel)."""

    def __init__(self, tasklog_task_ids: frozenset[str], workers_changed: bool) -> None:
        super().__init__()
        self.tasklog_task_ids = tasklog_task_ids
        self.workers_changed = workers_changed
