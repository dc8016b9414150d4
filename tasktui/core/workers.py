"""The worker panel: which workers are alive as authentik judges it, and what is stuck.

`load_workers(session) -> WorkerReport` is all the UI and `tasktui workers` call.

Liveness (reference §6): authentik counts a worker alive when its `last_seen` is within
2 minutes **and** its session advisory lock ("goauthentik.io/worker/status/<id>") is held. A
worker heartbeats every 30 s and holds the lock for its whole life, so the two disagree only
briefly in health. tasktui reads the lock from pg_locks (never taking it) and classifies:

* **alive** — heartbeat within 2 minutes and lock held (authentik's own definition);
* **stale** — exactly one of the two: the lock is held but the heartbeat is older than 2 minutes
  (the process lives but its heartbeat thread is stuck, or the worker host's clock is off — it
  writes `last_seen` from its own clock), or the heartbeat is recent but nobody holds the lock
  (the process exited within the last 2 minutes, or is reconnecting after a database error,
  which authentik does 10 s after the error);
* **dead** — neither: no recent heartbeat and no lock. Rows linger up to a day until authentik's
  clean_worker_statuses removes them; dead is normal after a restart (the new process gets a
  new row), so a dead worker is a warning, shown until its row is gone.

Versions: authentik flags a worker whose version is not its own server's
(`authentik_full_version()`), and says "Worker with incorrect version connected.". The database
tells that version where authentik keeps its version history (`authentik_version_history`, one
row per version and build the first time it runs): the newest row is the reference. Without that
table (a mirror, or a role that may not read it) the reference is the most common version among
alive workers (among all listed workers when none is alive; ties go to the highest version), and
the report says which it is. A worker that is not dead and runs another version is flagged.

Alarms: no alive worker; a stale or dead worker (warnings); tasks queued for more than N
minutes (due by their eta, else since their last enqueue or claim) — an error when no worker is
alive, a warning otherwise; tasks in a running state (preprocess, running, postprocess) whose task
lock no session holds — orphans
(reference §9: a consumer holds the task lock from its claim until ack, so a running task
without it lost its worker; authentik re-claims it only at some consumer's next poll). The
opposite — a lock still held for a finished task, up to ~30 s — is normal (lazy unlock) and
`consumed` covers prefetched work, so neither is judged here.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from tasktui.core import db
from tasktui.core.locks import pg_locks_ids, task_lock_key, worker_lock_key
from tasktui.core.session import Session
from tasktui.core.sql import workers as workers_sql
from tasktui.core.timefmt import duration

HEARTBEAT_WINDOW = timedelta(minutes=2)  # authentik's "alive" window
DEFAULT_QUEUED_MINUTES = 5  # well beyond the ~30-50 s a delayed task normally waits (§9)
RUNNING_STATES = ("preprocess", "running", "postprocess")
MAX_WORKERS = 1000
MAX_RUNNING_CHECKED = 1000
COUNT_CAP = 10_000

Liveness = Literal["alive", "stale", "dead"]
# What the reference version is: authentik's newest recorded version, or the workers' majority.
VersionSource = Literal["version_history", "majority"]
Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class WorkerInfo:
    id: str
    hostname: str
    version: str
    last_seen: datetime
    seen_ago: timedelta  # database now() - last_seen; negative when the worker's clock is ahead
    lock_held: bool
    liveness: Liveness
    reason: str  # why this liveness, in words
    version_mismatch: bool = False

    @property
    def alive(self) -> bool:
        return self.liveness == "alive"

    @property
    def worker_id(self) -> str:
        """As authentik's API shows it: `<uuid>@<hostname>`."""
        return f"{self.id}@{self.hostname}"


@dataclass(frozen=True)
class OrphanedTask:
    message_id: str
    queue_name: str
    actor_name: str
    uid: str | None
    state: str
    mtime: datetime  # the claim time: running states do not touch mtime
    age: timedelta


# Alarms about workers the list of workers shows itself (stale and dead first): a view that lists
# them (the console's panel) need not say them twice.
WORKER_ROW_ALARMS = frozenset({"stale_workers", "dead_workers"})


@dataclass(frozen=True)
class Alarm:
    # no_workerstatus | no_workers | queued_without_workers | overdue_queued | orphaned_tasks |
    # stale_workers | dead_workers | version_mismatch
    code: str
    severity: Severity
    message: str
    short: str = ""  # a few words, for the console's header at 80 columns (default: the message)

    @property
    def headline(self) -> str:
        return self.short or self.message


@dataclass(frozen=True)
class WorkerReport:
    workers: list[WorkerInfo]
    alarms: list[Alarm]
    orphans: list[OrphanedTask]
    checked_at: datetime  # the database's now()
    reference_version: str | None
    reference_source: VersionSource
    overdue_queued: int  # queued longer than queued_minutes (capped at COUNT_CAP + 1)
    queued_minutes: int
    running_checked: int  # running-state tasks whose lock was checked
    running_capped: bool  # more running tasks exist than were checked

    @property
    def alive(self) -> int:
        return sum(w.liveness == "alive" for w in self.workers)

    @property
    def stale(self) -> int:
        return sum(w.liveness == "stale" for w in self.workers)

    @property
    def dead(self) -> int:
        return sum(w.liveness == "dead" for w in self.workers)

    @property
    def reference_text(self) -> str:
        """The version workers are compared with, and where it comes from ("" when none)."""
        if self.reference_version is None:
            return ""
        if self.reference_source == "version_history":
            return f"authentik {self.reference_version} (the newest in authentik_version_history)"
        return f"the majority version {self.reference_version}"

    @property
    def healthy(self) -> bool:
        """At least one worker is alive."""
        return self.alive > 0


def classify(seen_ago: timedelta, lock_held: bool) -> tuple[Liveness, str]:
    """authentik's liveness test, with the half-way cases named (see the module docstring)."""
    recent = seen_ago <= HEARTBEAT_WINDOW
    age = describe_age(seen_ago)
    if recent and lock_held:
        return "alive", f"heartbeat {age}, lock held"
    if lock_held:
        return "stale", f"lock held but no heartbeat for {describe_age(seen_ago, suffix=False)} (heartbeat stuck?)"
    if recent:
        return "stale", f"heartbeat {age} but its lock is not held (exited or reconnecting)"
    return "dead", f"no heartbeat for {describe_age(seen_ago, suffix=False)}, lock not held"


def describe_age(delta: timedelta, *, suffix: bool = True) -> str:
    """'42s ago', '3m ago', '5h ago'; 'in the future' for clock skew (workers write last_seen
    from their own clock)."""
    seconds = delta.total_seconds()
    if seconds < -1:
        return "in the future (clock skew)" if suffix else "0s (clock skew)"
    text = duration(max(0.0, seconds))
    return f"{text} ago" if suffix else text


def _version_key(version: str) -> tuple[tuple[int, object], ...]:
    """Natural order: 2025.10.1 after 2025.8.6."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"(\d+)", version) if p)


def reference_version(versions: list[str]) -> str | None:
    """The most common version; ties go to the highest (the likely target of a rollout)."""
    if not versions:
        return None
    counts = Counter(versions)
    return max(counts, key=lambda v: (counts[v], _version_key(v)))


async def lock_holders(session: Session, keys: list[int]) -> dict[tuple[int, int], int]:
    """Which of these advisory keys a session of this database holds, as pg_locks shows them
    ((classid, objid), see pg_locks_ids) with the holder's pid. Reads pg_locks; takes no lock."""
    if not keys:
        return {}
    ids = [pg_locks_ids(key) for key in keys]
    params = {"classids": [c for c, _ in ids], "objids": [o for _, o in ids]}
    rows = await (await session.conn.execute(workers_sql.HELD_ADVISORY_LOCKS, params)).fetchall()
    return {(int(c), int(o)): int(pid) for c, o, pid in rows}


async def _held_keys(session: Session, keys: list[int]) -> set[tuple[int, int]]:
    return set(await lock_holders(session, keys))


async def load_workers(session: Session, *, queued_minutes: int = DEFAULT_QUEUED_MINUTES) -> WorkerReport:
    """Workers with their liveness, plus alarms about stuck work. A handful of bounded reads;
    no locks taken, nothing written."""
    conn = session.conn
    shape = session.shape
    rows: list[tuple[Any, ...]] = []
    if shape.has_workerstatus:
        rows = await (await conn.execute(workers_sql.WORKERS, {"limit": MAX_WORKERS})).fetchall()
    now = rows[0][4] if rows else await db.fetch_value(conn, workers_sql.NOW)

    running = await (
        await conn.execute(
            workers_sql.running_tasks("_uid" in shape.task_columns),
            {"states": list(RUNNING_STATES), "limit": MAX_RUNNING_CHECKED + 1},
        )
    ).fetchall()
    running_capped = len(running) > MAX_RUNNING_CHECKED
    running = running[:MAX_RUNNING_CHECKED]

    # One pg_locks read for every key: workers' liveness locks and running tasks' locks.
    worker_keys = {row[0]: worker_lock_key(row[0]) for row in rows}
    task_keys = {row[0]: task_lock_key(row[1], row[0]) for row in running}
    held = await _held_keys(session, [*worker_keys.values(), *task_keys.values()])

    workers = []
    for worker_id, hostname, version, last_seen, _now in rows:
        seen_ago = now - last_seen
        lock_held = pg_locks_ids(worker_keys[worker_id]) in held
        liveness, reason = classify(seen_ago, lock_held)
        workers.append(WorkerInfo(worker_id, hostname, version, last_seen, seen_ago, lock_held, liveness, reason))

    source: VersionSource = "version_history"
    reference = await _deployed_version(session)
    if reference is None:
        alive_versions = [w.version for w in workers if w.alive]
        reference, source = reference_version(alive_versions or [w.version for w in workers]), "majority"
    workers = [
        _with_mismatch(w, w.liveness != "dead" and reference is not None and w.version != reference) for w in workers
    ]

    orphans = await _orphans(session, running, task_keys, held, now)
    overdue_row = await (
        await conn.execute(workers_sql.overdue_queued(shape.has_eta), {"minutes": queued_minutes, "cap": COUNT_CAP})
    ).fetchone()
    overdue = int(overdue_row[0]) if overdue_row else 0

    report = WorkerReport(
        workers=workers,
        alarms=[],
        orphans=orphans,
        checked_at=now,
        reference_version=reference,
        reference_source=source,
        overdue_queued=overdue,
        queued_minutes=queued_minutes,
        running_checked=len(running),
        running_capped=running_capped,
    )
    return replace(report, alarms=alarms_of(report, shape.has_workerstatus))


async def _deployed_version(session: Session) -> str | None:
    """authentik's newest recorded version ("<version>+<build>"), or None when this database (or
    this role) has no version history to read."""
    if not await db.fetch_value(session.conn, workers_sql.VERSION_HISTORY_READABLE):
        return None
    version = await db.fetch_value(session.conn, workers_sql.NEWEST_AUTHENTIK_VERSION)
    return str(version) if version else None


def _with_mismatch(worker: WorkerInfo, mismatch: bool) -> WorkerInfo:
    return worker if worker.version_mismatch == mismatch else replace(worker, version_mismatch=mismatch)


async def _orphans(
    session: Session,
    running: list[tuple[Any, ...]],
    task_keys: dict[str, int],
    held: set[tuple[int, int]],
    now: datetime,
) -> list[OrphanedTask]:
    candidates = {row[0]: row for row in running if pg_locks_ids(task_keys[row[0]]) not in held}
    if not candidates:
        return []
    # The task list was read before pg_locks: one that finished (and unlocked) in between is
    # not in a running state any more. Only those still running without a lock are orphans.
    rows = await (await session.conn.execute(workers_sql.TASK_STATES, {"ids": list(candidates)})).fetchall()
    still_running = {mid for mid, state in rows if state in RUNNING_STATES}
    orphans = []
    for message_id, queue, actor, uid, state, mtime in candidates.values():
        if message_id in still_running:
            orphans.append(OrphanedTask(message_id, queue, actor, uid, state, mtime, now - mtime))
    return orphans


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def alarms_of(report: WorkerReport, has_workerstatus: bool) -> list[Alarm]:
    """What the worker panel and the header warn about, for a report without its alarms yet."""
    alarms = []
    if not has_workerstatus:
        alarms.append(Alarm("no_workerstatus", "error", "this database has no worker status table", "no worker table"))
    if report.alive == 0:
        extra = f" ({_plural(report.stale, 'stale worker')})" if report.stale else ""
        alarms.append(
            Alarm(
                "no_workers", "error", f"No workers connected. Background tasks will not run.{extra}", "no live worker"
            )
        )
    if report.overdue_queued:
        count = f"{COUNT_CAP}+ tasks" if report.overdue_queued > COUNT_CAP else _plural(report.overdue_queued, "task")
        minutes = _plural(report.queued_minutes, "minute")
        if report.alive == 0:
            alarms.append(
                Alarm(
                    "queued_without_workers",
                    "error",
                    f"{count} queued for more than {minutes} with no live worker",
                    f"{count} queued > {report.queued_minutes}m",
                )
            )
        else:
            alarms.append(
                Alarm(
                    "overdue_queued",
                    "warning",
                    f"{count} queued for more than {minutes} although {_plural(report.alive, 'worker')} alive",
                    f"{count} queued > {report.queued_minutes}m",
                )
            )
    if report.orphans:
        shown = ", ".join(f"{o.actor_name} {o.message_id} ({o.state})" for o in report.orphans[:3])
        more = f" and {len(report.orphans) - 3} more" if len(report.orphans) > 3 else ""
        alarms.append(
            Alarm(
                "orphaned_tasks",
                "error",
                f"{_plural(len(report.orphans), 'task')} in a running state with no worker holding its lock"
                f" (orphaned): {shown}{more}",
                f"{_plural(len(report.orphans), 'orphaned task')}",
            )
        )
    # A stale or dead worker stays an alarm for as long as its row is there (authentik's
    # clean_worker_statuses removes dead rows after a day): a worker that died must not be news
    # for a few seconds only. A warning: after a restart, a dead row is the old process's.
    for liveness in ("stale", "dead"):
        listed = [w for w in workers_by_urgency(report.workers) if w.liveness == liveness]
        if listed:
            shown = ", ".join(f"{w.hostname} ({w.reason})" for w in listed[:3])
            more = f" and {len(listed) - 3} more" if len(listed) > 3 else ""
            alarms.append(
                Alarm(
                    f"{liveness}_workers",
                    "warning",
                    f"{_plural(len(listed), f'{liveness} worker')}: {shown}{more}",
                    _plural(len(listed), f"{liveness} worker"),
                )
            )
    mismatched = [w for w in report.workers if w.version_mismatch]
    if mismatched:
        shown = ", ".join(f"{w.hostname} ({w.version})" for w in mismatched[:5])
        alarms.append(
            Alarm(
                "version_mismatch",
                "warning",
                f"{_plural(len(mismatched), 'worker')} not on {report.reference_text}: {shown}",
                f"{_plural(len(mismatched), 'worker')} on another version",
            )
        )
    return alarms


# Stale first: a process that lives but stopped heartbeating, or one that exited minutes ago,
# needs a look now. Dead rows follow, most recently seen first: they linger a day after every
# restart, so old ones would otherwise bury the one that died today. Alive last (the summary
# counts them).
_URGENCY = {"stale": 0, "dead": 1, "alive": 2}


def workers_by_urgency(workers: Iterable[WorkerInfo]) -> list[WorkerInfo]:
    """Workers in the order an SRE wants to read them: stale, then dead, then alive."""

    def key(worker: WorkerInfo) -> tuple[int, timedelta, str]:
        recency = worker.seen_ago if worker.liveness == "dead" else timedelta(0)
        return _URGENCY[worker.liveness], recency, worker.hostname

    return sorted(workers, key=key)
