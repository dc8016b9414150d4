"""Retrying rejected tasks, safely: one task or an explicit selection (bulk runs over a filter
are tasktui.core.bulk_retry, built on these).

* `retry_capability(session)` — may this role retry at all? (else the console goes read-only)
* `retry_task(session, message_id)` — one guarded retry in one short transaction (not journaled)
* `retry_selected(session, ids)` — explicit tasks (one, or a selection), journaled as one action

Give these a session of their own (`open_session(target)`): a retry is a transaction on the
session's connection, and queries that other coroutines sent on that connection in the
meantime would run inside it. A connection must be idle (autocommit, no open transaction).

Nothing here is ever half done: each task is retried in one transaction that either commits
whole or rolls back, and every outcome says which. Do not cancel a retry in flight (a cancel
that lands during COMMIT leaves its outcome unknown).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg import pq
from psycopg.types.json import Jsonb

from tasktui.core import db, safe_pickle
from tasktui.core.audit import Journal
from tasktui.core.session import Session, has_table_privilege
from tasktui.core.shape import TASK_TABLE, TASKLOG_TABLE
from tasktui.core.sql import catalog
from tasktui.core.sql import retry as retry_sql


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
CHANGED_MEANWHILE = {
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
            now = f", now {self.state}" if self.state and self.skip in CHANGED_MEANWHILE.values() else ""
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
        needed: list[tuple[str, tuple[str, ...]]] = [(TASK_TABLE, ("SELECT", "UPDATE"))]
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
            **where(session),
            "tasks": [o.record() for o in outcomes],
        }
    )
    return SelectionResult(tuple(outcomes), journal_error)


def where(session: Session) -> dict[str, str]:
    return {"database": session.target.label, "connected_as": session.label}


NO_ERROR_LOGGED = "(no error logged)"
