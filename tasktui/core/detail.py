"""One task in full: its fields and decoded blobs (its log lines are tasktui.core.logs).

* `parse_message_id(text)` / `parse_id_or_prefix(text)` — normalise a user-typed id (raises
  InvalidMessageId); `resolve_message_id(session, text)` — the one task a prefix names;
* `load_detail(session, message_id) -> TaskDetail | None` — fields, decoded message and result,
  log counts; no log lines (a task may have 100,000 of them).

All text here is untrusted: display it through tasktui.core.text.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from tasktui.core import safe_pickle
from tasktui.core.models import TaskRow
from tasktui.core.session import Session
from tasktui.core.shape import TableShape
from tasktui.core.sql import detail as detail_sql
from tasktui.core.sql.tasks import TaskQueries, read_task
from tasktui.errors import UserFacingError

# Counting stops here: a count is exact below it, "at least" at it.
COUNT_CAP = 1_000_000


class InvalidMessageId(UserFacingError):
    """The text is not a task message id (a UUID)."""

    exit_code = 2


class TaskNotFound(UserFacingError):
    """No task has this message id."""


class AmbiguousMessageId(UserFacingError):
    """Several tasks' message ids start with the prefix given."""

    exit_code = 2


# A message id may be given by its first characters (as the table shows them), from this many.
MIN_PREFIX = 8
PREFIX_MATCHES_SHOWN = 5


def parse_id_or_prefix(text: str) -> str:
    """A whole message id in canonical form, or the lower-case hex digits of a prefix of one
    (at least MIN_PREFIX of them; hyphens ignored). Raises InvalidMessageId for anything else."""
    cleaned = text.strip()
    digits = cleaned.replace("-", "").lower()
    if len(digits) < 32 and all(c in "0123456789abcdef" for c in digits):
        if len(digits) >= MIN_PREFIX:
            return digits
        raise InvalidMessageId(
            f"a message id prefix needs at least {MIN_PREFIX} hex digits: {cleaned!r} has {len(digits)}"
        )
    return parse_message_id(cleaned)


async def resolve_message_id(session: Session, text: str) -> str:
    """The message id of the one task that `text` names, whole or by a prefix. One rule for every
    command that takes ids (`show`, `xray`, `retry`): an id no task has is not found whether it
    was given whole or as a prefix (TaskNotFound, exit 1, before anything is done), and a prefix
    several ids start with is ambiguous (AmbiguousMessageId, listing some). One primary-key range
    scan, LIMIT-bounded."""
    given = parse_id_or_prefix(text)
    whole = len(given) == 36
    low = given if whole else str(uuid.UUID(given.ljust(32, "0")))
    high = given if whole else str(uuid.UUID(given.ljust(32, "f")))
    params = {"low": low, "high": high, "limit": PREFIX_MATCHES_SHOWN + 1}
    rows = await (await session.conn.execute(detail_sql.MESSAGE_IDS_IN_RANGE, params)).fetchall()
    if not rows:
        if whole:
            raise TaskNotFound(f"no task with message id {given} on {session.label}")
        raise TaskNotFound(f"no task whose message id starts with {given} on {session.label}")
    if len(rows) > 1:
        shown = ", ".join(f"{mid} ({actor})" for mid, actor in rows[:PREFIX_MATCHES_SHOWN])
        more = " and more" if len(rows) > PREFIX_MATCHES_SHOWN else ""
        raise AmbiguousMessageId(f"several tasks' message ids start with {given}: {shown}{more}; give more digits")
    return str(rows[0][0])


def parse_message_id(text: str) -> str:
    """The canonical form of a message id (a UUID, with or without hyphens or braces)."""
    cleaned = text.strip()
    try:
        return str(uuid.UUID(cleaned))
    except ValueError:
        shown = cleaned if len(cleaned) <= 60 else cleaned[:59] + "…"
        raise InvalidMessageId(
            f"not a task message id: {shown!r} (expected a UUID such as 3f2b8c1e-9a4d-4c6e-8f10-2b7d5e9a0c41)"
        ) from None


@dataclass(frozen=True)
class LogCounts:
    """How many log lines a task has, by attempt and by where they are stored."""

    tasklog_current: int
    tasklog_previous: int
    legacy_current: int
    legacy_previous: int

    @property
    def current(self) -> int:
        return self.tasklog_current + self.legacy_current

    @property
    def previous(self) -> int:
        return self.tasklog_previous + self.legacy_previous

    @property
    def total(self) -> int:
        return self.current + self.previous

    @property
    def capped(self) -> bool:
        """True when a count stopped at COUNT_CAP (there are at least that many)."""
        return COUNT_CAP + 1 in (self.tasklog_current, self.tasklog_previous)


@dataclass(frozen=True)
class TaskDetail:
    """Everything about one task except its log lines (see fetch_logs)."""

    task: TaskRow
    message: safe_pickle.DecodedMessage
    result: safe_pickle.DecodedResult
    log_counts: LogCounts
    shape: TableShape

    @property
    def message_id(self) -> str:
        return self.task.message_id

    @property
    def actor_name(self) -> str:
        return self.task.actor_name

    @property
    def uid(self) -> str | None:
        return self.task.uid

    @property
    def queue_name(self) -> str:
        return self.task.queue_name

    @property
    def tenant(self) -> str | None:
        """The tenant's name, else its uuid (None on layouts without tenants)."""
        return self.task.tenant_name or self.task.tenant_id

    @property
    def related(self) -> str | None:
        """The related object as `app_label.model:object id`, when there is one."""
        return self.task.related

    @property
    def state(self) -> str:
        return self.task.state

    @property
    def aggregated_status(self) -> str:
        return self.task.aggregated_status

    @property
    def effective_status(self) -> str:
        return self.task.effective_status

    @property
    def retries(self) -> int | None:
        return self.task.retries

    @property
    def eta(self) -> datetime | None:
        return self.task.eta

    @property
    def last_change(self) -> datetime:
        return self.task.mtime

    @property
    def result_expiry(self) -> datetime | None:
        return self.task.result_expiry


async def load_detail(session: Session, message_id: str) -> TaskDetail | None:
    """The task with this message id (None if there is none); raises InvalidMessageId for text
    that is not a UUID. Three small indexed queries; blobs only when small enough to decode."""
    message_id = parse_message_id(message_id)
    conn = session.conn
    queries = TaskQueries.for_shape(session.shape)
    row = await (await conn.execute(queries.by_ids, {"ids": [message_id]})).fetchone()
    if row is None:
        return None
    task = read_task(row)
    blobs = await (
        await conn.execute(detail_sql.TASK_BLOBS, {"message_id": message_id, "max_blob": safe_pickle.MAX_BLOB_BYTES})
    ).fetchone()
    message_size, message, result_size, result = blobs if blobs else (None, None, None, None)
    return TaskDetail(
        task=task,
        message=safe_pickle.decode_message(message, message_size),
        result=safe_pickle.decode_result(result, result_size),
        log_counts=await count_logs(session, message_id),
        shape=session.shape,
    )


async def count_logs(session: Session, message_id: str) -> LogCounts:
    params = {"message_id": parse_message_id(message_id), "cap": COUNT_CAP}
    row = await (await session.conn.execute(detail_sql.log_counts(session.shape), params)).fetchone()
    values = [int(v or 0) for v in row] if row else [0, 0, 0, 0]
    return LogCounts(*values)
