"""What the console's service reports, as Textual messages (past-tense events). The App delivers
each to every screen on its stack; they do not bubble (each screen handles what it shows)."""

from __future__ import annotations

from textual.message import Message

from tasktui.core.counts import StatusCounts
from tasktui.core.events import FeedStatus, FeedUpdate
from tasktui.core.health import FeedHealth


class ConsoleMessage(Message, bubble=False):
    """A service event delivered to each screen."""


class FeedStatusChanged(ConsoleMessage):
    def __init__(self, status: FeedStatus) -> None:
        super().__init__()
        self.status = status


class FeedUpdated(ConsoleMessage):
    def __init__(self, update: FeedUpdate) -> None:
        super().__init__()
        self.update = update


class CountsUpdated(ConsoleMessage):
    def __init__(self, counts: StatusCounts) -> None:
        super().__init__()
        self.counts = counts


class FeedHealthChanged(ConsoleMessage):
    def __init__(self, health: FeedHealth) -> None:
        super().__init__()
        self.health = health


class SideChangesArrived(ConsoleMessage):
    """Task logs or workers changed (for an open detail screen and the worker panel)."""

    def __init__(self, tasklog_task_ids: frozenset[str], workers_changed: bool) -> None:
        super().__init__()
        self.tasklog_task_ids = tasklog_task_ids
        self.workers_changed = workers_changed
