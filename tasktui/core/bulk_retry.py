"""Retrying everything a filter matches: preview first, then a throttled, abortable run.

* `preview_bulk_retry(session, task_filter)` — what a bulk retry would do, before doing it
* `run_bulk_retry(session, preview, rate=…, abort=…, on_progress=…)` — do it, throttled

Each task goes through tasktui.core.retry.retry_task (one guarded transaction); stop a run with
its abort event, which takes effect between two tasks. Give these a session of their own, as
for tasktui.core.retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

import psycopg

from tasktui.core import db, timefmt
from tasktui.core.audit import Journal
from tasktui.core.error_groups import error_key
from tasktui.core.filters import TaskFilter
from tasktui.core.models import TaskRow
from tasktui.core.retry import (
    CHANGED_MEANWHILE,
    Outcome,
    RetryOutcome,
    SkipReason,
    retry_task,
    where,
)
from tasktui.core.session import Session
from tasktui.core.sql import retry as retry_sql
from tasktui.core.sql.errors import ERROR_TEXT_CHARS
from tasktui.core.sql.tasks import TaskQueries, read_task

# A bulk run retries at most this many tasks (the newest that match); more need a narrower
# filter or an explicit higher limit. The preview keeps one small record per planned task.
DEFAULT_LIMIT = 10_000
# The largest plan: ~2-3 s of the session's 5 s statement timeout on a busy 2-core server.
MAX_LIMIT = 100_000
# Matching tasks are counted up to this many, then shown as "≥ N" (the count stays bounded).
COUNT_CAP = 1_000_000
# Retries per second in a bulk run: each one wakes the workers with a NOTIFY, and every retried
# task is work that lands on the same few workers at once.
DEFAULT_RATE = 10.0
SAMPLE_SIZE = 10
# Errors are grouped over the newest this many planned tasks: looking up each task's last error
# and sending its text keeps a preview of 100k tasks within the session's statement timeout.
ERROR_SAMPLE = 10_000
# A bulk run appends its per-task outcomes to the journal in batches: at most this many tasks
# or this many seconds per line (one fsync each), so a crash loses at most one batch.
JOURNAL_BATCH = 500
JOURNAL_INTERVAL_S = 2.0


# ---------------------------------------------------------------------------------------------
# Everything a filter matches: preview


@dataclass(frozen=True)
class PlannedTask:
    message_id: str
    actor_name: str
    error: str | None  # normalised last error of the current attempt; "" none logged; None not looked up
    skip: SkipReason | None


@dataclass(frozen=True)
class GroupCount:
    key: str
    planned: int  # tasks of the plan in this group
    to_retry: int  # of which the run would retry (not skipped)


@dataclass(frozen=True)
class SampleTask:
    task: TaskRow
    error: str | None
    skip: SkipReason | None


@dataclass(frozen=True)
class BulkPreview:
    """What a bulk retry would do. The run retries exactly these planned tasks (re-checking
    each as it goes), so tasks rejected after the preview wait for the next one."""

    task_filter: TaskFilter
    database: str
    matching: int  # rejected tasks matching the filter (counted up to COUNT_CAP)
    matching_capped: bool  # True: at least `matching`
    limit: int
    tasks: tuple[PlannedTask, ...]  # the newest `limit` of them, newest first
    by_actor: tuple[GroupCount, ...]  # most planned first
    by_error: tuple[GroupCount, ...]  # of the newest `errors_analysed` tasks; key "" = no error logged
    errors_analysed: int  # how many planned tasks (the newest) `by_error` covers
    sample: tuple[SampleTask, ...]  # the newest few planned tasks, as the console shows rows
    elapsed: float  # seconds the preview took

    @property
    def to_retry(self) -> tuple[PlannedTask, ...]:
        return tuple(t for t in self.tasks if t.skip is None)

    @property
    def skipped(self) -> Counter[SkipReason]:
        return Counter(t.skip for t in self.tasks if t.skip is not None)

    @property
    def limited(self) -> bool:
        """More tasks match than this run covers."""
        return self.matching > len(self.tasks)

    def describe_matching(self) -> str:
        return f"≥ {self.matching:,}" if self.matching_capped else f"{self.matching:,}"


async def preview_bulk_retry(
    session: Session,
    task_filter: TaskFilter,
    *,
    limit: int = DEFAULT_LIMIT,
    sample_size: int = SAMPLE_SIZE,
    error_sample: int = ERROR_SAMPLE,
) -> BulkPreview:
    """Plan a retry of every rejected task that matches `task_filter` (all of them, not a
    page; the newest `limit` when more match): counts by actor and by error, the tasks to skip
    because the same work is waiting or running, and a sample. Read-only: any role that may
    see tasks may preview. Raises UserFacingError on a database problem."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT:,}")
    started = time.monotonic()
    conn = session.conn
    queries = TaskQueries.for_shape(session.shape)
    where, params = task_filter.where_sql(queries)
    params = {
        **params,
        "cap": COUNT_CAP + 1,
        "limit": limit,
        "error_sample": error_sample,
        "error_chars": ERROR_TEXT_CHARS + 1,
        "active_states": list(retry_sql.ACTIVE_STATES),
    }
    try:
        # One snapshot for the count, the plan and the sample: they agree with each other.
        async with conn.transaction():
            await conn.execute(retry_sql.SNAPSHOT)
            await conn.execute(retry_sql.PREVIEW_SETTINGS)
            matching = int(await db.fetch_value(conn, retry_sql.count_matching(queries, where), params) or 0)
            rows = await (await conn.execute(retry_sql.plan(session.shape, queries, where), params)).fetchall()
            sample_ids = [row[0] for row in rows[:sample_size]]
            sample_rows = await (await conn.execute(queries.by_ids, {"ids": sample_ids})).fetchall()
    except psycopg.Error as exc:
        raise db.user_error(exc, session.target) from None
    # Masked here, after the snapshot is released, not in SQL: see tasktui.core.error_groups.
    errors = await _error_keys({group: text for _, _, _, group, text in rows if text is not None})
    # A group without text is the tasks beyond `error_sample` (error not looked up).
    tasks = tuple(
        PlannedTask(message_id, actor, errors.get(group), SkipReason(skip) if skip else None)
        for message_id, actor, skip, group, _ in rows
    )
    by_id = {row.message_id: row for row in map(read_task, sample_rows)}
    sample = tuple(
        SampleTask(by_id[t.message_id], t.error, t.skip) for t in tasks[:sample_size] if t.message_id in by_id
    )
    return BulkPreview(
        task_filter=task_filter,
        database=session.target.label,
        matching=min(matching, COUNT_CAP),
        matching_capped=matching > COUNT_CAP,
        limit=limit,
        tasks=tasks,
        by_actor=_groups(tasks, lambda t: t.actor_name),
        by_error=_groups((t for t in tasks if t.error is not None), lambda t: t.error or ""),
        errors_analysed=sum(t.error is not None for t in tasks),
        sample=sample,
        elapsed=time.monotonic() - started,
    )


async def _error_keys(texts: Mapping[int, str]) -> dict[int, str]:
    """Each error group's key. 10,000 distinct texts take ~0.4 s of CPU, so this yields to the
    event loop now and then (the console keeps drawing)."""
    keys: dict[int, str] = {}
    for count, (group, text) in enumerate(texts.items()):
        if count and count % 500 == 0:
            await asyncio.sleep(0)
        # One character more than ERROR_TEXT_CHARS says the error went on.
        keys[group] = error_key(text[:ERROR_TEXT_CHARS], truncated=len(text) > ERROR_TEXT_CHARS)
    return keys


def _groups(tasks: Iterable[PlannedTask], key: Callable[[PlannedTask], str]) -> tuple[GroupCount, ...]:
    planned: Counter[str] = Counter()
    to_retry: Counter[str] = Counter()
    for task in tasks:
        planned[key(task)] += 1
        if task.skip is None:
            to_retry[key(task)] += 1
    return tuple(GroupCount(k, n, to_retry[k]) for k, n in sorted(planned.items(), key=lambda kv: (-kv[1], kv[0])))


# ---------------------------------------------------------------------------------------------
# Everything a filter matches: the throttled run


@dataclass(frozen=True)
class BulkProgress:
    """Reported after each task of a bulk run."""

    attempted: int  # tasks tried so far (retried or not)
    total: int  # tasks the run will try (the preview's to_retry)
    counts: Mapping[Outcome, int]  # outcomes so far, including the preview's skips
    last: RetryOutcome
    elapsed: float

    @property
    def rate(self) -> float:
        return self.attempted / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def remaining_seconds(self) -> float | None:
        rate = self.rate
        return (self.total - self.attempted) / rate if rate > 0 else None


@dataclass(frozen=True)
class BulkSummary:
    """How a bulk run ended. Every planned task is in exactly one of four counts, so that
    planned = retried + skipped + failed + not attempted."""

    run_id: str
    outcomes: tuple[RetryOutcome, ...]  # one per planned task, in plan order
    aborted: bool  # the abort event stopped it
    stopped: str | None  # a failure that stopped it (it would have repeated for every task)
    elapsed: float
    journal_error: str | None = None
    counts: Counter[Outcome] = field(default_factory=Counter)

    @property
    def planned(self) -> int:
        return len(self.outcomes)

    @property
    def retried(self) -> int:
        return self.counts[Outcome.RETRIED]

    @property
    def skipped(self) -> int:
        """Left alone on purpose, whether the preview said so or the re-check found it."""
        return self.counts[Outcome.SKIPPED]

    @property
    def skipped_by_reason(self) -> Counter[SkipReason]:
        return Counter(o.skip for o in self.outcomes if o.outcome is Outcome.SKIPPED and o.skip is not None)

    @property
    def skipped_when_rechecked(self) -> Counter[SkipReason]:
        """Skips the preview did not show: what changed between the preview and the run."""
        return Counter(
            o.skip for o in self.outcomes if o.outcome is Outcome.SKIPPED and o.rechecked and o.skip is not None
        )

    @property
    def failed(self) -> int:
        return self.counts[Outcome.FAILED]

    @property
    def not_attempted(self) -> int:
        return self.counts[Outcome.NOT_ATTEMPTED]

    @property
    def complete(self) -> bool:
        """Every planned task was retried."""
        return self.retried == len(self.outcomes)

    def headline(self) -> str:
        """How the run ended and how long it took: "Done in 3.4s", "Aborted after 0.4s"…"""
        took = timefmt.elapsed(self.elapsed)
        if self.stopped:
            return f"Stopped after {took} by a failure"
        if self.aborted:
            return f"Aborted after {took}"
        return f"Done in {took}"

    def tally(self) -> str:
        """The four counts, as the sum they make."""
        return (
            f"{self.planned:,} planned = {self.retried:,} retried + {self.skipped:,} skipped"
            f" + {self.failed:,} failed + {self.not_attempted:,} not attempted"
        )

    def describe(self) -> str:
        """One line: the headline, the tally and what stopped the run."""
        text = f"{self.headline()}: {self.tally()}"
        if self.stopped:
            text += f" (stopped: {self.stopped})"
        return text


async def run_bulk_retry(
    session: Session,
    preview: BulkPreview,
    *,
    rate: float | None = DEFAULT_RATE,
    abort: asyncio.Event | None = None,
    on_progress: Callable[[BulkProgress], None] | None = None,
    journal: Journal | None = None,
) -> BulkSummary:
    """Retry the preview's tasks, each in its own short transaction, at most `rate` per
    second (None or 0: as fast as the database allows), newest first. Setting `abort` stops
    the run after the task in flight; a failure that would repeat for every task (lost
    connection, missing privilege) stops it too. The journal gets a start line, the per-task
    outcomes in batches and an end line with the summary, even when the run is interrupted."""
    journal = journal or Journal()
    run_id = str(uuid.uuid4())
    abort = abort or asyncio.Event()
    started = time.monotonic()
    outcomes: dict[str, RetryOutcome] = {}
    counts: Counter[Outcome] = Counter()
    pending: list[RetryOutcome] = []
    journal_errors: list[str] = []
    last_flush = started

    def note(error: str | None) -> None:
        if error and not journal_errors:
            journal_errors.append(error)

    def record(outcome: RetryOutcome) -> None:
        outcomes[outcome.message_id] = outcome
        counts[outcome.outcome] += 1
        pending.append(outcome)

    def flush(*, force: bool = False) -> None:
        nonlocal last_flush
        while pending and (
            force or len(pending) >= JOURNAL_BATCH or time.monotonic() - last_flush >= JOURNAL_INTERVAL_S
        ):
            batch = pending[:JOURNAL_BATCH]
            del pending[:JOURNAL_BATCH]
            note(
                journal.append(
                    {
                        "action": "bulk_retry_tasks",
                        "run": run_id,
                        **where(session),
                        "tasks": [o.record() for o in batch],
                    }
                )
            )
            last_flush = time.monotonic()

    to_retry = preview.to_retry
    note(
        journal.append(
            {
                "action": "bulk_retry_start",
                "run": run_id,
                **where(session),
                "filter": _filter_record(preview.task_filter),
                "matching": preview.describe_matching(),
                "planned": len(preview.tasks),
                "to_retry": len(to_retry),
                "skipped": {reason.value: n for reason, n in preview.skipped.items()},
                "rate": rate or None,
            }
        )
    )
    for task in preview.tasks:
        if task.skip is not None:
            record(RetryOutcome(task.message_id, Outcome.SKIPPED, state="rejected", skip=task.skip))
    stopped: str | None = None
    attempted = 0
    next_at = started
    try:
        for task in to_retry:
            delay = next_at - time.monotonic()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(abort.wait(), delay)
            if abort.is_set():
                break
            outcome = _rechecked(await retry_task(session, task.message_id, skip_if_twin=True))
            attempted += 1
            if rate and rate > 0:
                # On a schedule, so the time a retry takes does not lower the rate; but after a
                # slow one (a lock wait) the schedule restarts from now rather than bursting
                # to catch up: never more than `rate` retries in any second.
                next_at = max(next_at + 1 / rate, time.monotonic())
            record(outcome)
            if on_progress is not None:
                on_progress(BulkProgress(attempted, len(to_retry), dict(counts), outcome, time.monotonic() - started))
            flush()
            if outcome.fatal:
                stopped = outcome.error
                break
    except BaseException as exc:
        stopped = f"interrupted ({type(exc).__name__})"
        raise
    finally:
        # Whatever stopped the run, the journal says what happened to every planned task.
        for task in to_retry:
            if task.message_id not in outcomes:
                record(RetryOutcome(task.message_id, Outcome.NOT_ATTEMPTED))
        flush(force=True)
        took = time.monotonic() - started
        aborted = abort.is_set() and stopped is None
        skipped = Counter(o.skip for o in outcomes.values() if o.outcome is Outcome.SKIPPED and o.skip is not None)
        rechecked = Counter(o.skip for o in outcomes.values() if o.rechecked and o.skip is not None)
        note(
            journal.append(
                {
                    "action": "bulk_retry_end",
                    "run": run_id,
                    **where(session),
                    "planned": len(preview.tasks),
                    "counts": {k.value: v for k, v in counts.items()},
                    # Every skip by reason, and of those the ones the preview did not show.
                    "skipped": {reason.value: n for reason, n in sorted(skipped.items())},
                    "skipped_when_rechecked": {reason.value: n for reason, n in sorted(rechecked.items())},
                    "aborted": aborted,
                    "stopped": stopped,
                    "seconds": round(took, 3),
                }
            )
        )
    return BulkSummary(
        run_id=run_id,
        outcomes=tuple(outcomes[t.message_id] for t in preview.tasks),
        aborted=aborted,
        stopped=stopped,
        elapsed=took,
        journal_error=journal_errors[0] if journal_errors else None,
        counts=counts,
    )


def _rechecked(outcome: RetryOutcome) -> RetryOutcome:
    """A bulk run's view of a re-checked task: anything that is neither retried nor failed was
    left alone for a reason (SKIPPED with a SkipReason), found only now."""
    if outcome.outcome is Outcome.SKIPPED:
        return replace(outcome, rechecked=True)
    changed = CHANGED_MEANWHILE.get(outcome.outcome)
    if changed is None:
        return outcome
    return replace(outcome, outcome=Outcome.SKIPPED, skip=changed, error=None, rechecked=True)


def _filter_record(task_filter: TaskFilter) -> dict[str, Any]:
    """The filter as the journal keeps it: every field (sets sorted) plus its description."""
    record: dict[str, Any] = {}
    for item in fields(task_filter):
        value = getattr(task_filter, item.name)
        record[item.name] = sorted(value) if isinstance(value, frozenset) else value
    record["description"] = task_filter.describe()
    return record
