"""One task in full: its fields, decoded blobs, and its logs a bounded page at a time.

The UI and `tasktui show` call only this module:

* `parse_message_id(text)` — normalise a user-typed id (raises InvalidMessageId);
* `load_detail(session, message_id) -> TaskDetail | None` — fields, decoded message and result,
  log counts; no log lines (a task may have 100,000 of them);
* `fetch_logs(session, message_id, previous=…, cursor=…, backward=…, limit=…) -> LogPage` — one
  keyset page ordered by timestamp, merged from the task log table and 2025.8's JSON lists;
* `find_problem(session, message_id, previous=…, cursor=…, backward=…) -> LogLine | None` — the
  next (or previous) error or warning line past a cursor, with one LIMIT 1 keyset query per
  source, however long the log;
* `fetch_around(session, message_id, line, previous=…) -> LogWindow` — the pages on both sides of
  one line, to show it in context;
* `load_attributes(session, line, name=None) -> AttributesValue` — one line's attributes (or one
  key of them, e.g. "exception") on demand, when they were too large to come with the page;
* `format_exception(value) -> list[str]` — structlog's exception dicts as traceback lines.

All text here is untrusted: display it through tasktui.core.text.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tasktui.core import safe_pickle
from tasktui.core.models import TaskRow
from tasktui.core.session import Session, TableShape
from tasktui.core.sql import detail as detail_sql
from tasktui.core.sql.tasks import TaskQueries, read_task
from tasktui.core.status import ERROR_LEVELS, LEVEL_SEVERITY
from tasktui.core.text import lines_of
from tasktui.errors import UserFacingError

# Page sizes: a screenful to a few screens. Larger requests are clamped.
DEFAULT_PAGE = 200
MAX_PAGE = 1000
# A log event longer than this comes truncated (its full size is reported).
EVENT_CHARS = 4000
# Attributes come inline with a page only when their stored size is at most GATE bytes (no
# detoasting of anything larger) and their JSON text at most INLINE bytes.
ATTRIBUTES_GATE = 4096
ATTRIBUTES_INLINE = 16384
# On demand, at most this many characters of one line's attributes.
ATTRIBUTES_ON_DEMAND = 1_000_000
# Counting stops here: a count is exact below it, "at least" at it.
COUNT_CAP = 1_000_000
# Levels a jump stops at: warnings and worse, as the status severity ranks them (so a jump finds
# exactly the lines that make a finished task show Warning or Error).
PROBLEM_LEVELS = frozenset(level for level, severity in LEVEL_SEVERITY.items() if severity >= 2)


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


# --- log lines ------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class LogCursor:
    """A position in a task's log order: (timestamp, source, id, ordinal). Opaque to callers;
    pass a line's cursor back to fetch the page after (or before) it."""

    sort_ts: tuple[int, datetime]  # (0, min) for a timestamp that could not be read
    source: int
    log_id: uuid.UUID
    ordinal: int

    @property
    def timestamp(self) -> datetime | None:
        return self.sort_ts[1] if self.sort_ts[0] else None

    def params(self) -> dict[str, Any]:
        return {
            "has_cursor": True,
            "c_ts": self.timestamp,
            "c_src": self.source,
            "c_tid": self.log_id,
            "c_ord": self.ordinal,
        }


_NO_CURSOR = {"has_cursor": False, "c_ts": None, "c_src": 0, "c_tid": detail_sql.NIL_UUID, "c_ord": 0}
_MIN_TS = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class LogLine:
    """One log line. `event` may be truncated (event_truncated); `attributes` is None when they
    were too large to come with the page (attributes_inline False): call load_attributes."""

    task_id: str
    cursor: LogCursor
    previous: bool
    timestamp: datetime | None
    timestamp_text: str | None  # legacy lines: the stored text, shown when it cannot be read
    level: str
    logger: str
    event: str
    event_bytes: int
    attributes: dict[str, Any] | None
    attributes_bytes: int | None  # exact size of the JSON text, when known
    attributes_stored_bytes: int  # size on disk (compressed); known for every line

    @property
    def legacy(self) -> bool:
        """Stored in the task's `_messages` / `_previous_messages` JSON (authentik 2025.8)."""
        return self.cursor.source != detail_sql.SOURCE_TASKLOG

    @property
    def event_truncated(self) -> bool:
        return len(self.event.encode("utf-8", "surrogatepass")) < self.event_bytes

    @property
    def attributes_inline(self) -> bool:
        return self.attributes is not None

    @property
    def is_problem(self) -> bool:
        """An error or a warning: a line that find_problem stops at."""
        return self.level.lower() in PROBLEM_LEVELS

    @property
    def attributes_size(self) -> int:
        """Best known size in bytes: exact when measured, else the stored size."""
        return self.attributes_bytes if self.attributes_bytes is not None else self.attributes_stored_bytes

    @property
    def exception(self) -> Any:
        """structlog's exception value from inline attributes (None if absent or not inline)."""
        return (self.attributes or {}).get("exception")

    @property
    def attributes_without_exception(self) -> dict[str, Any]:
        return {k: v for k, v in (self.attributes or {}).items() if k != "exception"}


@dataclass(frozen=True)
class LogPage:
    """At most `limit` lines in log order, and whether more lines lie beyond them in the
    direction that was asked for."""

    lines: list[LogLine]
    has_more: bool
    backward: bool

    @property
    def first_cursor(self) -> LogCursor | None:
        return self.lines[0].cursor if self.lines else None

    @property
    def last_cursor(self) -> LogCursor | None:
        return self.lines[-1].cursor if self.lines else None


async def fetch_logs(
    session: Session,
    message_id: str,
    *,
    previous: bool | None = False,
    cursor: LogCursor | None = None,
    backward: bool = False,
    limit: int = DEFAULT_PAGE,
) -> LogPage:
    """One page of log lines: `previous` False = current attempt, True = earlier attempts, None
    = both. Forward from the start (or after `cursor`); with `backward`, the page ending just
    before `cursor` (or the last page). Lines are always returned oldest first."""
    message_id = parse_message_id(message_id)
    limit = max(1, min(limit, MAX_PAGE))
    # One extra line tells whether there is more.
    lines = await _fetch_lines(session, message_id, previous, cursor, backward, limit + 1)
    has_more = len(lines) > limit
    lines = lines[:limit]
    if backward:
        lines.reverse()
    return LogPage(lines=lines, has_more=has_more, backward=backward)


async def _fetch_lines(
    session: Session,
    message_id: str,
    previous: bool | None,
    cursor: LogCursor | None,
    backward: bool,
    limit: int,
    *,
    problems: bool = False,
) -> list[LogLine]:
    """The first `limit` lines past `cursor` in the direction asked for (nearest first), from
    every source of the layout; with `problems`, only errors and warnings."""
    params: dict[str, Any] = {
        "message_id": message_id,
        "limit": limit,
        "event_chars": EVENT_CHARS,
        "gate": ATTRIBUTES_GATE,
        "inline": ATTRIBUTES_INLINE,
        "levels": sorted(PROBLEM_LEVELS),
        **(cursor.params() if cursor else _NO_CURSOR),
    }
    shape = session.shape
    statements = []
    if shape.has_tasklog:
        statements.append(detail_sql.tasklog_page(previous=previous, descending=backward, problems=problems))
    legacy = detail_sql.legacy_page(shape, previous=previous, descending=backward, problems=problems)
    if legacy is not None:
        statements.append(legacy)
    lines: list[LogLine] = []
    for statement in statements:
        rows = await (await session.conn.execute(statement, params)).fetchall()  # type: ignore[arg-type]
        lines.extend(_read_line(message_id, row) for row in rows)
    # Each source gave its first `limit` lines past the cursor; merged, the first `limit` of the
    # union are exactly the union's next lines (a keyset merge).
    lines.sort(key=lambda line: line.cursor, reverse=backward)
    return lines[:limit]


async def find_problem(
    session: Session,
    message_id: str,
    *,
    previous: bool | None = False,
    cursor: LogCursor | None = None,
    backward: bool = False,
) -> LogLine | None:
    """The first error or warning line after `cursor` (with `backward`, the last one before it;
    without a cursor, from the start or the end), or None when there is none. One keyset query
    with LIMIT 1 per source, ordered by the pages' key, so the line found can be paged around."""
    lines = await _fetch_lines(session, parse_message_id(message_id), previous, cursor, backward, 1, problems=True)
    return lines[0] if lines else None


@dataclass(frozen=True)
class LogWindow:
    """Consecutive lines in log order around one of them (`lines[index]`), and whether more lines
    lie before and after them."""

    lines: list[LogLine]
    index: int
    has_before: bool
    has_after: bool


async def fetch_around(
    session: Session,
    message_id: str,
    line: LogLine,
    *,
    previous: bool | None = False,
    limit: int = DEFAULT_PAGE,
) -> LogWindow:
    """About `limit` lines (at least 3) with `line` in the middle: a page back from it and a page
    on from it (the same keyset pages as scrolling fetches, so the window joins up with them)."""
    half = max(1, (min(limit, MAX_PAGE) - 1) // 2)
    before = await fetch_logs(session, message_id, previous=previous, cursor=line.cursor, backward=True, limit=half)
    after = await fetch_logs(session, message_id, previous=previous, cursor=line.cursor, limit=half)
    return LogWindow(
        lines=[*before.lines, line, *after.lines],
        index=len(before.lines),
        has_before=before.has_more,
        has_after=after.has_more,
    )


def _read_line(task_id: str, row: tuple[Any, ...]) -> LogLine:
    (
        ts, source, log_id, ordinal, previous, ts_text, level, logger, event, event_bytes,
        attributes_text, attributes_bytes, stored_bytes,
    ) = row  # fmt: skip
    attributes = None
    if attributes_text is not None:
        parsed = json.loads(attributes_text)
        # authentik always stores a dict; anything else is shown under one key.
        attributes = parsed if isinstance(parsed, dict) else {"value": parsed}
    return LogLine(
        task_id=task_id,
        cursor=LogCursor((1, ts) if ts is not None else (0, _MIN_TS), source, log_id, ordinal),
        previous=bool(previous),
        timestamp=ts,
        timestamp_text=ts_text,
        level=level or "",
        logger=logger or "",
        event=event or "",
        event_bytes=event_bytes or 0,
        attributes=attributes,
        attributes_bytes=attributes_bytes,
        attributes_stored_bytes=stored_bytes or 0,
    )


@dataclass(frozen=True)
class AttributesValue:
    """A line's attributes (or one key of them) fetched on demand: the parsed value when the
    whole JSON text fit in the limit, else only the first characters of that text."""

    size: int  # bytes of the full JSON text (0 when absent)
    text: str  # the JSON text, possibly truncated
    value: Any  # parsed, when complete
    complete: bool
    present: bool


async def load_attributes(
    session: Session, line: LogLine, *, name: str | None = None, max_chars: int = ATTRIBUTES_ON_DEMAND
) -> AttributesValue:
    """Fetch one line's attributes — or only attributes[name], e.g. "exception" — bounded by
    `max_chars` characters of JSON text."""
    params: dict[str, Any] = {"message_id": line.task_id, "name": name, "max_chars": max(1, max_chars)}
    if line.legacy:
        column = "_previous_messages" if line.cursor.source == detail_sql.SOURCE_LEGACY_PREVIOUS else "_messages"
        statement = detail_sql.legacy_attributes(column)
        params["ordinal"] = line.cursor.ordinal
    else:
        statement = detail_sql.TASKLOG_ATTRIBUTES
        params["log_id"] = line.cursor.log_id
    row = await (await session.conn.execute(statement, params)).fetchone()  # type: ignore[arg-type]
    if row is None or row[1] is None:
        return AttributesValue(size=0, text="", value=None, complete=True, present=False)
    size, text = int(row[0]), row[1]
    complete = len(text.encode("utf-8", "surrogatepass")) >= size
    return AttributesValue(
        size=size, text=text, value=json.loads(text) if complete else None, complete=complete, present=True
    )


def wants_exception(line: LogLine) -> bool:
    """Whether to look for an exception: inline attributes tell at once; attributes too large
    to come with the page are worth a (bounded) fetch for error-level lines only."""
    return line.attributes_inline or line.level.lower() in ERROR_LEVELS


async def exception_of(session: Session, line: LogLine) -> Any:
    """The line's structlog exception value, fetching it if the attributes were not inline
    (None when there is none, or when it is too large to parse)."""
    if line.attributes_inline:
        return line.exception
    fetched = await load_attributes(session, line, name="exception")
    return fetched.value if fetched.complete else None


# --- exceptions as tracebacks -------------------------------------------------------------------

_CAUSE = "The above exception was the direct cause of the following exception:"
_CONTEXT = "During handling of the above exception, another exception occurred:"
MAX_FRAMES_SHOWN = 60


def format_exception(value: Any) -> list[str]:
    """Lines like Python's traceback for structlog's ExceptionDictTransformer output: a list of
    stacks, raised exception first, each followed by its __cause__ (is_cause) or __context__;
    printed in Python's order (root cause first). Strings (format_exc_info) pass through."""
    if value is None:
        return []
    if isinstance(value, str):
        return lines_of(value)
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        return [json.dumps(value, default=str)]
    stacks = [s for s in value if isinstance(s, dict)]
    lines: list[str] = []
    for index in range(len(stacks) - 1, -1, -1):
        stack = stacks[index]
        lines.extend(_format_stack(stack))
        if index > 0:
            lines += ["", _CAUSE if stack.get("is_cause") else _CONTEXT, ""]
    return lines


def _format_stack(stack: dict[str, Any]) -> list[str]:
    lines = []
    frames = stack.get("frames")
    if isinstance(frames, list) and frames:
        lines.append("Traceback (most recent call last):")
        shown = frames if len(frames) <= MAX_FRAMES_SHOWN else [*frames[:20], None, *frames[20 - MAX_FRAMES_SHOWN :]]
        for frame in shown:
            if frame is None:
                lines.append(f"  ... {len(frames) - MAX_FRAMES_SHOWN} more frames ...")
                continue
            lines.extend(_format_frame(frame))
    syntax = stack.get("syntax_error")
    if isinstance(syntax, dict):
        lines.append(f'  File "{syntax.get("filename", "?")}", line {syntax.get("lineno", "?")}')
        if syntax.get("line"):
            lines.append(f"    {str(syntax['line']).strip()}")
    exc_type = str(stack.get("exc_type") or "Exception")
    exc_value = stack.get("exc_value")
    value_lines = lines_of(str(exc_value)) if exc_value not in (None, "") else []
    lines.append(f"{exc_type}: {value_lines[0]}" if value_lines else exc_type)
    lines.extend(value_lines[1:])
    for note in stack.get("exc_notes") or []:
        lines.append(str(note))
    for index, sub in enumerate(stack.get("exceptions") or [], 1):  # ExceptionGroup members
        lines.append(f"  +---------------- {index} ----------------")
        lines.extend("  | " + line for line in format_exception(sub))
    return lines


def _format_frame(frame: Any) -> list[str]:
    if not isinstance(frame, dict):
        return [f"  {frame}"]
    filename, lineno, name = frame.get("filename"), frame.get("lineno"), frame.get("name")
    if not filename and name:  # structlog's marker for frames it left out
        return [f"  ... {name} ..."]
    lines = [f'  File "{filename or "?"}", line {lineno if lineno is not None else "?"}, in {name or "?"}']
    if frame.get("line"):
        lines.append(f"    {str(frame['line']).strip()}")
    local_vars = frame.get("locals")
    if isinstance(local_vars, dict) and local_vars:
        for key, val in list(local_vars.items())[:20]:
            lines.append(f"      {key} = {val}")
    return lines
