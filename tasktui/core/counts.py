"""The header's counts, from one truth: the window for what is in flight, the database for what
is finished.

Every unfinished task is in the window (up to a cap per state), so Running and Queued are counted
from the rows the table holds — the header and the table move together, in the same flush, and
agree at every quiet moment. Finished tasks are far too many to hold: they are counted in the
database, exactly where that is cheap; where it is not (a big table, a busy server), the planner's
estimate stands in, marked as such. A count that fails or times out never touches the feed: the
last counts stay, marked stale with their age.

authentik 2025.10+ leaves every finished task `done`, even when it logged errors; the table shows
the worst level of the current attempt's logs instead (the effective status). The header keeps
authentik's groups and says how many "successful" tasks logged warnings or errors — in the whole
table where the count is cheap enough, else among the finished tasks loaded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import psycopg
from psycopg import sql

from tasktui.core import db
from tasktui.core.bugs import internal_error
from tasktui.core.session import Session, open_session
from tasktui.core.sql import tasks as tasks_sql
from tasktui.core.status import FINAL_STATES, GROUPS, status_of
from tasktui.errors import UserFacingError

log = logging.getLogger(__name__)

PROBLEM_STATUSES = ("warning", "error")
COUNTS_TIMEOUT_MS = 2_000
COUNTS_STALE_AFTER = 120.0
ESTIMATE_INTERVAL = 10.0  # counts that are too slow to be exact: the estimate's refresh
EXACT_RETRY = 300.0  # and how often an exact count is tried again


@dataclass(frozen=True)
class FinishedCounts:
    """Finished tasks in the database, by stored status."""

    by_status: dict[str, int]  # aggregated_status of finished tasks -> how many
    with_problems: int | None  # done tasks whose current attempt logged warnings or errors; None: not counted
    estimated: bool  # the planner's estimate, not a count
    counted_at: float  # wall clock of the reading
    elapsed_ms: float


@dataclass(frozen=True)
class StatusCounts:
    """What the header shows, in authentik's summary groups (Running, Queued, Successful, Error)."""

    by_group: dict[str, int]
    successful_with_problems: int | None
    problems_in_window: bool  # the number above covers only the finished tasks loaded
    finished_estimated: bool
    finished_counted_at: float | None
    stale: bool  # the finished counts could not be refreshed lately
    stale_reason: str = ""

    @property
    def total(self) -> int:
        return sum(self.by_group.values())


def combine(
    tally: Mapping[tuple[str, str], int],
    finished: FinishedCounts | None,
    *,
    error: str = "",
    stale_after: float,
    now: float,
) -> StatusCounts:
    """The header's counts: unfinished ones from the window's tally (state, effective status),
    finished ones from the database's counts (or, until those arrive, from the window). `error`
    says why the latest count failed: the finished counts are then stale."""
    by_group = dict.fromkeys(GROUPS, 0)
    window_problems = 0
    for (state, effective), n in tally.items():
        if state in FINAL_STATES:
            if state == "done" and effective in PROBLEM_STATUSES:
                window_problems += n
            if finished is not None:
                continue
            group = status_of("rejected" if state == "rejected" else "done").group
        else:
            group = status_of(state).group
        if group in by_group:
            by_group[group] += n
    problems: int | None = window_problems
    in_window = True
    if finished is not None:
        for status, n in finished.by_status.items():
            group = status_of(status).group
            if group in by_group:
                by_group[group] += n
        if finished.with_problems is not None:
            problems, in_window = finished.with_problems, False
    stale = bool(error) or (finished is not None and now - finished.counted_at > stale_after)
    return StatusCounts(
        by_group=by_group,
        successful_with_problems=problems,
        problems_in_window=in_window,
        finished_estimated=finished.estimated if finished else False,
        finished_counted_at=finished.counted_at if finished else None,
        stale=stale,
        stale_reason=error,
    )


async def count_finished(
    conn: psycopg.AsyncConnection,
    queries: tasks_sql.TaskQueries,
    *,
    timeout_ms: int,
    exact: bool = True,
    with_problems: bool = True,
) -> FinishedCounts:
    """Count finished tasks exactly within `timeout_ms`; past it (or with `exact` false), estimate
    them from the planner (EXPLAIN reads statistics, not rows). Without `with_problems` the done
    tasks that logged warnings or errors are not counted (a task log look-up per done task).
    Raises psycopg errors only when even that fails."""
    started = time.perf_counter()
    if not exact:
        estimates = {state: await _estimate_rows(conn, state) for state in FINAL_STATES}
        return FinishedCounts(estimates, None, True, time.time(), (time.perf_counter() - started) * 1000)
    try:
        async with conn.transaction():
            # Local to this transaction: the session's own timeout stays for everything else.
            await conn.execute(sql.SQL("SET LOCAL statement_timeout = {}").format(sql.Literal(max(1, timeout_ms))))
            rows = await (await conn.execute(tasks_sql.FINISHED_COUNTS, {"states": list(FINAL_STATES)})).fetchall()
            by_status: dict[str, int] = {}
            for status, n in rows:
                by_status[status] = by_status.get(status, 0) + n
            problems = None
            if by_status and with_problems:
                problems = int((await (await conn.execute(queries.done_with_problems)).fetchone())[0])  # type: ignore[index]
        return FinishedCounts(by_status, problems, False, time.time(), (time.perf_counter() - started) * 1000)
    except psycopg.errors.QueryCanceled:
        return await count_finished(conn, queries, timeout_ms=timeout_ms, exact=False, with_problems=with_problems)


async def _estimate_rows(conn: psycopg.AsyncConnection, state: str) -> int:
    row = await (await conn.execute(tasks_sql.estimate_rows(state))).fetchone()
    plan = row[0] if row else None
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"]) if plan else 0


class FinishedCounter:
    """The feed's counts loop: finished tasks counted on a connection of their own, never failing
    the feed. Counting reads much of the table: cheap counts run often, expensive ones rarely;
    where an exact count does not fit its timeout, the planner's estimate is refreshed instead and
    the exact count tried again only now and then. `finished` and `error` are the latest reading
    (see `combine`); `on_counted` is called after each."""

    def __init__(
        self,
        target: db.Target,
        *,
        timeout_ms: int = COUNTS_TIMEOUT_MS,
        link_timeout: float,
        on_counted: Callable[[], None],
    ) -> None:
        self.target = target
        self.timeout_ms = timeout_ms
        self.link_timeout = link_timeout
        self.on_counted = on_counted
        self.finished: FinishedCounts | None = None
        self.error = ""

    async def run(self) -> None:
        session: Session | None = None
        next_exact = 0.0
        try:
            while True:
                interval = ESTIMATE_INTERVAL
                try:
                    if session is None or session.conn.closed:
                        session = await open_session(self.target)
                    queries = tasks_sql.TaskQueries.for_shape(session.shape)
                    exact = time.monotonic() >= next_exact
                    finished = await db.bounded(
                        count_finished(session.conn, queries, timeout_ms=self.timeout_ms, exact=exact),
                        self.timeout_ms / 1000 + self.link_timeout,
                        "counting",
                    )
                    self.finished, self.error = finished, ""
                    if finished.estimated:
                        if exact:
                            next_exact = time.monotonic() + EXACT_RETRY
                    elif finished.elapsed_ms < 50:
                        interval = 2.0
                    elif finished.elapsed_ms >= 1_000:
                        interval = 60.0
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # whatever it is, it must not stop the feed: logged, shown stale
                    if isinstance(exc, psycopg.Error | UserFacingError | OSError):
                        self.error = " ".join(str(exc).split())[:200] or type(exc).__name__
                    else:
                        self.error = internal_error(log, "counting finished tasks", exc)
                    if session is not None:
                        with contextlib.suppress(Exception):
                            await session.close()
                        session = None
                self.on_counted()
                await asyncio.sleep(interval)
        finally:
            if session is not None:
                with contextlib.suppress(Exception):
                    await session.close()
