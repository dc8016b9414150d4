"""One task in full, as `tasktui show` prints it and an incident bundle quotes it: its fields,
decoded message and result, and the logs of its current and previous attempts with exceptions as
tracebacks — read here, as one JSON object here, as styled lines in tasktui.render.report.

Everything shown comes from the database and goes through tasktui.core.text: control characters
and escape sequences appear as visible escapes, markup as the characters it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tasktui.core import safe_pickle
from tasktui.core.detail import TaskDetail, TaskNotFound, load_detail
from tasktui.core.logs import MAX_PAGE, LogLine, exception_of, fetch_logs, wants_exception
from tasktui.core.session import Session
from tasktui.core.tracebacks import format_exception

DEFAULT_MAX_LOGS = 1000


@dataclass(frozen=True)
class LogGroup:
    """The log lines of one attempt group, oldest first, with their exceptions."""

    previous: bool
    lines: list[LogLine]
    exceptions: list[Any]
    truncated: bool  # more lines than were read


@dataclass(frozen=True)
class TaskReport:
    detail: TaskDetail
    groups: tuple[LogGroup, LogGroup]  # current attempt, previous attempts


async def load_task_report(session: Session, message_id: str, *, max_logs: int = DEFAULT_MAX_LOGS) -> TaskReport:
    """The task `message_id` (a whole id) with up to `max_logs` log lines per attempt group (all
    with 0). Raises TaskNotFound; psycopg errors pass through."""
    detail = await load_detail(session, message_id)
    if detail is None:
        raise TaskNotFound(f"no task with message id {message_id} on {session.label}")
    groups = []
    for previous in (False, True):
        lines, truncated = await _collect_logs(session, message_id, previous=previous, max_logs=max_logs)
        exceptions = [await _exception(session, line) for line in lines]
        groups.append(LogGroup(previous, lines, exceptions, truncated))
    return TaskReport(detail, (groups[0], groups[1]))


async def _exception(session: Session, line: LogLine) -> Any:
    return await exception_of(session, line) if wants_exception(line) else None


async def _collect_logs(
    session: Session, message_id: str, *, previous: bool, max_logs: int
) -> tuple[list[LogLine], bool]:
    """Up to max_logs lines (all when 0), a page at a time; and whether more were left out."""
    lines: list[LogLine] = []
    cursor = None
    while True:
        want = MAX_PAGE if max_logs == 0 else min(MAX_PAGE, max_logs - len(lines))
        page = await fetch_logs(session, message_id, previous=previous, cursor=cursor, limit=want)
        lines.extend(page.lines)
        if not page.has_more:
            return lines, False
        if max_logs and len(lines) >= max_logs:
            return lines, True
        cursor = page.last_cursor


# --- JSON -----------------------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


def report_json(report: TaskReport) -> dict[str, Any]:
    detail = report.detail
    task = detail.task
    message = detail.message
    result = detail.result
    logs: dict[str, Any] = {}
    for group in report.groups:
        count = detail.log_counts.previous if group.previous else detail.log_counts.current
        logs["previous" if group.previous else "current"] = {
            "count": count,
            "shown": len(group.lines),
            "truncated": group.truncated,
            "lines": [_line_json(line, exc) for line, exc in zip(group.lines, group.exceptions, strict=True)],
        }
    return {
        "message_id": task.message_id,
        "actor_name": task.actor_name,
        "uid": task.uid,
        "queue_name": task.queue_name,
        "tenant": {"id": task.tenant_id, "name": task.tenant_name},
        "related": ({"content_type": task.rel_obj_type, "id": task.rel_obj_id} if task.related is not None else None),
        "state": task.state,
        "aggregated_status": task.aggregated_status,
        "effective_status": task.effective_status,
        "retries": task.retries,
        "eta": _iso(task.eta),
        "last_change": _iso(task.mtime),
        "result_expiry": _iso(task.result_expiry),
        "message": {
            "outcome": message.decoded.outcome,
            "size": message.decoded.size,
            "note": None if message.decoded.ok else message.decoded.describe(),
            "problem": message.problem,
            "summary": message.summary(),
            "actor_name": message.actor_name,
            "queue_name": message.queue_name,
            "message_id": message.message_id,
            "timestamp": _iso(message.timestamp),
            "args": safe_pickle.to_jsonable(message.args),
            "kwargs": safe_pickle.to_jsonable(message.kwargs),
            "options": safe_pickle.to_jsonable(message.options),
        },
        "result": {
            "outcome": result.decoded.outcome,
            "size": result.decoded.size,
            "note": None if result.decoded.ok else result.decoded.describe(),
            "summary": result.summary(),
            "exception": (
                {"type": result.exception_type, "message": result.exception_message} if result.is_exception else None
            ),
            "value": safe_pickle.to_jsonable(result.value),
        },
        "logs": logs,
    }


def _line_json(line: LogLine, exception: Any) -> dict[str, Any]:
    return {
        "timestamp": _iso(line.timestamp) if line.timestamp else line.timestamp_text,
        "level": line.level,
        "logger": line.logger,
        "event": line.event,
        "event_truncated": line.event_truncated,
        "event_bytes": line.event_bytes,
        "attributes": line.attributes,
        "attributes_bytes": line.attributes_size,
        "attributes_omitted": not line.attributes_inline,
        "source": "legacy" if line.legacy else "tasklog",
        "traceback": format_exception(exception) or None,
    }
