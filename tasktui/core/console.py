"""The console as a service: everything a screen needs, with no Textual in sight.

`ConsoleService` is what the console's App and screens depend on — never on a concrete class.
`TaskConsole` is the real one: it owns the connection target, the live feed (tasktui.core.feed)
and the window it keeps (tasktui.core.store), and a session pool (tasktui.core.pool) for what the
user asks for on demand: a task's detail and logs, the workers, retries. The tests drive the UI
with a fake that implements the same protocol over rows in memory (tests/fake_console.py), once
this class is covered against real Postgres (tests/test_console_service.py).

Every method that reads or writes the database either returns what was asked for or raises a
UserFacingError, one line a person can act on; anything else is a bug, for the caller to log.
The feed's events reach the caller's ConsoleEvents (a FeedSink plus notices).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

import psycopg

from tasktui.core import bulk_retry, db, logs, retry
from tasktui.core.bulk_retry import BulkPreview, BulkProgress, BulkSummary
from tasktui.core.changemode import AUTO
from tasktui.core.counts import StatusCounts
from tasktui.core.detail import TaskDetail, load_detail
from tasktui.core.events import FeedMode, FeedSink, FeedStatus, FeedUpdate
from tasktui.core.export import IncidentBundle, load_bundle
from tasktui.core.feed import RECONCILE_INTERVAL, TaskFeed
from tasktui.core.filters import TaskFilter
from tasktui.core.health import FeedHealth
from tasktui.core.incidents import draining, errors, schedules
from tasktui.core.incidents.draining import QueueReport
from tasktui.core.incidents.errors import ErrorReport
from tasktui.core.incidents.schedules import ScheduleReport
from tasktui.core.incidents.summary import InstallationSummary, load_summary
from tasktui.core.incidents.xray import TaskXray, xray_task
from tasktui.core.listener import LINK_TIMEOUT
from tasktui.core.logs import AttributesValue, LogCursor, LogLine, LogPage, LogWindow
from tasktui.core.models import TaskRow
from tasktui.core.pool import BULK, INCIDENTS, READ, RETRY, SessionPool
from tasktui.core.retry import SelectionResult
from tasktui.core.session import Session
from tasktui.core.store import SortKey, TaskStore
from tasktui.core.trigger import DEFAULT_CHANNEL
from tasktui.core.workers import WorkerReport, load_workers
from tasktui.errors import ConnectionFailed

OLDER_PAGE = 1_000  # finished tasks one "load older" pages in
# A bulk preview is three statements in one snapshot, each within the statement timeout.
PREVIEW_STATEMENTS = 3
# An incident bundle reads the task, its logs by pages, the workers, the counts and the versions:
# a few statements, each within the statement timeout.
BUNDLE_STATEMENTS = 4
# An incident view is a few bounded statements (each within the statement timeout); the client
# gives up on the whole after this many timeouts' worth.
INCIDENT_STATEMENTS = 3


@dataclass(frozen=True)
class Facets:
    """What the window holds to filter by: its queues, tenants and actors, each with how many
    of the window's tasks have it."""

    queues: list[tuple[str, int]]
    tenants: list[tuple[str, int]]
    actors: list[tuple[str, int]]


class ConsoleEvents(FeedSink, Protocol):
    """Where the console's events go: the feed's (FeedSink), and notices for the person."""

    def console_notice(self, text: str) -> None: ...


class ConsoleService(Protocol):
    """Everything the console's screens ask of the task system."""

    # -- the live window -------------------------------------------------------------------------

    async def follow(self, events: ConsoleEvents) -> None:
        """Keep the window in step with the database, reporting to `events`, until cancelled."""
        ...

    @property
    def label(self) -> str:
        """The database, as a person reads it: user@host:port/dbname, never a password."""
        ...

    @property
    def mode(self) -> FeedMode: ...

    @property
    def version(self) -> int:
        """Changes whenever a row of the window changes (a redraw is due)."""
        ...

    @property
    def loaded(self) -> int:
        """Tasks in the window."""
        ...

    @property
    def last_event_at(self) -> float | None: ...

    def view(self, task_filter: TaskFilter, sort: SortKey) -> list[TaskRow]: ...

    def task(self, message_id: str) -> TaskRow | None:
        """The window's row for this task (None when it is not in the window)."""
        ...

    def counts(self) -> StatusCounts: ...

    def health(self) -> FeedHealth: ...

    def rate(self) -> list[int]:
        """Changes per second over the last minute, oldest first."""
        ...

    def facets(self) -> Facets: ...

    async def load_older(self) -> int:
        """Page in older finished tasks; how many came."""
        ...

    # -- one task --------------------------------------------------------------------------------

    async def task_detail(self, message_id: str) -> TaskDetail | None: ...

    async def log_page(
        self,
        message_id: str,
        *,
        previous: bool,
        cursor: LogCursor | None = None,
        backward: bool = False,
        limit: int = logs.DEFAULT_PAGE,
    ) -> LogPage: ...

    async def problem_line(
        self, message_id: str, *, previous: bool, cursor: LogCursor | None, backward: bool
    ) -> LogLine | None:
        """The next (previous) error or warning line past `cursor`."""
        ...

    async def log_window(self, message_id: str, line: LogLine, *, previous: bool, limit: int) -> LogWindow: ...

    async def attributes(self, line: LogLine) -> AttributesValue: ...

    async def exception_of(self, line: LogLine) -> Any: ...

    async def xray(self, message_id: str) -> TaskXray:
        """Who runs this task: its lock's session, the worker, that worker's sessions and locks,
        the orphan verdict (read-only). Raises TaskNotFound when no task has this id."""
        ...

    # -- workers and the installation ------------------------------------------------------------

    async def workers(self) -> WorkerReport: ...

    async def summary(self) -> InstallationSummary:
        """The installation at a glance: alive workers, queued, running, errors in the last hour."""
        ...

    # -- retries ---------------------------------------------------------------------------------

    async def retry_capability(self) -> tuple[bool, str]:
        """(allowed, why not / who may)."""
        ...

    async def retry_selected(self, message_ids: list[str]) -> SelectionResult: ...

    async def preview_bulk_retry(self, task_filter: TaskFilter) -> BulkPreview: ...

    async def run_bulk_retry(
        self,
        preview: BulkPreview,
        *,
        rate: float,
        abort: asyncio.Event,
        on_progress: Callable[[BulkProgress], None],
    ) -> BulkSummary: ...

    # -- exports ---------------------------------------------------------------------------------

    async def incident_bundle(self, message_id: str, task_filter: TaskFilter) -> IncidentBundle:
        """Everything the incident bundle of this task holds, with the filter the person looks
        through (tasktui.core.export). Raises TaskNotFound when the task is gone."""
        ...

    # -- the incident questions (tasktui.core.incidents) ----------------------------------------

    async def error_groups(self, since: timedelta = errors.DEFAULT_SINCE) -> ErrorReport:
        """What failed in the last `since`, grouped by actor and error signature."""
        ...

    async def queue_flows(self, minutes: int = draining.DEFAULT_MINUTES) -> QueueReport:
        """Per queue: what waits, arrivals and completions per minute, a forecast."""
        ...

    async def schedules(self) -> ScheduleReport:
        """authentik's schedules with their latest and blocking tasks, and alarms. MissingTables
        when the database has no schedule table (an older authentik, or a mirror without it)."""
        ...

    async def aclose(self) -> None:
        """Close every session (the feed's go when `follow` is cancelled)."""
        ...


class _Relay:
    """The feed's sink, forwarding to whoever follows the console; notices raised before anyone
    follows are kept for them."""

    def __init__(self) -> None:
        self.events: ConsoleEvents | None = None
        self._notices: list[str] = []

    def attach(self, events: ConsoleEvents) -> None:
        self.events = events
        notices, self._notices = self._notices, []
        for text in notices:
            events.console_notice(text)

    def console_notice(self, text: str) -> None:
        if self.events is None:
            self._notices.append(text)
        else:
            self.events.console_notice(text)

    def feed_status(self, status: FeedStatus) -> None:
        if self.events is not None:
            self.events.feed_status(status)

    def feed_updated(self, update: FeedUpdate) -> None:
        if self.events is not None:
            self.events.feed_updated(update)

    def feed_counts(self, counts: StatusCounts) -> None:
        if self.events is not None:
            self.events.feed_counts(counts)

    def feed_side_changes(self, tasklog_task_ids: frozenset[str], workers_changed: bool) -> None:
        if self.events is not None:
            self.events.feed_side_changes(tasklog_task_ids, workers_changed)

    def feed_health(self, health: FeedHealth) -> None:
        if self.events is not None:
            self.events.feed_health(health)


class TaskConsole:
    """The real ConsoleService, on a PostgreSQL database (see the module docstring)."""

    def __init__(
        self,
        target: db.Target,
        *,
        channel: str = DEFAULT_CHANNEL,
        window: int = 2_000,
        use_trigger: bool = True,
        poll_interval: float = 2.0,
        link_timeout: float = LINK_TIMEOUT,
        reconcile_interval: float = RECONCILE_INTERVAL,
        trigger_mode: str = AUTO,
    ) -> None:
        self.target = target
        self.link_timeout = link_timeout
        self.store = TaskStore()
        self._relay = _Relay()
        self.feed = TaskFeed(
            target,
            self.store,
            self._relay,
            channel=channel,
            window=window,
            use_trigger=use_trigger,
            poll_interval=poll_interval,
            link_timeout=link_timeout,
            reconcile_interval=reconcile_interval,
            trigger_mode=trigger_mode,
        )
        self.pool = SessionPool(target, link_timeout=link_timeout, on_open=self._opened)
        self._lookups_noticed = False

    def _opened(self, session: Session) -> None:
        if session.shape.lookup_notice and not self._lookups_noticed:
            # Once per console, not once per (re)connection: it is a fact about the role.
            self._lookups_noticed = True
            self._relay.console_notice(session.shape.lookup_notice)

    # -- the live window -------------------------------------------------------------------------

    async def follow(self, events: ConsoleEvents) -> None:
        self._relay.attach(events)
        await self.feed.run()

    @property
    def label(self) -> str:
        return self.target.label

    @property
    def mode(self) -> FeedMode:
        return self.feed.mode

    @property
    def version(self) -> int:
        return self.store.version

    @property
    def loaded(self) -> int:
        return len(self.store)

    @property
    def last_event_at(self) -> float | None:
        return self.feed.last_event_at

    def view(self, task_filter: TaskFilter, sort: SortKey) -> list[TaskRow]:
        return self.store.view(task_filter, sort)

    def task(self, message_id: str) -> TaskRow | None:
        return self.store.rows.get(message_id)

    def counts(self) -> StatusCounts:
        return self.feed.counts()

    def health(self) -> FeedHealth:
        return self.feed.health()

    def rate(self) -> list[int]:
        return self.feed.rate_snapshot()

    def facets(self) -> Facets:
        return Facets(
            queues=self.store.facet_counts(lambda t: t.queue_name),
            tenants=self.store.facet_counts(lambda t: t.tenant_name or t.tenant_id),
            actors=self.store.facet_counts(lambda t: t.actor_name),
        )

    async def load_older(self) -> int:
        # Older pages come on the feed's own session, in step with its window.
        if self.feed.session is None or self.feed.mode not in (FeedMode.LIVE, FeedMode.POLLING):
            raise ConnectionFailed(f"not connected ({self.feed.mode.value.lower()}): try again once the feed is back")
        try:
            return await self.feed.load_older(OLDER_PAGE)
        except (psycopg.Error, OSError) as exc:  # the feed reconnects on its own
            raise db.user_error(exc, self.target) from None

    # -- one task --------------------------------------------------------------------------------

    async def task_detail(self, message_id: str) -> TaskDetail | None:
        return await self.pool.run(READ, lambda s: load_detail(s, message_id), what="loading the task")

    async def log_page(
        self,
        message_id: str,
        *,
        previous: bool,
        cursor: LogCursor | None = None,
        backward: bool = False,
        limit: int = logs.DEFAULT_PAGE,
    ) -> LogPage:
        return await self.pool.run(
            READ,
            lambda s: logs.fetch_logs(s, message_id, previous=previous, cursor=cursor, backward=backward, limit=limit),
            what="loading log lines",
        )

    async def problem_line(
        self, message_id: str, *, previous: bool, cursor: LogCursor | None, backward: bool
    ) -> LogLine | None:
        return await self.pool.run(
            READ,
            lambda s: logs.find_problem(s, message_id, previous=previous, cursor=cursor, backward=backward),
            what="finding an error or warning line",
        )

    async def log_window(self, message_id: str, line: LogLine, *, previous: bool, limit: int) -> LogWindow:
        return await self.pool.run(
            READ,
            lambda s: logs.fetch_around(s, message_id, line, previous=previous, limit=limit),
            what="loading the lines around it",
        )

    async def attributes(self, line: LogLine) -> AttributesValue:
        return await self.pool.run(READ, lambda s: logs.load_attributes(s, line), what="loading the attributes")

    async def exception_of(self, line: LogLine) -> Any:
        return await self.pool.run(READ, lambda s: logs.exception_of(s, line), what="loading the exception")

    async def xray(self, message_id: str) -> TaskXray:
        return await self.pool.run(READ, lambda s: xray_task(s, message_id), what="x-raying the task")

    # -- workers and the installation ------------------------------------------------------------

    async def workers(self) -> WorkerReport:
        return await self.pool.run(READ, load_workers, what="checking the workers")

    async def summary(self) -> InstallationSummary:
        return await self.pool.run(READ, load_summary, what="summing up the installation")

    # -- retries ---------------------------------------------------------------------------------

    async def retry_capability(self) -> tuple[bool, str]:
        return await self.pool.run(RETRY, retry.retry_capability, what="checking retry privileges")

    async def retry_selected(self, message_ids: list[str]) -> SelectionResult:
        # Never abandoned: a retry cut off while committing would leave its outcome unknown
        # (tasktui.core.retry reports every failure as an outcome instead).
        return await self.pool.run(RETRY, lambda s: retry.retry_selected(s, message_ids), what="retrying", bound=0)

    async def preview_bulk_retry(self, task_filter: TaskFilter) -> BulkPreview:
        seconds = PREVIEW_STATEMENTS * db.STATEMENT_TIMEOUT_MS / 1000 + self.link_timeout
        return await self.pool.run(
            BULK, lambda s: bulk_retry.preview_bulk_retry(s, task_filter), what="previewing", bound=seconds
        )

    async def run_bulk_retry(
        self,
        preview: BulkPreview,
        *,
        rate: float,
        abort: asyncio.Event,
        on_progress: Callable[[BulkProgress], None],
    ) -> BulkSummary:
        return await self.pool.run(
            BULK,
            lambda s: bulk_retry.run_bulk_retry(s, preview, rate=rate, abort=abort, on_progress=on_progress),
            what="retrying",
            bound=0,
        )

    # -- exports ---------------------------------------------------------------------------------

    async def incident_bundle(self, message_id: str, task_filter: TaskFilter) -> IncidentBundle:
        seconds = BUNDLE_STATEMENTS * db.STATEMENT_TIMEOUT_MS / 1000 + self.link_timeout
        return await self.pool.run(
            READ, lambda s: load_bundle(s, message_id, task_filter), what="reading the incident bundle", bound=seconds
        )

    # -- the incident questions ------------------------------------------------------------------

    async def error_groups(self, since: timedelta = errors.DEFAULT_SINCE) -> ErrorReport:
        return await self.pool.run(
            INCIDENTS, lambda s: errors.load_errors(s, since=since), what="grouping errors", bound=self._incident_bound
        )

    async def queue_flows(self, minutes: int = draining.DEFAULT_MINUTES) -> QueueReport:
        return await self.pool.run(
            INCIDENTS,
            lambda s: draining.load_queues(s, minutes=minutes),
            what="measuring the queues",
            bound=self._incident_bound,
        )

    async def schedules(self) -> ScheduleReport:
        return await self.pool.run(
            INCIDENTS, schedules.load_schedules, what="reading the schedules", bound=self._incident_bound
        )

    @property
    def _incident_bound(self) -> float:
        return INCIDENT_STATEMENTS * db.STATEMENT_TIMEOUT_MS / 1000 + self.link_timeout

    async def aclose(self) -> None:
        await self.pool.aclose()
