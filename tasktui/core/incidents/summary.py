"""One installation at a glance: `load_summary(session) -> InstallationSummary` — the row a tab
of a multi-installation console shows, and `tasktui summary --dsn A --dsn B` prints.

* alive workers, as authentik judges them (heartbeat within 2 minutes and liveness lock held);
* queued: tasks waiting for a worker now (queued, with no eta or an eta passed), and delayed
  retries (an eta ahead);
* running: tasks a worker has claimed (consumed … postprocess);
* errors: tasks that failed in the last hour (rejected, or done having logged an error), as the
  errors view counts them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

from tasktui.core import db
from tasktui.core.incidents.errors import count_failures
from tasktui.core.incidents.jsonable import JsonReport
from tasktui.core.session import Session
from tasktui.core.sql import summary as summary_sql
from tasktui.core.status import UNFINISHED_STATES
from tasktui.core.workers import load_workers

ERRORS_SPAN = timedelta(hours=1)
COUNT_CAP = 100_000


@dataclass(frozen=True)
class InstallationSummary(JsonReport):
    database: str  # user@host:port/dbname, never a password
    checked_at: datetime  # the database's now()
    workers_alive: int
    workers: int  # worker rows (alive, stale and dead)
    queued: int  # waiting for a worker now
    delayed: int  # retries whose eta is ahead
    running: int  # claimed by a worker
    errors_last_hour: int
    capped: bool  # a count reached COUNT_CAP (shown as "N+")
    alarms: tuple[str, ...]  # the worker panel's alarms, one line each
    elapsed: float


async def load_summary(session: Session) -> InstallationSummary:
    """The summary row of the installation behind `session`. Bounded reads (counts stop at
    COUNT_CAP); no locks taken, nothing written. Raises UserFacingError on a database problem."""
    started = time.monotonic()
    try:
        report = await load_workers(session)
        params = {"cap": COUNT_CAP + 1, "unfinished": list(UNFINISHED_STATES)}
        row = await (await session.conn.execute(summary_sql.unfinished_counts(session.shape), params)).fetchone()
        assert row is not None
        queued, delayed, running = (int(value) for value in row)
        errors, errors_capped = await count_failures(session, since=ERRORS_SPAN, cap=COUNT_CAP)
    except psycopg.Error as exc:
        raise db.user_error(exc, session.target) from None
    return InstallationSummary(
        database=session.target.label,
        checked_at=report.checked_at,
        workers_alive=report.alive,
        workers=len(report.workers),
        queued=min(queued, COUNT_CAP),
        delayed=min(delayed, COUNT_CAP),
        running=min(running, COUNT_CAP),
        errors_last_hour=min(errors, COUNT_CAP),
        capped=errors_capped or max(queued, delayed, running) > COUNT_CAP,
        alarms=tuple(alarm.message for alarm in report.alarms),
        elapsed=time.monotonic() - started,
    )
