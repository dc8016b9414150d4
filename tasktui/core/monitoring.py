"""The task system in one shot, judged as a monitoring plugin judges: what `tasktui status` runs
for cron, Nagios, Icinga and CI.

`load_status(session)` reads, in a few bounded statements on authentik's own indexes:

* tasks by stored status: unfinished ones counted per queue and state (up to COUNT_CAP per
  state, oldest first), finished ones exactly under a 2 s budget, else the planner's estimate
  (tasktui.core.counts, the header's counts);
* per queue: tasks waiting for a worker now, delayed retries (eta ahead), in flight, and how
  long the oldest waiting task has waited (since its eta, else since its last enqueue or claim);
* workers alive / stale / dead and orphaned tasks, as the worker panel judges them
  (tasktui.core.workers), with its alarms;
* rejected tasks that finished in the last N minutes.

`judge(status, thresholds)` turns that into the monitoring-plugins convention: a state (0 OK,
1 WARNING, 2 CRITICAL; 3 UNKNOWN is for a check that could not run), one line of text with
performance data after `|`, and more lines of detail. Thresholds are Nagios ranges
(`10` alerts outside 0..10, `10:` below 10, `~:10` above 10, `10:20` outside, `@10:20` inside),
parsed and printed by the `nagiosplugin` library.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import psycopg
from nagiosplugin import Performance, Range

from tasktui.core import db
from tasktui.core.counts import count_finished
from tasktui.core.incidents.jsonable import JsonReport
from tasktui.core.session import Session
from tasktui.core.sql import monitoring as monitoring_sql
from tasktui.core.sql.tasks import TaskQueries
from tasktui.core.status import FINAL_STATES, UNFINISHED_STATES
from tasktui.core.text import escape_control
from tasktui.core.timefmt import duration
from tasktui.core.workers import load_workers

COUNT_CAP = 100_000  # unfinished tasks per state, and rejected tasks in the window
FINISHED_COUNT_BUDGET_MS = 2_000  # then the planner's estimate
DEFAULT_REJECTED_MINUTES = 15
PLUGIN = "TASKTUI"


class PluginState(enum.IntEnum):
    """The monitoring-plugins exit statuses."""

    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3


@dataclass(frozen=True)
class QueueDepth(JsonReport):
    queue: str
    waiting: int  # queued and due: waiting for a worker now
    delayed: int  # queued with an eta ahead (a retry's backoff)
    in_flight: int  # claimed by a worker: consumed … postprocess
    oldest_waiting_seconds: float | None  # how long the oldest waiting task has waited


@dataclass(frozen=True)
class StatusAlarm(JsonReport):
    """One of the worker panel's alarms (tasktui.core.workers.Alarm): its code says which metric,
    if any, judges it."""

    code: str
    message: str


@dataclass(frozen=True)
class TaskSystemStatus(JsonReport):
    database: str  # user@host:port/dbname, never a password
    checked_at: datetime  # the database's now()
    counts: dict[str, int]  # stored status (aggregated_status) -> tasks
    finished_estimated: bool  # finished counts are the planner's estimate
    queues: tuple[QueueDepth, ...]
    rejected_recent: int  # rejected tasks that finished in the last `rejected_minutes`
    rejected_minutes: int
    workers_alive: int
    workers_stale: int
    workers_dead: int
    orphaned: int  # running tasks whose lock no session holds
    alarms: tuple[StatusAlarm, ...]  # the worker panel's alarms
    capped: bool  # a count stopped at COUNT_CAP
    elapsed: float  # seconds the check took

    @property
    def waiting(self) -> int:
        return sum(queue.waiting for queue in self.queues)

    @property
    def delayed(self) -> int:
        return sum(queue.delayed for queue in self.queues)

    @property
    def in_flight(self) -> int:
        return sum(queue.in_flight for queue in self.queues)

    @property
    def oldest_waiting_seconds(self) -> float:
        ages = [queue.oldest_waiting_seconds for queue in self.queues if queue.oldest_waiting_seconds is not None]
        return max(ages, default=0.0)


async def load_status(session: Session, *, rejected_minutes: int = DEFAULT_REJECTED_MINUTES) -> TaskSystemStatus:
    """The task system behind `session` now. Bounded reads; no lock taken, nothing written.
    Raises UserFacingError on a database problem."""
    started = time.monotonic()
    conn = session.conn
    try:
        report = await load_workers(session)
        rows = await (
            await conn.execute(
                monitoring_sql.queue_depths(session.shape), {"unfinished": list(UNFINISHED_STATES), "cap": COUNT_CAP}
            )
        ).fetchall()
        rejected = int(
            await db.fetch_value(
                conn, monitoring_sql.RECENTLY_REJECTED, {"minutes": rejected_minutes, "cap": COUNT_CAP + 1}
            )
            or 0
        )
        finished = await count_finished(
            conn,
            TaskQueries.for_shape(session.shape),
            timeout_ms=FINISHED_COUNT_BUDGET_MS,
            with_problems=False,
        )
    except psycopg.Error as exc:
        raise db.user_error(exc, session.target) from None
    counts: dict[str, int] = dict.fromkeys(UNFINISHED_STATES, 0)
    queues: dict[str, dict[str, float | None]] = {}
    capped = rejected > COUNT_CAP
    for queue, state, tasks, delayed, oldest in rows:
        counts[state] = counts.get(state, 0) + tasks
        capped = capped or tasks >= COUNT_CAP
        depth = queues.setdefault(queue, {"waiting": 0, "delayed": 0, "in_flight": 0, "oldest": None})
        if state == "queued":
            depth["waiting"] = int(depth["waiting"] or 0) + tasks - delayed
            depth["delayed"] = int(depth["delayed"] or 0) + delayed
            depth["oldest"] = oldest
        else:
            depth["in_flight"] = int(depth["in_flight"] or 0) + tasks
    for status, tasks in finished.by_status.items():
        counts[status] = counts.get(status, 0) + tasks
    for state in FINAL_STATES:
        counts.setdefault(state, 0)
    return TaskSystemStatus(
        database=session.target.label,
        checked_at=report.checked_at,
        counts=counts,
        finished_estimated=finished.estimated,
        queues=tuple(
            QueueDepth(
                queue=name,
                waiting=int(depth["waiting"] or 0),
                delayed=int(depth["delayed"] or 0),
                in_flight=int(depth["in_flight"] or 0),
                oldest_waiting_seconds=depth["oldest"],
            )
            for name, depth in sorted(queues.items())
        ),
        rejected_recent=min(rejected, COUNT_CAP),
        rejected_minutes=rejected_minutes,
        workers_alive=report.alive,
        workers_stale=report.stale,
        workers_dead=report.dead,
        orphaned=len(report.orphans),
        alarms=tuple(StatusAlarm(alarm.code, alarm.message) for alarm in report.alarms),
        capped=capped,
        elapsed=time.monotonic() - started,
    )


# ---------------------------------------------------------------------------------------------
# Thresholds


@dataclass(frozen=True)
class Metric:
    """One number a threshold can be set on (`--warn-<key>`, `--crit-<key>`)."""

    key: str
    help: str
    uom: str
    value: Callable[[TaskSystemStatus], float]
    label: Callable[[TaskSystemStatus], str]  # its performance data label
    words: Callable[[TaskSystemStatus], str]  # how the summary says it


def _plural(count: float, word: str) -> str:
    return f"{count:,.0f} {word}" if count == 1 else f"{count:,.0f} {word}s"


METRICS: tuple[Metric, ...] = (
    Metric(
        "queued",
        "tasks waiting for a worker now (due, every queue)",
        "",
        lambda s: s.waiting,
        lambda s: "queued",
        lambda s: f"{s.waiting:,} queued",
    ),
    Metric(
        "queued-age",
        "seconds the oldest waiting task has waited (since its eta, else its last enqueue or claim)",
        "s",
        lambda s: round(s.oldest_waiting_seconds, 1),
        lambda s: "oldest_queued_age",
        lambda s: f"oldest queued {duration(s.oldest_waiting_seconds)}",
    ),
    Metric(
        "rejected",
        "rejected tasks that finished in the last --rejected-minutes",
        "",
        lambda s: s.rejected_recent,
        lambda s: f"rejected_{s.rejected_minutes}m",
        lambda s: f"{s.rejected_recent:,} rejected in {s.rejected_minutes}m",
    ),
    Metric(
        "alive",
        "workers alive (heartbeat within 2 minutes and liveness lock held)",
        "",
        lambda s: s.workers_alive,
        lambda s: "workers_alive",
        lambda s: _plural(s.workers_alive, "worker") + " alive",
    ),
    Metric(
        "stale",
        "workers with a heartbeat or a lock but not both",
        "",
        lambda s: s.workers_stale,
        lambda s: "workers_stale",
        lambda s: _plural(s.workers_stale, "stale worker"),
    ),
    Metric(
        "orphaned",
        "tasks in a running state whose lock no worker holds",
        "",
        lambda s: s.orphaned,
        lambda s: "orphaned",
        lambda s: _plural(s.orphaned, "orphaned task"),
    ),
)
METRICS_BY_KEY = {metric.key: metric for metric in METRICS}

# With no option given: no alive worker is critical, as authentik's own overview shows it red.
DEFAULT_THRESHOLDS: dict[str, tuple[str, str]] = {"alive": ("", "1:")}


def parse_range(text: str) -> Range | None:
    """A Nagios range (see the module docstring); '' for none. Raises ValueError."""
    text = text.strip()
    if not text:
        return None
    return Range(text)


@dataclass(frozen=True)
class Thresholds:
    """Warning and critical ranges by metric key; a metric without them is reported, not judged."""

    ranges: Mapping[str, tuple[Range | None, Range | None]] = field(default_factory=dict)

    @classmethod
    def parse(cls, given: Mapping[str, tuple[str | None, str | None]]) -> Thresholds:
        """From option values (None: not given, so the default applies). Raises ValueError."""
        ranges = {}
        for key in METRICS_BY_KEY:
            warn, crit = given.get(key, (None, None))
            default_warn, default_crit = DEFAULT_THRESHOLDS.get(key, ("", ""))
            ranges[key] = (
                parse_range(default_warn if warn is None else warn),
                parse_range(default_crit if crit is None else crit),
            )
        return cls(ranges)


@dataclass(frozen=True)
class CheckResult(JsonReport):
    metric: str
    label: str
    value: float
    uom: str
    warning: str  # the range as given ("" none)
    critical: str
    state: PluginState


@dataclass(frozen=True)
class Verdict(JsonReport):
    state: PluginState
    summary: str  # the text of the first line, before the performance data
    perfdata: tuple[str, ...]
    details: tuple[str, ...]  # more lines (queues, counts, alarms)
    checks: tuple[CheckResult, ...]

    @property
    def line(self) -> str:
        """The plugin's first line: `TASKTUI OK - … | label=value;warn;crit;min;max …`."""
        return f"{PLUGIN} {self.state.name} - {self.summary} | {' '.join(self.perfdata)}"

    def lines(self) -> list[str]:
        return [self.line, *self.details]


def judge(status: TaskSystemStatus, thresholds: Thresholds) -> Verdict:
    checks = []
    for metric in METRICS:
        warn, crit = thresholds.ranges.get(metric.key, (None, None))
        value = metric.value(status)
        state = PluginState.OK
        if crit is not None and not crit.match(value):
            state = PluginState.CRITICAL
        elif warn is not None and not warn.match(value):
            state = PluginState.WARNING
        checks.append(
            CheckResult(
                metric=metric.key,
                label=metric.label(status),
                value=value,
                uom=metric.uom,
                warning=str(warn) if warn is not None else "",
                critical=str(crit) if crit is not None else "",
                state=state,
            )
        )
    overall = max((check.state for check in checks), default=PluginState.OK)
    # What is out of range first, then the rest of the picture.
    alerts = [
        f"{METRICS_BY_KEY[c.metric].words(status)} ({c.state.name.lower()}: outside {_range_text(c)})"
        for c in checks
        if c.state is not PluginState.OK
    ]
    oldest = f" (oldest {duration(status.oldest_waiting_seconds)})" if status.waiting else ""
    picture = (
        f"{status.waiting:,} queued{oldest},"
        f" {status.rejected_recent:,} rejected in {status.rejected_minutes}m,"
        f" workers {status.workers_alive} alive / {status.workers_stale} stale / {status.workers_dead} dead"
    )
    summary = "; ".join([*alerts, picture])
    perfdata = [
        str(
            Performance(
                c.label,
                c.value,
                c.uom,
                thresholds.ranges[c.metric][0],
                thresholds.ranges[c.metric][1],
                0,
            )
        )
        for c in checks
    ]
    perfdata += [
        str(Performance("delayed", status.delayed, "", None, None, 0)),
        str(Performance("in_flight", status.in_flight, "", None, None, 0)),
        str(Performance("workers_dead", status.workers_dead, "", None, None, 0)),
    ]
    return Verdict(
        state=overall,
        summary=summary,
        perfdata=tuple(perfdata),
        details=tuple(_details(status, checks)),
        checks=tuple(checks),
    )


# The life cycle's order, then the finished statuses from good to bad; others (a newer authentik's) last.
_COUNT_ORDER = {
    name: index for index, name in enumerate((*UNFINISHED_STATES, "done", "info", "warning", "error", "rejected"))
}


def _range_text(check: CheckResult) -> str:
    return check.critical if check.state is PluginState.CRITICAL else check.warning


# Which metric judges which of the worker panel's alarms. An alarm is printed as `alarm:` only when
# its metric is out of range, else as `note:`: an OK line above `alarm:` lines reads as a check that
# contradicts itself. Dead workers and version mismatches have no metric: authentik keeps a dead
# worker's row for a day after every restart, so they stay notes.
ALARM_METRIC = {
    "no_workerstatus": "alive",
    "no_workers": "alive",
    "queued_without_workers": "alive",
    "overdue_queued": "queued-age",
    "stale_workers": "stale",
    "orphaned_tasks": "orphaned",
}


def _alarm_line(alarm: StatusAlarm, checks: dict[str, CheckResult]) -> str:
    message = escape_control(alarm.message)
    check = checks.get(ALARM_METRIC.get(alarm.code, ""))
    if check is None:
        return f"note: {message}"
    if check.state is not PluginState.OK:
        return f"alarm: {message}"
    if not check.warning and not check.critical:
        return f"note: {message} (not judged: no --warn-{check.metric} or --crit-{check.metric} given)"
    return f"note: {message} (within the thresholds)"


def _details(status: TaskSystemStatus, checks: list[CheckResult]) -> list[str]:
    lines = []
    for queue in status.queues:
        oldest = (
            f" (oldest {duration(queue.oldest_waiting_seconds)})" if queue.oldest_waiting_seconds is not None else ""
        )
        lines.append(
            f"queue {escape_control(queue.queue)}: {queue.waiting:,} waiting{oldest},"
            f" {queue.delayed:,} delayed, {queue.in_flight:,} in flight"
        )
    estimated = " (finished: the planner's estimate)" if status.finished_estimated else ""
    ordered = sorted(status.counts.items(), key=lambda item: (_COUNT_ORDER.get(item[0], len(_COUNT_ORDER)), item[0]))
    shown = ", ".join(f"{escape_control(name)} {count:,}" for name, count in ordered)
    lines.append(f"tasks by status: {shown}{estimated}")
    if status.capped:
        lines.append(f"counts stop at {COUNT_CAP:,} per state")
    by_metric = {check.metric: check for check in checks}
    lines += [_alarm_line(alarm, by_metric) for alarm in status.alarms]
    return lines


def unknown_line(reason: str) -> str:
    """The plugin's line when the check could not run (exit 3)."""
    return f"{PLUGIN} {PluginState.UNKNOWN.name} - {escape_control(' '.join(reason.split()))}"
