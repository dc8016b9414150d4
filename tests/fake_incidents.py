"""Builders for the incident questions' answers as the fake console gives them (errors grouped,
queues, schedules): the dataclasses tasktui.core.incidents returns, at the fake's frozen clock,
so that a UI test says in a few lines what a view shows."""

from __future__ import annotations

from datetime import timedelta

from tasktui.core.incidents.draining import Forecast, QueueFlow, QueueReport, Verdict
from tasktui.core.incidents.errors import ErrorGroup, ErrorReport, Trend, group_id
from tasktui.core.incidents.schedules import ScheduleAlarm, ScheduleInfo, ScheduleReport, ScheduleStatus
from tasktui.core.models import TaskRow
from tests.fake_console import NOW

HOUR = timedelta(hours=1)


def error_group(
    actor: str,
    signature: str,
    ids: list[str],
    *,
    rejected: int | None = None,
    trend: Trend = Trend.STEADY,
    buckets: tuple[int, ...] = (0, 0, 0, 0, 0, 1),
    minutes_ago: tuple[float, float] = (1, 40),
    tenants: tuple[str, ...] = ("Default",),
    example_error: str = "",
) -> ErrorGroup:
    """A group of the tasks `ids` (newest first); the first `rejected` of them rejected (all)."""
    rejected_ids = tuple(ids[: len(ids) if rejected is None else rejected])
    return ErrorGroup(
        id=group_id(actor, signature),
        actor_name=actor,
        signature=signature,
        count=len(ids),
        rejected=len(rejected_ids),
        logged=len(ids) - len(rejected_ids),
        first_seen=NOW - timedelta(minutes=minutes_ago[1]),
        last_seen=NOW - timedelta(minutes=minutes_ago[0]),
        trend=trend,
        trend_buckets=buckets,
        tenants=tenants,
        example_id=ids[0],
        example_error=example_error or signature,
        message_ids=tuple(ids),
        rejected_ids=rejected_ids,
    )


def error_report(*groups: ErrorGroup, since: timedelta = HOUR) -> ErrorReport:
    return ErrorReport(
        since=since,
        trend_span=min(since, HOUR),
        checked_at=NOW,
        window_start=NOW - since,
        groups=groups,
        failed=sum(g.count for g in groups),
        capped=False,
        covered_from=NOW - since,
        elapsed=0.31,
    )


def queue_flow(
    name: str,
    *,
    waiting: int = 0,
    delayed: int = 0,
    in_flight: int = 0,
    arrived: tuple[int, ...] | None = (0, 0, 0, 0, 0),
    completed: tuple[int, ...] = (0, 0, 0, 0, 0),
    verdict: Verdict = Verdict.IDLE,
    text: str = "idle: nothing queued",
    basis: str = "nothing arrived or completed over the last minute",
    overdue_retries: int = 0,
) -> QueueFlow:
    return QueueFlow(
        queue_name=name,
        waiting=waiting,
        delayed=delayed,
        overdue_retries=overdue_retries,
        in_flight=in_flight,
        arrived=sum(arrived) if arrived is not None else None,
        completed=sum(completed),
        arrivals_per_minute=arrived,
        completions_per_minute=completed,
        last_consumed=NOW - timedelta(seconds=4),
        oldest_due=None,
        next_eta=None,
        forecast=Forecast(verdict, text, basis),
    )


def queue_report(*flows: QueueFlow, minutes: int = 5) -> QueueReport:
    return QueueReport(
        checked_at=NOW,
        minutes=minutes,
        queues=flows,
        arrivals_known=True,
        capped=False,
        basis="arrivals: messages first sent in the window; completions: tasks that reached done or rejected",
        elapsed=0.03,
    )


def schedule(
    number: int,
    actor: str,
    uid: str | None,
    *,
    status: ScheduleStatus = ScheduleStatus.OK,
    crontab: str = "*/5 * * * *",
    next_in_minutes: float | None = 3,
    latest: TaskRow | None = None,
    blocking: TaskRow | None = None,
    tenant: str = "Default",
) -> ScheduleInfo:
    paused = status is ScheduleStatus.PAUSED
    next_run = None if paused or next_in_minutes is None else NOW + timedelta(minutes=next_in_minutes)
    overdue = -timedelta(minutes=next_in_minutes) if next_in_minutes is not None and next_in_minutes < 0 else None
    return ScheduleInfo(
        id=f"{number:08d}-0000-0000-0000-000000000000",
        schema="public",
        tenant=tenant,
        actor_name=actor,
        uid=uid,
        identifier=uid,
        crontab=crontab,
        paused=paused,
        next_run=next_run,
        overdue_by=None if paused else overdue,
        latest_task=latest,
        blocking_task=blocking,
        status=status,
    )


def schedule_report(*infos: ScheduleInfo) -> ScheduleReport:
    alarms = tuple(
        ScheduleAlarm(
            "blocked",
            "error",
            f"schedule {info.display_uid} ({info.tenant}) is overdue: task {info.blocking_task.message_id} is still"
            f" {info.blocking_task.state}, and authentik skips a schedule while any of its tasks is unfinished",
            info.id,
            info.blocking_task.message_id,
        )
        for info in infos
        if info.status is ScheduleStatus.BLOCKED and info.blocking_task is not None
    )
    return ScheduleReport(
        checked_at=NOW,
        schedules=infos,
        alarms=alarms,
        schemas=("public",),
        unreadable=(),
        capped=False,
        elapsed=0.12,
    )
