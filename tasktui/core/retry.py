"""Retrying rejected tasks, safely: one task, a selection, or everything a filter matches.

What the console and `tasktui retry` call:

* `retry_capability(session)` — may this role retry at all? (else the console goes read-only)
* `retry_task(session, message_id)` — one guarded retry in one short transaction (not journaled)
* `retry_selected(session, ids)` — explicit tasks (one, or a selection), journaled as one action
* `preview_bulk_retry(session, task_filter)` — what a bulk retry would do, before doing it
* `run_bulk_retry(session, preview, rate=…, abort=…, on_progress=…)` — do it, throttled

Give these a session of their own (`open_session(target)`): a retry is a transaction on the
session's connection, and queries that other coroutines sent on that connection in the
meantime would run inside it. A connection must be idle (autocommit, no open transaction).

Nothing here is ever half done: each task is retried in one transaction that either commits
whole or rolls back, and every outcome says which. Do not cancel a retry in flight (a cancel
that lands during COMMIT leaves its outcome unknown); stop a bulk run with its abort event,
which takes effect between two tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg import pq
from psycopg.types.json import Jsonb

from tasktui.core import db, safe_pickle, timefmt
from tasktui.core.audit import Journal
from tasktui.core.error_groups import error_key
from tasktui.core.filters import TaskFilter
from tasktui.core.models import TaskRow
from tasktui.core.session import TASK_TABLE, TASKLOG_TABLE, Session, has_table_privilege
from tasktui.core.sql import catalog
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


class Outcome(StrEnum):
    RETRIED = "retried"
    # Explicit tasks only (a bulk run reports these three as SKIPPED, with a SkipReason):
    NOT_FOUND = "not_found"
    NOT_RETRYABLE = "not_retryable"  # never rejected in its current attempt (running, done, …)
    ALREADY_RETRIED = "already_retried"  # someone (another console, authentik) retried it first
    SKIPPED = "skipped"  # bulk only: left alone on purpose; `skip` says why
    FAILED = "failed"  # nothing changed (unless `uncertain`)
    NOT_ATTEMPTED = "not_attempted"  # a bulk run was aborted or stopped before this task


class SkipReason(StrEnum):
    # Known at the preview, or found when the run re-checks the task:
    ACTIVE_TWIN = "active_twin"  # a task with the same actor, uid and tenant is queued or running
    OLDER_DUPLICATE = "older_duplicate"  # a newer rejected task of the same actor and uid is retried instead
    # The task changed between the preview and the run (found when re-checked):
    ALREADY_RETRIED = "already_retried"  # someone (another console, authentik) retried it first
    NO_LONGER_REJECTED = "no_longer_rejected"  # in another state now, not through a retry
    NOT_FOUND = "not_found"  # deleted meanwhile


SKIP_TEXT = {
    SkipReason.ACTIVE_TWIN: "the same actor and uid is already queued or running",
    SkipReason.OLDER_DUPLICATE: "a newer rejected task of the same actor and uid is retried instead",
    SkipReason.ALREADY_RETRIED: "changed meanwhile: already retried by someone else",
    SkipReason.NO_LONGER_REJECTED: "changed meanwhile: no longer rejected",
    SkipReason.NOT_FOUND: "changed meanwhile: not found (deleted)",
}

# What a re-check found, for a task the preview planned to retry.
_CHANGED = {
    Outcome.ALREADY_RETRIED: SkipReason.ALREADY_RETRIED,
    Outcome.NOT_RETRYABLE: SkipReason.NO_LONGER_REJECTED,
    Outcome.NOT_FOUND: SkipReason.NOT_FOUND,
}


@dataclass(frozen=True)
class RetryOutcome:
    message_id: str
    outcome: Outcome
    state: str | None = None  # the task's state now, when it was not retried
    error: str | None = None  # FAILED: one line for a person
    fatal: bool = False  # FAILED: nothing more can be retried on this session (a bulk run stops)
    uncertain: bool = False  # FAILED while committing: the retry may have been applied
    skip: SkipReason | None = None
    twin_id: str | None = None  # SKIPPED for ACTIVE_TWIN: the task already waiting or running
    rechecked: bool = False  # SKIPPED: found when the run re-checked the task (not in the preview)

    @property
    def retried(self) -> bool:
        return self.outcome is Outcome.RETRIED

    def describe(self) -> str:
        if self.outcome is Outcome.RETRIED:
            return "retried"
        if self.outcome is Outcome.NOT_FOUND:
            return f"not found ({self.error})" if self.error else "not found"
        if self.outcome is Outcome.NOT_RETRYABLE:
            return f"not retryable (state {self.state}; only rejected tasks are retried)"
        if self.outcome is Outcome.ALREADY_RETRIED:
            return f"already retried (now {self.state})"
        if self.outcome is Outcome.SKIPPED:
            reason = SKIP_TEXT[self.skip] if self.skip else "skipped"
            twin = f": {self.twin_id}" if self.twin_id else ""
            now = f", now {self.state}" if self.state and self.skip in _CHANGED.values() else ""
            when = " when re-checked" if self.rechecked else ""
            return f"skipped{when} ({reason}{twin}{now})"
        if self.outcome is Outcome.NOT_ATTEMPTED:
            return "not attempted"
        return f"failed: {self.error}"

    def record(self) -> dict[str, Any]:
        """The journal's entry for this task (no empty fields): its outcome and, when skipped,
        why and when (`skipped_at`: "preview", or "run" when the re-check found it)."""
        entry: dict[str, Any] = {"id": self.message_id, "outcome": self.outcome.value}
        for key, value in (("state", self.state), ("error", self.error), ("skip", self.skip), ("twin", self.twin_id)):
            if value is not None:
                entry[key] = str(value)
        if self.outcome is Outcome.SKIPPED:
            entry["skipped_at"] = "run" if self.rechecked else "preview"
        if self.uncertain:
            entry["uncertain"] = True
        return entry


# ---------------------------------------------------------------------------------------------
# May this session retry?


async def retry_capability(session: Session) -> tuple[bool, str]:
    """(allowed, reason): whether this role may retry tasks here, and a sentence saying why
    not (or who may). Checks table privileges (SELECT+UPDATE on the task table, SELECT+INSERT+
    UPDATE on the task log table when there is one) and that the server accepts writes."""
    conn = session.conn
    try:
        role = await db.fetch_value(conn, catalog.CURRENT_ROLE)
        if await db.fetch_value(conn, retry_sql.SERVER_READ_ONLY):
            return False, f"{session.label} accepts no writes (a standby, or default_transaction_read_only is on)"
        needed = [(TASK_TABLE, ("SELECT", "UPDATE"))]
        if session.shape.has_tasklog:
            needed.append((TASKLOG_TABLE, ("SELECT", "INSERT", "UPDATE")))
        lacking = []
        for table, privileges in needed:
            missing = [p for p in privileges if not await has_table_privilege(conn, table, p)]
            if missing:
                lacking.append(f"{', '.join(missing)} on {table}")
    except psycopg.Error as exc:
        return False, f"cannot check retry privileges: {db.user_error(exc, session.target)}"
    if lacking:
        return False, f"role {role!r} lacks {' and '.join(lacking)}, needed to retry tasks"
    return True, f"role {role!r} may retry tasks"


# ---------------------------------------------------------------------------------------------
# One task


async def retry_task(session: Session, message_id: str, *, skip_if_twin: bool = False) -> RetryOutcome:
    """Retry one rejected task as authentik's retry does, in one transaction; never raises for
    a database problem (the outcome says what happened). With `skip_if_twin` (bulk runs) a
    task whose actor and uid are already queued or running is left alone (SKIPPED)."""
    try:
        message_id = str(uuid.UUID(str(message_id)))
    except ValueError:
        return RetryOutcome(message_id, Outcome.NOT_FOUND, error="not a UUID")
    conn = session.conn
    if conn.closed:
        return RetryOutcome(message_id, Outcome.FAILED, error="the connection is closed", fatal=True)
    if conn.info.transaction_status != pq.TransactionStatus.IDLE:
        # Our COMMIT would only release a savepoint of someone else's transaction.
        return RetryOutcome(
            message_id, Outcome.FAILED, error="the connection is inside another transaction", fatal=True
        )
    shape = session.shape
    params = {
        "message_id": message_id,
        "active_states": list(retry_sql.ACTIVE_STATES),
        "event": retry_sql.RETRY_EVENT,
        "logger": retry_sql.MIDDLEWARE_LOGGER,
        "retries": None,
        "max_bytes": safe_pickle.MAX_BLOB_BYTES,
    }
    matched = False
    diagnosis: tuple[Any, ...] | None = None
    committing = False
    try:
        async with conn.transaction():
            await conn.execute(retry_sql.RETRY_LOCK_TIMEOUT)
            twin_lock = retry_sql.twin_lock(shape) if skip_if_twin else None
            if twin_lock is not None:
                await conn.execute(twin_lock, params)
            if shape.has_retries:
                row = await (await conn.execute(retry_sql.REJECTED_MESSAGE, params)).fetchone()
                params["retries"] = retry_count(row[0]) if row else None
            cursor = await conn.execute(retry_sql.guarded_retry(shape, skip_if_twin=skip_if_twin), params)
            matched = await cursor.fetchone() is not None
            if not matched:
                diagnosis = await (await conn.execute(retry_sql.diagnose(shape), params)).fetchone()
            elif shape.has_tasklog:
                await conn.execute(retry_sql.MARK_LOGS_PREVIOUS, {"task_id": message_id})
                await conn.execute(
                    retry_sql.INSERT_LOG,
                    {
                        "event": retry_sql.RETRY_EVENT,
                        "level": "info",
                        "logger": retry_sql.MIDDLEWARE_LOGGER,
                        "attributes": Jsonb({"delay": None}),
                        "task_id": message_id,
                    },
                )
            committing = matched  # leaving the block commits (and authentik's NOTIFY fires)
    except psycopg.Error as exc:
        return _failure(session, message_id, exc, committing=committing)
    if matched:
        return RetryOutcome(message_id, Outcome.RETRIED)
    return _diagnosed(message_id, diagnosis)


def retry_count(message: bytes | memoryview | None) -> int | None:
    """The `retries` authentik's retry writes for a rejected task with this message: its
    `options["retries"]`, or 0 without one, as its broker's `model_defaults` reads them. None
    (keep the column) when the message cannot be decoded or holds no count that fits the column.
    Decoded without running anything (tasktui.core.safe_pickle)."""
    decoded = safe_pickle.decode_message(message)
    if not decoded.is_message:
        return None
    count = decoded.options.get("retries", 0)
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count < 2**63:
        return None
    return count


def _diagnosed(message_id: str, row: tuple[Any, ...] | None) -> RetryOutcome:
    if row is None:
        return RetryOutcome(message_id, Outcome.NOT_FOUND)
    state, retried_before, twin_id = row
    if state == "rejected" and twin_id is not None:
        return RetryOutcome(message_id, Outcome.SKIPPED, state=state, skip=SkipReason.ACTIVE_TWIN, twin_id=twin_id)
    if retried_before:
        # Another console (or authentik's own retry) got there first; the task may even have
        # run and finished since, which is still "already retried".
        return RetryOutcome(message_id, Outcome.ALREADY_RETRIED, state=state)
    if state == "rejected":
        # Rejected, yet the guarded update missed it: it changed and changed back meanwhile.
        return RetryOutcome(message_id, Outcome.FAILED, state=state, error="the task changed meanwhile; try again")
    return RetryOutcome(message_id, Outcome.NOT_RETRYABLE, state=state)


def _failure(session: Session, message_id: str, exc: psycopg.Error, *, committing: bool) -> RetryOutcome:
    text = str(db.user_error(exc, session.target))
    if isinstance(exc, pg_errors.LockNotAvailable):
        return RetryOutcome(
            message_id,
            Outcome.FAILED,
            error="another transaction holds the task row; nothing changed, try again",
        )
    if isinstance(exc, pg_errors.InsufficientPrivilege | pg_errors.ReadOnlySqlTransaction):
        return RetryOutcome(message_id, Outcome.FAILED, error=f"{text}; nothing changed", fatal=True)
    if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError) or session.conn.closed:
        if committing:
            return RetryOutcome(
                message_id,
                Outcome.FAILED,
                error=f"the connection was lost while committing, so the retry may have been applied: {text}",
                fatal=True,
                uncertain=True,
            )
        return RetryOutcome(message_id, Outcome.FAILED, error=f"{text}; nothing changed", fatal=True)
    return RetryOutcome(message_id, Outcome.FAILED, error=f"{text}; nothing changed")


# ---------------------------------------------------------------------------------------------
# Explicit tasks (the console's selection, `tasktui retry ID…`)


@dataclass(frozen=True)
class SelectionResult:
    outcomes: tuple[RetryOutcome, ...]
    journal_error: str | None

    @property
    def all_retried(self) -> bool:
        return all(o.retried for o in self.outcomes)


async def retry_selected(
    session: Session, message_ids: Sequence[str], *, journal: Journal | None = None
) -> SelectionResult:
    """Retry these tasks one transaction each (stopping at a failure that would repeat for
    every task, such as a lost connection), and journal the action as one line."""
    outcomes: list[RetryOutcome] = []
    stopped = False
    for message_id in message_ids:
        if stopped:
            outcomes.append(RetryOutcome(str(message_id), Outcome.NOT_ATTEMPTED))
            continue
        outcome = await retry_task(session, message_id)
        outcomes.append(outcome)
        stopped = outcome.fatal
    journal_error = (journal or Journal()).append(
        {
            "action": "retry",
            **_where(session),
            "tasks": [o.record() for o in outcomes],
        }
    )
    return SelectionResult(tuple(outcomes), journal_error)


def _where(session: Session) -> dict[str, str]:
    return {"database": session.target.label, "connected_as": session.label}


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


NO_ERROR_LOGGED = "(no error logged)"


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
            matching = int(await db.fetch_value(conn, retry_sql.count_matching(queries, where), params) or 0)  # type: ignore[call-overload]
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
                        **_where(session),
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
                **_where(session),
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
                    **_where(session),
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
    changed = _CHANGED.get(outcome.outcome)
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
