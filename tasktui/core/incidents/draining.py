"""Is it draining? `load_queues(session, minutes=…) -> QueueReport`, one `QueueFlow` per queue.

Per queue: what waits now, what arrived and completed minute by minute over the last `minutes`
(how each is measured: tasktui.core.sql.queues), and a forecast with its basis.

The forecast is about the queue's unfinished work U (waiting + delayed retries + in flight).
Every message sent adds one to U and every task that ends (done or rejected) takes one away;
an automatic retry moves a task between the parts of U without changing it. So U changes by
arrivals − completions. The forecast reads that balance over the newest FORECAST_MINUTES of
the window (a storm's backlog that turned draining must not read as growing for minutes); the
window's per-minute series show how it got there:

* **stalled** — due work has waited STALL_AFTER or longer and nothing was consumed (no claim,
  no completion) for STALL_AFTER: "stalled: nothing consumed for 3 min". A retry whose eta passed
  counts as due only POLL_GRACE after its eta: authentik's consumers pick such rows up by a
  fallback poll that runs after 30 s without any enqueue notification (reference §9), so an
  overdue eta of a few seconds is normal, not stuck;
* **idle** — nothing unfinished, nothing arrived or completed;
* **keeping up** — nothing unfinished, but work arrived and was done;
* **growing** — arrivals exceed completions by more than the noise margin (10 % of the larger
  rate, at least 1/min): "growing by 40/min";
* **draining** — completions exceed arrivals: "empty in ~12 min" = U / (completions − arrivals);
* **steady** — in ≈ out with work in hand (or no movement at all, not yet a stall), or only
  retries waiting for their eta.

Without a task log table (authentik 2025.8) arrivals are unknown: a queue that completes work is
"draining" at its completion rate if nothing more arrives, and says so.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import psycopg

from tasktui.core import db
from tasktui.core.incidents.jsonable import JsonReport
from tasktui.core.session import Session
from tasktui.core.sql import queues as queues_sql
from tasktui.core.sql.tasks import DISTINCT_STATES
from tasktui.core.status import FINAL_STATES, UNFINISHED_STATES

DEFAULT_MINUTES = 5
FORECAST_MINUTES = 1  # the newest minutes of the window the forecast's rates are read over
MAX_MINUTES = 30
STALL_AFTER = timedelta(minutes=2)
# authentik's consumer_listen_timeout: an eta-delayed task is only guaranteed a look this long
# after its eta.
POLL_GRACE = timedelta(seconds=30)
# Rows read per state in one scan; more makes the counts lower bounds (`capped`).
MAX_SCANNED = 200_000
MAX_QUEUES = 100
NOISE_SHARE = 0.1
NOISE_FLOOR = 1.0  # per minute


class Verdict(StrEnum):
    STALLED = "stalled"
    IDLE = "idle"
    KEEPING_UP = "keeping_up"
    GROWING = "growing"
    DRAINING = "draining"
    STEADY = "steady"


@dataclass(frozen=True)
class Forecast(JsonReport):
    verdict: Verdict
    text: str  # "empty in ~12 min", "growing by 40/min", "stalled: nothing consumed for 3 min"
    basis: str  # the numbers it rests on, in words
    minutes_to_empty: float | None = None  # draining only
    net_per_minute: float | None = None  # arrivals − completions, when arrivals are known


@dataclass(frozen=True)
class QueueFlow(JsonReport):
    queue_name: str
    waiting: int  # queued and due (no eta, or eta passed)
    delayed: int  # queued with an eta ahead (retries in their backoff)
    overdue_retries: int  # of the waiting: eta passed more than POLL_GRACE ago
    in_flight: int  # consumed, preprocess, running, postprocess
    arrived: int | None  # messages first sent in the window (None: unknown in this layout)
    completed: int  # tasks that reached done or rejected in the window
    arrivals_per_minute: tuple[int, ...] | None  # oldest minute first
    completions_per_minute: tuple[int, ...]
    last_consumed: datetime | None  # the latest claim or completion known (within a day)
    oldest_due: datetime | None  # since when the longest-waiting due task is due
    next_eta: datetime | None  # the next delayed retry
    forecast: Forecast

    @property
    def unfinished(self) -> int:
        return self.waiting + self.delayed + self.in_flight


@dataclass(frozen=True)
class QueueReport(JsonReport):
    checked_at: datetime  # the database's now()
    minutes: int  # the window the rates are measured over
    queues: tuple[QueueFlow, ...]
    arrivals_known: bool
    capped: bool  # a scan hit MAX_SCANNED: counts are lower bounds
    basis: str  # how arrivals and completions are measured
    elapsed: float

    @property
    def stalled(self) -> tuple[QueueFlow, ...]:
        return tuple(flow for flow in self.queues if flow.forecast.verdict is Verdict.STALLED)


ARRIVALS_BASIS = (
    "arrivals: messages first sent in the window (their first task log, written when authentik enqueues);"
    " completions: tasks that reached done or rejected (their mtime)"
)
NO_ARRIVALS_BASIS = (
    "arrivals unknown (no task log table: authentik 2025.8 layout); completions: tasks that reached done"
    " or rejected (their mtime)"
)


def span(seconds: float) -> str:
    """'45 s', '3 min', '2.5 h' — as the forecast sentences say it."""
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _rate(value: float) -> str:
    return f"{value:,.0f}/min" if value >= 9.5 or value == 0 else f"{value:.1f}/min"


def _about_minutes(minutes: float) -> str:
    if minutes < 1:
        return "<1 min"
    return span(minutes * 60)


def forecast(
    *,
    waiting: int,
    delayed: int,
    in_flight: int,
    arrived: int | None,
    completed: int,
    minutes: int,
    idle_for: timedelta | None,
    due_for: timedelta | None,
    next_eta_in: timedelta | None = None,
) -> Forecast:
    """The forecast for one queue from its numbers (see the module docstring). `idle_for`: time
    since the last claim or completion (None: none within a day); `due_for`: how long the
    longest-waiting due task has been due (None: none is)."""
    unfinished = waiting + delayed + in_flight
    completion_rate = completed / minutes
    arrival_rate = arrived / minutes if arrived is not None else None
    window = "over the last minute" if minutes == 1 else f"over the last {minutes} min"
    rates = f"completing {_rate(completion_rate)}" + (
        f", arriving {_rate(arrival_rate)}" if arrival_rate is not None else ", arrivals unknown"
    )
    if waiting and due_for is not None and due_for >= STALL_AFTER and (idle_for is None or idle_for >= STALL_AFTER):
        since = f"for {span(idle_for.total_seconds())}" if idle_for is not None else "within a day"
        return Forecast(
            Verdict.STALLED,
            f"stalled: nothing consumed {since}",
            f"{waiting:,} waiting, the oldest due for {span(due_for.total_seconds())}; {in_flight:,} in flight",
        )
    if unfinished == 0:
        if not completed and not arrived:
            return Forecast(Verdict.IDLE, "idle: nothing queued", f"nothing arrived or completed {window}")
        return Forecast(Verdict.KEEPING_UP, "keeping up: nothing waiting", f"{rates} {window}")
    held = f"{unfinished:,} unfinished ({waiting:,} waiting, {delayed:,} delayed, {in_flight:,} in flight)"
    if waiting == 0 and in_flight == 0:
        when = f", the next in {span(next_eta_in.total_seconds())}" if next_eta_in is not None else ""
        waits = "retry waits for its eta" if delayed == 1 else "retries wait for their eta"
        return Forecast(Verdict.STEADY, f"nothing due: {delayed:,} {waits}{when}", held)
    if arrival_rate is None:
        if completion_rate > 0:
            minutes_left = unfinished / completion_rate
            return Forecast(
                Verdict.DRAINING,
                f"empty in ~{_about_minutes(minutes_left)} if nothing more arrives",
                f"{held}; {rates} {window}",
                minutes_to_empty=minutes_left,
            )
        return Forecast(Verdict.STEADY, f"no completions {window}", f"{held}; {rates}")
    net = arrival_rate - completion_rate
    margin = max(NOISE_FLOOR, NOISE_SHARE * max(arrival_rate, completion_rate))
    basis = f"{held}; {rates} {window}"
    if net > margin:
        return Forecast(Verdict.GROWING, f"growing by {_rate(net)}", basis, net_per_minute=net)
    if net < -margin:
        minutes_left = unfinished / -net
        return Forecast(
            Verdict.DRAINING,
            f"empty in ~{_about_minutes(minutes_left)}",
            basis,
            minutes_to_empty=minutes_left,
            net_per_minute=net,
        )
    if not arrived and not completed:
        return Forecast(
            Verdict.STEADY, f"no movement: nothing arrived or completed {window}", basis, net_per_minute=0.0
        )
    return Forecast(Verdict.STEADY, f"steady: {unfinished:,} unfinished, in ≈ out", basis, net_per_minute=net)


async def load_queues(session: Session, *, minutes: int = DEFAULT_MINUTES) -> QueueReport:
    """Every queue's flow over the last `minutes` (1 to MAX_MINUTES). A few bounded reads; no
    locks taken, nothing written. Raises UserFacingError on a database problem."""
    if not 1 <= minutes <= MAX_MINUTES:
        raise ValueError(f"minutes must be between 1 and {MAX_MINUTES}")
    started = time.monotonic()
    conn = session.conn
    shape = session.shape
    arrivals_known = shape.has_tasklog
    try:
        now = await db.fetch_value(conn, "SELECT now()")
        assert isinstance(now, datetime)
        start = now - timedelta(minutes=minutes)
        params = {
            "now": now,
            "start": start,
            "minutes": minutes,
            "cap": MAX_SCANNED,
            "poll_grace": POLL_GRACE,
            "unfinished": list(UNFINISHED_STATES),
            "final": list(FINAL_STATES),
        }
        names = [n for (n,) in await (await conn.execute(queues_sql.QUEUE_NAMES, {"limit": MAX_QUEUES})).fetchall()]
        current = {
            row[0]: row[1:] for row in await (await conn.execute(queues_sql.queue_now(shape), params)).fetchall()
        }
        completions = await (await conn.execute(queues_sql.COMPLETIONS, params)).fetchall()
        arrivals: list[tuple[Any, ...]] = []
        if arrivals_known:
            states = [s for (s,) in await (await conn.execute(DISTINCT_STATES)).fetchall()]
            arrivals = await (await conn.execute(queues_sql.ARRIVALS, {**params, "states": states})).fetchall()
    except psycopg.Error as exc:
        raise db.user_error(exc, session.target) from None

    capped = sum(current_row[0] + current_row[1] + current_row[3] for current_row in current.values()) >= MAX_SCANNED
    completed_by_minute: dict[str, list[int]] = {}
    last_completion: dict[str, datetime] = {}
    for queue, minute, count, newest in completions:
        completed_by_minute.setdefault(queue, [0] * minutes)[minute] += count
        last_completion[queue] = max(newest, last_completion.get(queue, newest))
    capped |= sum(row[2] for row in completions) >= MAX_SCANNED
    arrived_by_minute: dict[str, list[int]] = {}
    for queue, minute, count in arrivals:
        arrived_by_minute.setdefault(queue, [0] * minutes)[minute] += count

    recent = min(FORECAST_MINUTES, minutes)
    flows = []
    for queue in sorted(set(names) | set(current) | set(completed_by_minute)):
        waiting, delayed, overdue, in_flight, oldest_due, last_claim, next_eta = current.get(
            queue, (0, 0, 0, 0, None, None, None)
        )
        if waiting and queue not in last_completion:
            try:
                newest = await db.fetch_value(conn, queues_sql.LAST_COMPLETION, {**params, "queue": queue})
            except psycopg.Error as exc:
                raise db.user_error(exc, session.target) from None
            if isinstance(newest, datetime):
                last_completion[queue] = newest
        consumed = [moment for moment in (last_claim, last_completion.get(queue)) if moment is not None]
        last_consumed = max(consumed) if consumed else None
        # Minute 0 is the newest; the series read oldest first.
        completed_series = tuple(reversed(completed_by_minute.get(queue, [0] * minutes)))
        arrived_series = tuple(reversed(arrived_by_minute.get(queue, [0] * minutes))) if arrivals_known else None
        arrived = sum(arrived_series) if arrived_series is not None else None
        completed = sum(completed_series)
        flows.append(
            QueueFlow(
                queue_name=queue,
                waiting=waiting,
                delayed=delayed,
                overdue_retries=overdue,
                in_flight=in_flight,
                arrived=arrived,
                completed=completed,
                arrivals_per_minute=arrived_series,
                completions_per_minute=completed_series,
                last_consumed=last_consumed,
                oldest_due=oldest_due,
                next_eta=next_eta,
                forecast=forecast(
                    waiting=waiting,
                    delayed=delayed,
                    in_flight=in_flight,
                    arrived=sum(arrived_series[-recent:]) if arrived_series is not None else None,
                    completed=sum(completed_series[-recent:]),
                    minutes=recent,
                    idle_for=_since(now, last_consumed),
                    due_for=_since(now, oldest_due),
                    next_eta_in=(next_eta - now) if next_eta is not None else None,
                ),
            )
        )
    return QueueReport(
        checked_at=now,
        minutes=minutes,
        queues=tuple(flows),
        arrivals_known=arrivals_known,
        capped=capped,
        basis=ARRIVALS_BASIS if arrivals_known else NO_ARRIVALS_BASIS,
        elapsed=time.monotonic() - started,
    )


def _since(now: datetime, moment: datetime | None) -> timedelta | None:
    if moment is None:
        return None
    return max(timedelta(0), now - moment)
