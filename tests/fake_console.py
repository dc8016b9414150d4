"""A ConsoleService over rows, logs and workers in memory: the console's screens, driven without a
database. The real service (tasktui.core.console.TaskConsole) is covered against real Postgres in
tests/test_console_service.py; this fake answers the same calls the same way — the window is a
real TaskStore filtered by the real TaskFilter, log pages are keyset pages with the same cursors —
and has knobs the real one would need a broken server for: the feed's state (LIVE, POLLING,
RECONNECTING with a reason, PAUSED is the screen's), failures and slow calls.

Builders for its data (`task`, `line`, `detail`, `workers`) live here too, so that a UI test says
in a few lines what is on screen.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from tasktui.core import safe_pickle
from tasktui.core.bulk_retry import (
    BulkPreview,
    BulkProgress,
    BulkSummary,
    GroupCount,
    PlannedTask,
    SampleTask,
)
from tasktui.core.console import ConsoleEvents, Facets
from tasktui.core.counts import FinishedCounts, StatusCounts, combine
from tasktui.core.detail import LogCounts, TaskDetail, TaskNotFound
from tasktui.core.events import FeedMode, FeedStatus, FeedUpdate
from tasktui.core.export import IncidentBundle, Versions
from tasktui.core.filters import TaskFilter
from tasktui.core.health import FeedHealth
from tasktui.core.incidents.draining import QueueReport
from tasktui.core.incidents.errors import ErrorReport
from tasktui.core.incidents.schedules import NO_SCHEDULE_TABLE, ScheduleReport
from tasktui.core.incidents.summary import InstallationSummary
from tasktui.core.incidents.xray import HeldLock, SessionInfo, TaskXray, XrayVerdict
from tasktui.core.locks import task_lock_key
from tasktui.core.logs import (
    PROBLEM_LEVELS,
    AttributesValue,
    LogCursor,
    LogLine,
    LogPage,
    LogWindow,
)
from tasktui.core.models import TaskRow
from tasktui.core.monitoring import StatusAlarm, TaskSystemStatus
from tasktui.core.retry import Outcome, RetryOutcome, SelectionResult, SkipReason
from tasktui.core.shape import TableShape
from tasktui.core.sql.tasks import TaskQueries
from tasktui.core.status import FINAL_STATES, RETRYABLE_STATE
from tasktui.core.store import SortKey, TaskStore
from tasktui.core.task_report import LogGroup, TaskReport
from tasktui.core.workers import WorkerInfo, WorkerReport, alarms_of, classify, reference_version
from tasktui.demo import broker
from tasktui.errors import MissingTables

NOW = datetime(2026, 1, 15, 12, 0, 0, tzinfo=UTC)
LABEL = "tasktui@db.example/authentik"
TENANT_ID = "00000000-0000-0000-0000-000000000007"
SHAPE = TableShape(
    schema="public",
    task_columns=frozenset({"message_id", "tenant_id", "eta", "retries", "_uid", "_messages"}),
    tasklog_columns=frozenset({"id", "event", "log_level"}),
    workerstatus_columns=frozenset({"id", "hostname"}),
    has_tenant_table=True,
    has_content_type_table=True,
)


# -- builders ------------------------------------------------------------------------------------


def message_id(number: int) -> str:
    """11111111-1111-…, 22222222-2222-…: ids whose 8-digit prefixes differ, in order."""
    return str(uuid.UUID(int=number * int("1" * 32, 16))) if number < 16 else str(uuid.UUID(int=number))


def task(
    number: int,
    actor: str = "authentik.sources.ldap.tasks.ldap_sync",
    *,
    uid: str | None = None,
    state: str = "queued",
    status: str | None = None,
    minutes_ago: float = 0,
    retries: int | None = 0,
    eta_in: float | None = None,
    queue: str = "default",
    tenant: str | None = "Default",
    related: tuple[str, str] | None = None,
    mid: str | None = None,
) -> TaskRow:
    """A task as the window holds it; `status` is the effective status (default: the state, or
    done's "done")."""
    stored = state if state != "done" else "done"
    mtime = NOW - timedelta(minutes=minutes_ago)
    return TaskRow(
        message_id=mid or message_id(number),
        queue_name=queue,
        actor_name=actor,
        uid=uid,
        state=state,
        aggregated_status=stored,
        effective_status=status or stored,
        tenant_id=TENANT_ID if tenant else None,
        tenant_name=tenant,
        rel_obj_type=related[0] if related else None,
        rel_obj_id=related[1] if related else None,
        retries=retries,
        eta=None if eta_in is None else NOW + timedelta(minutes=eta_in),
        mtime=mtime,
        result_expiry=mtime + timedelta(minutes=10) if state in FINAL_STATES else None,
    )


def line(
    task_id: str,
    number: int,
    event: str,
    *,
    level: str = "info",
    logger: str = broker.MIDDLEWARE_LOGGER,
    seconds: float | None = None,
    previous: bool = False,
    attributes: dict[str, Any] | None = None,
    stored_bytes: int | None = None,
) -> LogLine:
    """A log line; `attributes` None with `stored_bytes` set: too large to come with the page."""
    when = NOW - timedelta(minutes=5) + timedelta(seconds=number if seconds is None else seconds)
    inline = attributes if stored_bytes is None else None
    return LogLine(
        task_id=task_id,
        cursor=LogCursor((1, when), 0, uuid.UUID(int=number + 1), 0),
        previous=previous,
        timestamp=when,
        timestamp_text=None,
        level=level,
        logger=logger,
        event=event,
        event_bytes=len(event.encode("utf-8", "surrogatepass")),
        attributes=None if inline is None and stored_bytes is not None else (inline or {}),
        attributes_bytes=None if stored_bytes is not None else len(str(attributes or {})),
        attributes_stored_bytes=stored_bytes or len(str(attributes or {})),
    )


def detail(
    row: TaskRow,
    *,
    args: tuple[Any, ...] = (),
    failure: tuple[str, str] | None = None,
    message: bytes | None = None,
    counts: tuple[int, int] = (0, 0),
) -> TaskDetail:
    """The task's detail: its message as authentik pickles it, its result (a failure's exception)."""
    blob = message if message is not None else broker.encode_message(row.message_id, row.actor_name, args=args)
    result = broker.encode_exception_result(*failure) if failure else None
    return TaskDetail(
        task=row,
        message=safe_pickle.decode_message(blob, len(blob)),
        result=safe_pickle.decode_result(result, len(result) if result else None),
        log_counts=LogCounts(counts[0], counts[1], 0, 0),
        shape=SHAPE,
    )


def workers(*specs: tuple[str, str, float, bool], queued_minutes: int = 5) -> WorkerReport:
    """A worker report from (hostname, version, seconds since its heartbeat, lock held), judged
    and alarmed as tasktui.core.workers judges a real one."""
    infos = []
    for number, (hostname, version, seconds, held) in enumerate(specs):
        liveness, reason = classify(timedelta(seconds=seconds), held)
        infos.append(
            WorkerInfo(
                str(uuid.UUID(int=100 + number)),
                hostname,
                version,
                NOW - timedelta(seconds=seconds),
                timedelta(seconds=seconds),
                held,
                liveness,
                reason,
            )
        )
    reference = reference_version([w.version for w in infos if w.alive] or [w.version for w in infos])
    infos = [replace(w, version_mismatch=w.liveness != "dead" and w.version != reference) for w in infos]
    report = WorkerReport(
        workers=infos,
        alarms=[],
        orphans=[],
        checked_at=NOW,
        reference_version=reference,
        reference_source="majority",
        overdue_queued=0,
        queued_minutes=queued_minutes,
        running_checked=0,
        running_capped=False,
    )
    return replace(report, alarms=alarms_of(report, True))


def xray(row: TaskRow, report: WorkerReport, *, query_seconds: float = 42.0, other: TaskRow | None = None) -> TaskXray:
    """A running task's x-ray as tasktui.core.incidents.xray makes it: its lock held by pid 4242,
    the session of the report's first worker (which also holds its liveness lock), and a thread's
    session from the same host running the task's query for `query_seconds`."""
    worker = report.workers[0]
    lock = task_lock_key(row.queue_name, row.message_id)
    locks = [HeldLock(1, 2, "worker", worker_id=worker.id)]
    if other is not None:
        locks.insert(
            0, HeldLock(3, 4, "task", message_id=other.message_id, actor_name=other.actor_name, state=other.state)
        )

    def session(pid: int, state: str, query: str, *, task_lock: bool, seconds: float | None) -> SessionInfo:
        return SessionInfo(
            pid=pid,
            role="authentik",
            application_name="",
            client_addr="10.0.3.17",
            client_hostname=None,
            client_port=51234,
            backend_start=NOW - timedelta(hours=3),
            state=state,
            wait_event_type="Client" if state == "idle" else "Lock",
            wait_event="ClientRead" if state == "idle" else "transactionid",
            query_seconds=seconds,
            state_seconds=seconds if seconds is not None else 12.0,
            transaction_seconds=seconds,
            query=query,
            visible=True,
            holds_task_lock=task_lock,
            holds_worker_lock=task_lock,
        )

    return TaskXray(
        task=row,
        checked_at=NOW,
        lock_key=lock,
        lock_holder=4242,
        lock_waiters=(),
        worker=worker,
        worker_match="its liveness lock is held by the same session",
        other_locks=tuple(locks),
        sessions=(
            session(4242, "idle", "UPDATE authentik_tasks_task SET state = 'consumed' …", task_lock=True, seconds=None),
            session(
                4243, "active", "SELECT * FROM authentik_core_user WHERE …", task_lock=False, seconds=query_seconds
            ),
        ),
        sessions_basis="the lock session and every other session from 10.0.3.17 (the worker's host)",
        verdict=XrayVerdict.RUNNING,
        verdict_text=f"{row.state}, claimed 1m ago; its worker holds the task's lock",
    )


def summary(
    database: str = LABEL, *, alive: int = 3, workers: int = 3, queued: int = 12, delayed: int = 0, errors: int = 0
) -> InstallationSummary:
    """An installation's summary row, as tasktui.core.incidents.summary reads it."""
    return InstallationSummary(
        database=database,
        checked_at=NOW,
        workers_alive=alive,
        workers=workers,
        queued=queued,
        delayed=delayed,
        running=2,
        errors_last_hour=errors,
        capped=False,
        alarms=(),
        elapsed=0.1,
    )


# -- the fake ------------------------------------------------------------------------------------


@dataclass
class TaskLogs:
    current: list[LogLine] = field(default_factory=list)
    previous: list[LogLine] = field(default_factory=list)
    # Attributes too large to come with a page, by line: what `attributes` returns for them.
    large: dict[LogCursor, AttributesValue] = field(default_factory=dict)

    def of(self, previous: bool) -> list[LogLine]:
        return self.previous if previous else self.current


class FakeConsole:
    """A ConsoleService in memory (see the module docstring)."""

    def __init__(
        self,
        rows: Iterable[TaskRow] = (),
        *,
        details: Iterable[TaskDetail] = (),
        logs: dict[str, TaskLogs] | None = None,
        report: WorkerReport | None = None,
        mode: FeedMode = FeedMode.LIVE,
        detail: str = "",
        label: str = LABEL,
        capability: tuple[bool, str] = (True, "role 'authentik' may retry tasks"),
        finished: dict[str, int] | None = None,
    ) -> None:
        self.store = TaskStore()
        self.store.replace_all(rows)
        self.details = {d.message_id: d for d in details}
        self.logs = logs or {}
        self.report = report if report is not None else workers(("worker-1.example", "2026.5.0", 12, True))
        self.label = label
        self.status = FeedStatus(mode, detail=detail, label=label, at=NOW.timestamp())
        self.capability = capability
        self.health_value = FeedHealth(0, 0, None, (), 0, 5.0, NOW.timestamp(), 12.0, "", 0, 0)
        self.rate_value = [0] * 60
        self.last_event = None
        self.older: list[TaskRow] = []
        self.finished = finished
        self.events: ConsoleEvents | None = None
        self.failures: dict[str, list[Exception]] = {}
        self.delays: dict[str, float] = {}
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.journal: list[dict[str, Any]] = []
        self.closed = False
        # A bulk preview's last error of each task (default: one error for all).
        self.errors: dict[str, str] = {}
        # The incident questions' answers (tests/fake_incidents.py builds them); no schedule
        # table when `schedule_report` is None.
        self.error_report = ErrorReport(timedelta(hours=1), timedelta(hours=1), NOW, NOW, (), 0, False, NOW, 0.1)
        self.queue_report = QueueReport(NOW, 5, (), True, False, "", 0.1)
        self.schedule_report: ScheduleReport | None = ScheduleReport(NOW, (), (), ("public",), (), False, 0.1)
        self.xrays: dict[str, TaskXray] = {}  # by message id; others are not found
        self.summary_value = summary(label)

    # -- knobs -----------------------------------------------------------------------------------

    def fail(self, method: str, error: Exception, times: int = 1) -> None:
        """The next `times` calls of `method` raise `error`."""
        self.failures.setdefault(method, []).extend([error] * times)

    def slow(self, method: str, seconds: float) -> None:
        """Calls of `method` take this long."""
        self.delays[method] = seconds

    def set_status(
        self, mode: FeedMode, detail: str = "", *, blind_since: float | None = None, fades: bool = False
    ) -> None:
        """The feed's state, as the real feed reports it (at the frozen clock's time)."""
        self.status = FeedStatus(
            mode, detail=detail, label=self.label, blind_since=blind_since, at=NOW.timestamp(), fades=fades
        )
        if self.events is not None:
            self.events.feed_status(self.status)

    def put(self, *rows: TaskRow) -> None:
        """Rows that changed in the database, as the feed applies them."""
        changed = self.store.apply(rows)
        self._updated(changed)

    def delete(self, *ids: str) -> None:
        """Tasks deleted in the database (their detail goes with them)."""
        for mid in ids:
            self.details.pop(mid, None)
        self._updated(self.store.apply([], ids))

    def _updated(self, changed: int) -> None:
        if self.events is not None:
            self.events.feed_updated(FeedUpdate(changed))
            self.events.feed_counts(self.counts())

    def add_lines(self, message_id: str, *lines: LogLine) -> None:
        """Log lines committed for a task: the detail screen hears of them."""
        logs = self.logs.setdefault(message_id, TaskLogs())
        for item in lines:
            logs.of(item.previous).append(item)
            logs.of(item.previous).sort(key=lambda entry: entry.cursor)
        if self.events is not None:
            self.events.feed_side_changes(frozenset({message_id}), False)

    def notice(self, text: str) -> None:
        if self.events is not None:
            self.events.console_notice(text)

    async def _call(self, method: str, *args: Any) -> None:
        self.calls.append((method, args))
        if method in self.delays:
            await asyncio.sleep(self.delays[method])
        failures = self.failures.get(method)
        if failures:
            raise failures.pop(0)

    # -- the live window -------------------------------------------------------------------------

    async def follow(self, events: ConsoleEvents) -> None:
        self.events = events
        events.feed_status(self.status)
        events.feed_updated(FeedUpdate(len(self.store)))
        events.feed_counts(self.counts())
        events.feed_health(self.health_value)
        await asyncio.Event().wait()  # until cancelled, as the real feed

    @property
    def mode(self) -> FeedMode:
        return self.status.mode

    @property
    def version(self) -> int:
        return self.store.version

    @property
    def loaded(self) -> int:
        return len(self.store)

    @property
    def last_event_at(self) -> float | None:
        return self.last_event

    def view(self, task_filter: TaskFilter, sort: SortKey) -> list[TaskRow]:
        return self.store.view(task_filter, sort)

    def task(self, message_id: str) -> TaskRow | None:
        return self.store.rows.get(message_id)

    def counts(self) -> StatusCounts:
        if self.finished is None:
            return combine(self.store.tally(), None, stale_after=120, now=time.time())
        finished = FinishedCounts(dict(self.finished), 0, False, time.time(), 1.0)
        return combine(self.store.tally(), finished, stale_after=120, now=time.time())

    def health(self) -> FeedHealth:
        return self.health_value

    def rate(self) -> list[int]:
        return list(self.rate_value)

    def facets(self) -> Facets:
        return Facets(
            queues=self.store.facet_counts(lambda t: t.queue_name),
            tenants=self.store.facet_counts(lambda t: t.tenant_name or t.tenant_id),
            actors=self.store.facet_counts(lambda t: t.actor_name),
        )

    async def load_older(self) -> int:
        await self._call("load_older")
        rows, self.older = self.older, []
        self.put(*rows)
        return len(rows)

    # -- one task --------------------------------------------------------------------------------

    async def task_detail(self, message_id: str) -> TaskDetail | None:
        await self._call("task_detail", message_id)
        found = self.details.get(message_id)
        if found is None or (message_id not in self.store.rows and message_id not in self.details):
            return None
        logs = self.logs.get(message_id, TaskLogs())
        row = self.store.rows.get(message_id, found.task)
        return replace(found, task=row, log_counts=LogCounts(len(logs.current), len(logs.previous), 0, 0))

    async def log_page(
        self,
        message_id: str,
        *,
        previous: bool,
        cursor: LogCursor | None = None,
        backward: bool = False,
        limit: int = 200,
    ) -> LogPage:
        await self._call("log_page", message_id, previous, cursor, backward)
        lines = self.logs.get(message_id, TaskLogs()).of(previous)
        page, more = _page(lines, cursor, backward, limit)
        return LogPage(page, more, backward)

    async def problem_line(
        self, message_id: str, *, previous: bool, cursor: LogCursor | None, backward: bool
    ) -> LogLine | None:
        await self._call("problem_line", message_id, previous, cursor, backward)
        lines = self.logs.get(message_id, TaskLogs()).of(previous)
        candidates = _past(lines, cursor, backward)
        found = [entry for entry in candidates if entry.level.lower() in PROBLEM_LEVELS]
        if not found:
            return None
        return found[-1] if backward else found[0]

    async def log_window(self, message_id: str, line: LogLine, *, previous: bool, limit: int) -> LogWindow:
        await self._call("log_window", message_id, line.cursor)
        lines = self.logs.get(message_id, TaskLogs()).of(previous)
        half = max(1, (limit - 1) // 2)
        before, has_before = _page(lines, line.cursor, True, half)
        after, has_after = _page(lines, line.cursor, False, half)
        return LogWindow([*before, line, *after], len(before), has_before, has_after)

    async def attributes(self, line: LogLine) -> AttributesValue:
        await self._call("attributes", line.cursor)
        large = self.logs.get(line.task_id, TaskLogs()).large.get(line.cursor)
        if large is not None:
            return large
        return AttributesValue(0, "", None, True, False)

    async def exception_of(self, line: LogLine) -> Any:
        await self._call("exception_of", line.cursor)
        if line.attributes_inline:
            return line.exception
        value = (await self.attributes(line)).value
        return value.get("exception") if isinstance(value, dict) else None

    # -- workers ---------------------------------------------------------------------------------

    async def workers(self) -> WorkerReport:
        await self._call("workers")
        return self.report

    async def summary(self) -> InstallationSummary:
        await self._call("summary")
        return self.summary_value

    async def xray(self, message_id: str) -> TaskXray:
        await self._call("xray", message_id)
        if message_id not in self.xrays:
            raise TaskNotFound(f"no task {message_id} on {self.label}")
        return self.xrays[message_id]

    # -- retries ---------------------------------------------------------------------------------

    async def retry_capability(self) -> tuple[bool, str]:
        await self._call("retry_capability")
        return self.capability

    async def retry_selected(self, message_ids: list[str]) -> SelectionResult:
        await self._call("retry_selected", tuple(message_ids))
        outcomes = []
        for mid in message_ids:
            row = self.store.rows.get(mid)
            if row is None:
                outcomes.append(RetryOutcome(mid, Outcome.NOT_FOUND))
            elif row.state != RETRYABLE_STATE:
                outcomes.append(RetryOutcome(mid, Outcome.NOT_RETRYABLE, state=row.state))
            else:
                outcomes.append(RetryOutcome(mid, Outcome.RETRIED))
                self.put(replace(row, state="queued", aggregated_status="queued", effective_status="queued"))
        self.journal.append({"action": "retry", "tasks": [o.record() for o in outcomes]})
        return SelectionResult(tuple(outcomes), None)

    async def preview_bulk_retry(self, task_filter: TaskFilter) -> BulkPreview:
        await self._call("preview_bulk_retry", task_filter)
        rows = [r for r in self.store.view(task_filter, SortKey("mtime", True)) if r.state == RETRYABLE_STATE]
        unfinished = {(r.actor_name, r.uid) for r in self.store.rows.values() if r.state not in FINAL_STATES}
        planned = []
        seen: set[tuple[str, str | None]] = set()
        for row in rows:
            identity = (row.actor_name, row.uid)
            skip = None
            if identity in unfinished:
                skip = SkipReason.ACTIVE_TWIN
            elif identity in seen:
                skip = SkipReason.OLDER_DUPLICATE
            seen.add(identity)
            error = self.errors.get(row.message_id, "LDAPException: connection refused")
            planned.append(PlannedTask(row.message_id, row.actor_name, error, skip))
        tasks = tuple(planned)
        return BulkPreview(
            task_filter=task_filter,
            database=self.label,
            matching=len(tasks),
            matching_capped=False,
            limit=10_000,
            tasks=tasks,
            by_actor=_groups(tasks, lambda t: t.actor_name),
            by_error=_groups(tasks, lambda t: t.error or ""),
            errors_analysed=len(tasks),
            sample=tuple(SampleTask(self.store.rows[t.message_id], t.error, t.skip) for t in tasks[:10]),
            elapsed=0.01,
        )

    async def run_bulk_retry(
        self,
        preview: BulkPreview,
        *,
        rate: float,
        abort: asyncio.Event,
        on_progress: Callable[[BulkProgress], None],
    ) -> BulkSummary:
        await self._call("run_bulk_retry", preview.task_filter)
        outcomes: dict[str, RetryOutcome] = {}
        for planned in preview.tasks:
            if planned.skip is not None:
                outcomes[planned.message_id] = RetryOutcome(planned.message_id, Outcome.SKIPPED, skip=planned.skip)
        counts: dict[Outcome, int] = {}
        to_retry = preview.to_retry
        for attempted, planned in enumerate(to_retry, 1):
            if abort.is_set():
                break
            await asyncio.sleep(1 / rate if rate else 0)
            result = await self.retry_selected([planned.message_id])
            outcome = result.outcomes[0]
            outcomes[planned.message_id] = outcome
            counts[outcome.outcome] = counts.get(outcome.outcome, 0) + 1
            on_progress(BulkProgress(attempted, len(to_retry), dict(counts), outcome, 1.0))
        for planned in to_retry:
            outcomes.setdefault(planned.message_id, RetryOutcome(planned.message_id, Outcome.NOT_ATTEMPTED))
        return BulkSummary(
            run_id="run",
            outcomes=tuple(outcomes[t.message_id] for t in preview.tasks),
            aborted=abort.is_set(),
            stopped=None,
            elapsed=0.5,
            counts=Counter(o.outcome for o in outcomes.values()),
        )

    # -- exports ---------------------------------------------------------------------------------

    async def incident_bundle(self, message_id: str, task_filter: TaskFilter) -> IncidentBundle:
        """What tasktui.core.export.load_bundle reads, from this fake's task, logs, workers and
        counts (TaskConsole's is covered on real Postgres in tests/test_console_service.py)."""
        await self._call("incident_bundle", message_id, task_filter)
        found = await self.task_detail(message_id)
        if found is None:
            raise TaskNotFound(f"no task with message id {message_id} on {self.label}")
        logs = self.logs.get(message_id, TaskLogs())
        groups = tuple(
            LogGroup(previous, lines, [line.exception for line in lines], False)
            for previous, lines in ((False, logs.current), (True, logs.previous))
        )
        counts = self.counts()
        status = TaskSystemStatus(
            database=self.label,
            checked_at=NOW,
            counts=dict(Counter(row.aggregated_status for row in self.store.rows.values())),
            finished_estimated=counts.finished_estimated,
            queues=(),
            rejected_recent=0,
            rejected_minutes=15,
            workers_alive=self.report.alive,
            workers_stale=self.report.stale,
            workers_dead=self.report.dead,
            orphaned=0,
            alarms=tuple(StatusAlarm(alarm.code, alarm.message) for alarm in self.report.alarms),
            capped=False,
            elapsed=0.01,
        )
        where, params = task_filter.where_sql(TaskQueries.for_shape(SHAPE))
        return IncidentBundle(
            database=self.label,
            made_at=NOW,
            report=TaskReport(found, (groups[0], groups[1])),
            workers=self.report,
            status=status,
            task_filter=task_filter,
            filter_sql=where,
            filter_params=params,
            versions=Versions("0.1.0", 3, 3, self.report.reference_version, self.report.reference_text, "16.4"),
        )

    # -- the incident questions ------------------------------------------------------------------

    async def error_groups(self, since: timedelta = timedelta(hours=1)) -> ErrorReport:
        await self._call("error_groups", since)
        return self.error_report

    async def queue_flows(self, minutes: int = 5) -> QueueReport:
        await self._call("queue_flows", minutes)
        return self.queue_report

    async def schedules(self) -> ScheduleReport:
        await self._call("schedules")
        if self.schedule_report is None:
            raise MissingTables(f"{NO_SCHEDULE_TABLE} (connected to {self.label})")
        return self.schedule_report

    async def aclose(self) -> None:
        self.closed = True


def _past(lines: list[LogLine], cursor: LogCursor | None, backward: bool) -> list[LogLine]:
    """The lines strictly before (`backward`) or after `cursor`, in log order."""
    if cursor is None:
        return list(lines)
    keys = [entry.cursor for entry in lines]
    return lines[: bisect_left(keys, cursor)] if backward else lines[bisect_right(keys, cursor) :]


def _page(lines: list[LogLine], cursor: LogCursor | None, backward: bool, limit: int) -> tuple[list[LogLine], bool]:
    """As tasktui.core.logs.fetch_logs pages: `limit` lines past the cursor, oldest first, and
    whether more lie beyond them."""
    candidates = _past(lines, cursor, backward)
    if backward:
        return candidates[-limit:], len(candidates) > limit
    return candidates[:limit], len(candidates) > limit


def _groups(tasks: tuple[PlannedTask, ...], key: Callable[[PlannedTask], str]) -> tuple[GroupCount, ...]:
    planned: dict[str, int] = {}
    to_retry: dict[str, int] = {}
    for item in tasks:
        planned[key(item)] = planned.get(key(item), 0) + 1
        if item.skip is None:
            to_retry[key(item)] = to_retry.get(key(item), 0) + 1
    return tuple(GroupCount(k, n, to_retry.get(k, 0)) for k, n in sorted(planned.items(), key=lambda kv: -kv[1]))
