"""A task's log lines, a bounded page at a time, for the console's detail and `tasktui show`:

* `fetch_logs(session, message_id, previous=…, cursor=…, backward=…, limit=…) -> LogPage` — one
  keyset page ordered by timestamp, merged from the task log table and 2025.8's JSON lists;
* `find_problem(session, message_id, previous=…, cursor=…, backward=…) -> LogLine | None` — the
  next (or previous) error or warning line past a cursor, with one LIMIT 1 keyset query per
  source, however long the log;
* `fetch_around(session, message_id, line, previous=…) -> LogWindow` — the pages on both sides of
  one line, to show it in context;
* `load_attributes(session, line, name=None) -> AttributesValue` — one line's attributes (or one
  key of them, e.g. "exception") on demand, when they were too large to come with the page;
* `exception_of(session, line)` — its structlog exception (tasktui.core.tracebacks formats it).

All text here is untrusted: display it through tasktui.core.text.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tasktui.core.detail import parse_message_id
from tasktui.core.session import Session
from tasktui.core.sql import detail as detail_sql
from tasktui.core.status import ERROR_LEVELS, LEVEL_SEVERITY

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
# Levels a jump stops at: warnings and worse, as the status severity ranks them (so a jump finds
# exactly the lines that make a finished task show Warning or Error).
PROBLEM_LEVELS = frozenset(level for level, severity in LEVEL_SEVERITY.items() if severity >= 2)


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
        rows = await (await session.conn.execute(statement, params)).fetchall()
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
    row = await (await session.conn.execute(statement, params)).fetchone()
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
