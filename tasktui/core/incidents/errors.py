"""What is failing, grouped: `load_errors(session, since=…) -> ErrorReport`.

A failed task is a `rejected` one, or a `done` one whose current attempt logged an error (what
the console shows as Error; authentik 2025.10+ stores it as plain `done`). Failures are grouped
by actor and error signature: the current attempt's last error ("ExcType: message") with ids,
numbers, addresses and dates masked by `tasktui.core.error_groups.error_key` — the same key a
bulk retry preview groups by, so a group here is the group that preview shows.

Times are the tasks' `mtime`, which for a finished task is when it finished (authentik's ack,
nack or stored exception set it; reference §3). "First seen" and "last seen" are the oldest and
newest such time in the window.

Trend, over the window up to an hour (`trend_span`: the last 10 minutes for `since=10m`, the
last hour for 6 hours): the group's failures in the newer half of it (`recent`) against the older
half (`earlier`). **new** when the group had no failure before the newer half — not in the
trend's span nor, looked back, in the hour before now (a failure first seen seconds ago is new,
not steady); **rising** when recent > 1.5 × earlier and recent − earlier ≥ 3; **falling** when
earlier > 1.5 × recent and earlier − recent ≥ 3; **steady** otherwise. The absolute margin keeps
a handful of failures (1 then 2) from reading as a trend; a group that stopped (3 or more, then
none) is falling. Where a capped scan does not reach back past the newer half, nothing is called
new (what came before is unknown).

Bounded: the window is at most MAX_SINCE, read over authentik's (state, mtime) index newest
first: at most MAX_SCANNED_PER_STATE tasks per state are looked at and MAX_TASKS_PER_STATE
failures per state kept (`capped` says when a limit cut the window, and `covered_from` from
when the counts are complete).
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import psycopg

from tasktui.core import db
from tasktui.core.error_groups import error_key
from tasktui.core.filters import TaskFilter
from tasktui.core.incidents.jsonable import INTERNAL, JsonReport
from tasktui.core.retry import NO_ERROR_LOGGED
from tasktui.core.session import Session
from tasktui.core.sql import errors as errors_sql
from tasktui.core.timefmt import exact_span
from tasktui.errors import UserFacingError

DEFAULT_SINCE = timedelta(hours=1)
MAX_SINCE = timedelta(days=7)
TREND_SPAN = timedelta(hours=1)
TREND_BUCKETS = 6  # the last hour in buckets of 10 minutes
TREND_RATIO = 1.5
TREND_MIN_CHANGE = 3
MAX_TASKS_PER_STATE = 50_000
# Finished tasks read per state: a done task needs a task log look-up to tell whether it failed
# (~15 µs each), so a busy day's million is cut to the newest of them, ~1.5 s at most.
MAX_SCANNED_PER_STATE = 100_000
GROUP_ID_CHARS = 8
MAX_TENANTS = 1000


class Trend(StrEnum):
    NEW = "new"
    RISING = "rising"
    STEADY = "steady"
    FALLING = "falling"


def trend_of(earlier: int, recent: int, *, appeared: bool = False) -> Trend:
    """The trend of a count from the older half of the trend's span to the newer one (module
    docstring); `appeared`: no failure of the group is known before the newer half."""
    if appeared and recent:
        return Trend.NEW
    if recent > TREND_RATIO * earlier and recent - earlier >= TREND_MIN_CHANGE:
        return Trend.RISING
    if earlier > TREND_RATIO * recent and earlier - recent >= TREND_MIN_CHANGE:
        return Trend.FALLING
    return Trend.STEADY


def group_id(actor_name: str, signature: str) -> str:
    """A short stable name for a group (the same failures give the same id on every run)."""
    digest = hashlib.sha1(f"{actor_name}\0{signature}".encode(), usedforsecurity=False).hexdigest()
    return digest[:GROUP_ID_CHARS]


@dataclass(frozen=True)
class ErrorGroup(JsonReport):
    id: str
    actor_name: str
    signature: str  # the masked error; "" when the failure logged no error text
    count: int  # failed tasks in the window
    rejected: int  # of which rejected: these a retry can take
    logged: int  # of which done, having logged an error (not retryable in authentik 2026.2+)
    first_seen: datetime
    last_seen: datetime
    trend: Trend
    trend_buckets: tuple[int, ...]  # failures per TREND_BUCKETS-th of the report's trend_span, oldest first
    tenants: tuple[str, ...]  # tenant names (ids where the name is unknown)
    example_id: str  # the newest task of the group, to open
    example_error: str  # its error as logged (unmasked; at most ERROR_TEXT_CHARS characters)
    message_ids: tuple[str, ...] = field(default=(), metadata=INTERNAL)  # newest first
    rejected_ids: tuple[str, ...] = field(default=(), metadata=INTERNAL)  # newest first

    @property
    def title(self) -> str:
        return self.signature or NO_ERROR_LOGGED


@dataclass(frozen=True)
class ErrorReport(JsonReport):
    since: timedelta  # the window asked for
    trend_span: timedelta  # what the trend and its buckets cover: the window, at most TREND_SPAN
    checked_at: datetime  # the database's now()
    window_start: datetime
    groups: tuple[ErrorGroup, ...]  # most failures first
    failed: int  # failed tasks in the window
    capped: bool  # more failures exist than were read
    covered_from: datetime  # counts are complete from here (window_start unless capped)
    elapsed: float  # seconds the report took

    @property
    def trend_series_label(self) -> str:
        """What a group's trend buckets cover: 'last 1h per 10m', 'last 10m per 100s'."""
        return f"last {exact_span(self.trend_span)} per {exact_span(self.trend_span / TREND_BUCKETS)}"

    def find(self, wanted: str) -> ErrorGroup:
        """The group whose id is `wanted` (or starts with it); UserFacingError if none or several."""
        wanted = wanted.strip().lower()
        matches = [g for g in self.groups if g.id.startswith(wanted)] if wanted else []
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise UserFacingError(
                f"no error group {wanted!r} among the {len(self.groups)} of the last {exact_span(self.since)}"
                " (`tasktui errors` lists them; a longer --since finds older ones)"
            )
        raise UserFacingError(f"several error groups start with {wanted!r}: {', '.join(g.id for g in matches)}")


def retry_filter(group: ErrorGroup) -> TaskFilter:
    """The group as the filter a guarded bulk retry takes (`preview_bulk_retry`, the console's
    bulk retry screen): its rejected tasks, by id. Done tasks that only logged an error are not
    retryable and are left out; a task retried since the report is skipped by the preview."""
    return TaskFilter(
        actors=frozenset({group.actor_name}),
        message_ids=frozenset(group.rejected_ids),
        hide_successful=False,
    )


@dataclass
class _Builder:
    actor_name: str
    signature: str
    ids: list[str] = field(default_factory=list)
    rejected_ids: list[str] = field(default_factory=list)
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    tenants: set[str] = field(default_factory=set)
    trend_buckets: list[int] = field(default_factory=lambda: [0] * TREND_BUCKETS)
    example_error: str = ""
    oldest_scanned: datetime | None = None  # its oldest failure read, in the window or before


async def load_errors(session: Session, *, since: timedelta = DEFAULT_SINCE) -> ErrorReport:
    """Failed tasks of the last `since` (at most MAX_SINCE), grouped. A few bounded reads; no
    locks taken, nothing written. Raises UserFacingError on a database problem."""
    if not timedelta(0) < since <= MAX_SINCE:
        raise ValueError(f"since must be more than 0 and at most {MAX_SINCE}")
    started = time.monotonic()
    conn = session.conn
    shape = session.shape
    try:
        now = await db.fetch_value(conn, "SELECT now()")
        assert isinstance(now, datetime)
        window_start = now - since
        # At least an hour is read, whatever the window: a group is only "new" if it did not fail
        # in the hour before either.
        scan_start = now - max(since, TREND_SPAN)
        params = {
            "states": list(errors_sql.FAILURE_STATES),
            "since": scan_start,
            "limit": MAX_TASKS_PER_STATE,
            "scan": MAX_SCANNED_PER_STATE,
            "error_chars": errors_sql.ERROR_TEXT_CHARS + 1,
        }
        rows = await (await conn.execute(errors_sql.failed_tasks(shape), params)).fetchall()
        scanned = await (await conn.execute(errors_sql.SCANNED, params)).fetchall()
        names: dict[str, str] = {}
        if shape.has_tenant and shape.has_tenant_table:
            tenant_rows = await (await conn.execute(errors_sql.TENANT_NAMES, {"limit": MAX_TENANTS})).fetchall()
            names = dict(tenant_rows)
    except psycopg.Error as exc:
        raise db.user_error(exc, session.target) from None

    texts = {number: text for *_, number, text in rows if text is not None}
    # Each distinct text is masked once (a few µs each; see tasktui.core.error_groups).
    signatures = {
        number: error_key(text[: errors_sql.ERROR_TEXT_CHARS], truncated=len(text) > errors_sql.ERROR_TEXT_CHARS)
        for number, text in texts.items()
    }
    cut_at = _cut_at(rows, scanned)
    capped = cut_at is not None and cut_at > window_start
    covered_from = max(window_start, cut_at) if cut_at is not None else window_start
    known_from = max(scan_start, cut_at) if cut_at is not None else scan_start
    trend_span = min(since, TREND_SPAN)
    builders: dict[tuple[str, str], _Builder] = {}
    failed = 0
    bucket_span = trend_span / TREND_BUCKETS
    # Newest first, so the first task a group sees is its example.
    for message_id, actor, state, tenant_id, mtime, number, _ in sorted(rows, key=lambda r: r[4], reverse=True):
        key = (actor, signatures.get(number, ""))
        builder = builders.get(key)
        if builder is None:
            builder = builders[key] = _Builder(
                actor, key[1], example_error=texts.get(number, "")[: errors_sql.ERROR_TEXT_CHARS]
            )
        builder.oldest_scanned = mtime
        age = now - mtime
        if age < trend_span:
            bucket = TREND_BUCKETS - 1 - min(TREND_BUCKETS - 1, max(0, int(age / bucket_span)))
            builder.trend_buckets[bucket] += 1
        if mtime < window_start:
            continue
        failed += 1
        builder.ids.append(message_id)
        if state == "rejected":
            builder.rejected_ids.append(message_id)
        builder.last_seen = builder.last_seen or mtime
        builder.first_seen = mtime
        if tenant_id is not None:
            builder.tenants.add(names.get(tenant_id) or tenant_id)
    # A group is new when its oldest failure read is in the trend's newer half, and the read went
    # back further than that half (a capped scan that did not knows nothing of what came before).
    newer_half = now - trend_span / 2
    can_tell_new = known_from < newer_half
    groups = [
        _group(b, appeared=can_tell_new and b.oldest_scanned is not None and b.oldest_scanned >= newer_half)
        for b in builders.values()
        if b.ids
    ]
    groups.sort(key=lambda g: (-g.count, -g.last_seen.timestamp(), g.actor_name, g.signature))
    return ErrorReport(
        since=since,
        trend_span=trend_span,
        checked_at=now,
        window_start=window_start,
        groups=tuple(groups),
        failed=failed,
        capped=capped,
        covered_from=covered_from,
        elapsed=time.monotonic() - started,
    )


def _cut_at(rows: list[tuple[Any, ...]], scanned: list[tuple[Any, ...]]) -> datetime | None:
    """From when every failure was read, if a limit cut a state's scan: the oldest task a cut
    scan looked at, or the oldest failure kept when the failures' limit was hit (None: no cut)."""
    cuts = [oldest for _, count, oldest in scanned if count >= MAX_SCANNED_PER_STATE]
    per_state = Counter(row[2] for row in rows)
    for state, count in per_state.items():
        if count >= MAX_TASKS_PER_STATE:
            cuts.append(min(row[4] for row in rows if row[2] == state))
    return max(cuts) if cuts else None


def _group(builder: _Builder, *, appeared: bool) -> ErrorGroup:
    half = TREND_BUCKETS // 2
    assert builder.first_seen is not None and builder.last_seen is not None
    return ErrorGroup(
        id=group_id(builder.actor_name, builder.signature),
        actor_name=builder.actor_name,
        signature=builder.signature,
        count=len(builder.ids),
        rejected=len(builder.rejected_ids),
        logged=len(builder.ids) - len(builder.rejected_ids),
        first_seen=builder.first_seen,
        last_seen=builder.last_seen,
        trend=trend_of(sum(builder.trend_buckets[:half]), sum(builder.trend_buckets[half:]), appeared=appeared),
        trend_buckets=tuple(builder.trend_buckets),
        tenants=tuple(sorted(builder.tenants)),
        example_id=builder.ids[0],
        example_error=builder.example_error,
        message_ids=tuple(builder.ids),
        rejected_ids=tuple(builder.rejected_ids),
    )


async def count_failures(session: Session, *, since: timedelta, cap: int) -> tuple[int, bool]:
    """How many tasks failed in the last `since` (rejected, or done having logged an error),
    counted up to `cap` per state: (count, capped)."""
    now = await db.fetch_value(session.conn, "SELECT now()")
    assert isinstance(now, datetime)
    params = {
        "states": list(errors_sql.FAILURE_STATES),
        "since": now - since,
        "limit": cap + 1,
        "scan": MAX_SCANNED_PER_STATE,
    }
    count = int(await db.fetch_value(session.conn, errors_sql.count_failed(session.shape), params) or 0)
    return count, count > cap
