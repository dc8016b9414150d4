"""Exports for tickets and spreadsheets, without Textual: the tasks a filter matches as CSV or
JSON, and an incident bundle — one Markdown file with the task in full (fields, decoded message
and result, current and previous logs, the traceback), the workers, the counts, the filter as SQL
and the versions, ready to paste into a ticket (written out by tasktui.render.report).

The console's `x` exports the rows its table shows through `tasks_csv` / `tasks_json`, and its `X`
the selected task's bundle (TaskConsole.incident_bundle); `tasktui export` reads the newest
matching tasks from the database (`newest_matching`). Both write through `write_new_file`, which
never overwrites. Text from the database is written as it is in CSV and JSON (exact; JSON escapes
non-ASCII).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from tasktui import __version__
from tasktui.core import db
from tasktui.core import trigger as notify_trigger
from tasktui.core.filters import TaskFilter
from tasktui.core.models import TaskRow
from tasktui.core.monitoring import TaskSystemStatus, load_status
from tasktui.core.session import Session
from tasktui.core.sql import export as export_sql
from tasktui.core.sql.tasks import DISTINCT_STATES, TaskQueries, read_task
from tasktui.core.task_report import TaskReport, load_task_report
from tasktui.core.workers import WorkerReport, load_workers
from tasktui.errors import UserFacingError

DEFAULT_LIMIT = 10_000
MAX_LIMIT = 100_000
FORMATS = ("csv", "json")


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


# The columns of an export, in order: one definition for CSV and JSON.
TASK_COLUMNS: tuple[tuple[str, Callable[[TaskRow], Any]], ...] = (
    ("message_id", lambda t: t.message_id),
    ("actor_name", lambda t: t.actor_name),
    ("uid", lambda t: t.uid),
    ("status", lambda t: t.status.label),
    ("effective_status", lambda t: t.effective_status),
    ("state", lambda t: t.state),
    ("aggregated_status", lambda t: t.aggregated_status),
    ("queue_name", lambda t: t.queue_name),
    ("tenant_id", lambda t: t.tenant_id),
    ("tenant_name", lambda t: t.tenant_name),
    ("related", lambda t: t.related),
    ("retries", lambda t: t.retries),
    ("eta", lambda t: _iso(t.eta)),
    ("last_change", lambda t: _iso(t.mtime)),
    ("result_expiry", lambda t: _iso(t.result_expiry)),
)


def task_record(task: TaskRow) -> dict[str, Any]:
    return {name: get(task) for name, get in TASK_COLUMNS}


# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection): such a
# value from the database is written with a leading apostrophe, which spreadsheets hide.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def tasks_csv(tasks: Iterable[TaskRow]) -> str:
    """A header and one row per task (times ISO 8601 in UTC, empty for none; a value a
    spreadsheet would run as a formula starts with an apostrophe)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([name for name, _ in TASK_COLUMNS])
    for task in tasks:
        writer.writerow([_csv_cell(value) for value in task_record(task).values()])
    return out.getvalue()


def tasks_json(tasks: Iterable[TaskRow]) -> str:
    """A JSON list, one object per task (ASCII only: non-ASCII as \\u escapes, still exact)."""
    return json.dumps([task_record(task) for task in tasks], ensure_ascii=True, indent=2) + "\n"


def tasks_text(tasks: Iterable[TaskRow], file_format: str) -> str:
    """The tasks in one of FORMATS."""
    if file_format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}: {file_format!r}")
    return tasks_csv(tasks) if file_format == "csv" else tasks_json(tasks)


# --- files ----------------------------------------------------------------------------------


class FileExists(UserFacingError):
    """The export would overwrite a file: it never does."""


def _stamp(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def tasks_file_name(file_format: str, now: datetime) -> str:
    """A new name for an export of tasks: tasktui-tasks-20261203T190501Z.csv."""
    return f"tasktui-tasks-{_stamp(now)}.{file_format}"


def bundle_file_name(message_id: str, now: datetime) -> str:
    """A new name for an incident bundle: tasktui-incident-3fa85f64-20261203T190501Z.md."""
    return f"tasktui-incident-{message_id[:8]}-{_stamp(now)}.md"


def write_new_file(text: str, where: str | Path | None, name: str) -> Path:
    """Write `text` to `where` — a file, or a folder that `name` is made in; None: the current
    folder — never over an existing file. The absolute path written; FileExists when the file is
    there already, UserFacingError when it cannot be written (one line, the OS's reason)."""
    path = Path(where).expanduser() if where else Path.cwd()
    if path.is_dir():
        path = path / name
    try:
        with path.open("x", encoding="utf-8", newline="") as file:
            file.write(text)
    except FileExistsError:
        raise FileExists(f"{path} exists already") from None
    except OSError as exc:
        raise UserFacingError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path.resolve()


async def newest_matching(session: Session, task_filter: TaskFilter, *, limit: int = DEFAULT_LIMIT) -> list[TaskRow]:
    """The newest `limit` tasks `task_filter` matches, newest first. Bounded reads per state on
    authentik's index; raises UserFacingError on a database problem."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT:,}")
    queries = TaskQueries.for_shape(session.shape)
    where, params = task_filter.where_sql(queries)
    try:
        states = [state for (state,) in await (await session.conn.execute(DISTINCT_STATES)).fetchall()]
        rows = await (
            await session.conn.execute(
                export_sql.newest_matching(queries, where), {**params, "states": states, "limit": limit}
            )
        ).fetchall()
    except psycopg.Error as exc:
        raise db.user_error(exc, session.target) from None
    return [read_task(row) for row in rows]


# --- the incident bundle --------------------------------------------------------------------


@dataclass(frozen=True)
class Versions:
    tasktui: str
    trigger_installs: int  # the version this tasktui installs
    trigger_installed: int | None  # the version installed here (None: not installed)
    authentik: str | None  # what workers are compared with (see WorkerReport.reference_text)
    authentik_basis: str
    postgres: str


@dataclass(frozen=True)
class IncidentBundle:
    database: str
    made_at: datetime
    report: TaskReport
    workers: WorkerReport
    status: TaskSystemStatus
    task_filter: TaskFilter
    filter_sql: str
    filter_params: dict[str, Any]
    versions: Versions


async def load_bundle(session: Session, message_id: str, task_filter: TaskFilter) -> IncidentBundle:
    """Everything an incident bundle holds, for the task `message_id` (a whole id) and the filter
    the person was looking through. Raises TaskNotFound and UserFacingError."""
    try:
        report = await load_task_report(session, message_id)
        workers = await load_workers(session)
        status = await load_status(session)
        trigger = await notify_trigger.status(session.conn, session.shape)
        postgres = str(await db.fetch_value(session.conn, export_sql.SERVER_VERSION))
    except psycopg.Error as exc:
        raise db.user_error(exc, session.target) from None
    where, params = task_filter.where_sql(TaskQueries.for_shape(session.shape))
    return IncidentBundle(
        database=session.target.label,
        made_at=workers.checked_at,
        report=report,
        workers=workers,
        status=status,
        task_filter=task_filter,
        filter_sql=where,
        filter_params=params,
        versions=Versions(
            tasktui=__version__,
            trigger_installs=notify_trigger.TRIGGER_VERSION,
            trigger_installed=trigger.version if trigger.installed else None,
            authentik=workers.reference_version,
            authentik_basis=workers.reference_text,
            postgres=postgres,
        ),
    )
