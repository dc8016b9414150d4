"""`tasktui show MESSAGE_ID`: one task in full — fields, decoded message and result, and the
logs of its current and previous attempts with exceptions as tracebacks.

Everything printed comes from the database and goes through tasktui.core.text: control
characters and escape sequences appear as visible escapes, Rich markup as the characters it is.
Colour only when stdout is a terminal; piped output is plain text, and --json is one object.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from rich.text import Text

from tasktui.commands._output import print_lines, write_stdout
from tasktui.commands._run import run_command
from tasktui.core import safe_pickle
from tasktui.core.db import Target
from tasktui.core.detail import (
    MAX_PAGE,
    InvalidMessageId,
    LogLine,
    TaskDetail,
    TaskNotFound,
    exception_of,
    fetch_logs,
    format_exception,
    load_detail,
    parse_message_id,
)
from tasktui.core.session import Session, open_session
from tasktui.core.status import status_of
from tasktui.core.text import assemble, shorten

DEFAULT_MAX_LOGS = 1000
ATTRIBUTES_SHOWN = 2000  # characters of a line's attributes in text output

LEVEL_STYLES = {
    "debug": "dim",
    "info": "",
    "warning": "yellow",
    "warn": "yellow",
    "error": "bold red",
    "critical": "bold red",
    "exception": "bold red",
}
STATUS_STYLES = {
    "error": "bold red",
    "warning": "yellow",
    "active": "cyan",
    "queued": "blue",
    "success": "green",
    "unknown": "",
}
LABEL = "bold"


def add_parser(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "show",
        parents=[common],
        help="show one task: fields, decoded message and result, current and previous logs",
        description=(
            "Show one task in full. Text from the database is printed literally: control characters"
            " and escape sequences appear as visible escapes. Exit status 1 when no task has this id."
        ),
    )
    parser.add_argument("message_id", metavar="MESSAGE_ID", type=_message_id, help="the task's message id (a UUID)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.add_argument(
        "--max-logs",
        type=_count,
        default=DEFAULT_MAX_LOGS,
        metavar="N",
        help=f"log lines shown per attempt group, oldest first (default {DEFAULT_MAX_LOGS}; 0 = all)",
    )
    parser.set_defaults(handler=run)


def _message_id(value: str) -> str:
    try:
        return parse_message_id(value)
    except InvalidMessageId as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _count(value: str) -> int:
    if not value.isdigit():
        raise argparse.ArgumentTypeError(f"not a count: {value!r}")
    return int(value)


def run(args: argparse.Namespace) -> int:
    return run_command(_show(Target.resolve(args.dsn), args.message_id, as_json=args.json, max_logs=args.max_logs))


async def _show(target: Target, message_id: str, *, as_json: bool, max_logs: int) -> int:
    async with await open_session(target) as session:
        detail = await load_detail(session, message_id)
        if detail is None:
            raise TaskNotFound(f"no task with message id {message_id} on {session.label}")
        groups = []
        for previous in (False, True):
            lines, more = await _collect_logs(session, message_id, previous=previous, max_logs=max_logs)
            exceptions = [await exception_of(session, line) if _wants_exception(line) else None for line in lines]
            groups.append((previous, lines, exceptions, more))
    if as_json:
        write_stdout(json.dumps(_as_json(detail, groups), ensure_ascii=True, indent=2) + "\n")
        return 0
    print_lines(list(_text_lines(detail, groups)))
    return 0


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


def _wants_exception(line: LogLine) -> bool:
    """An exception is worth a fetch only for lines that may carry one: inline attributes tell
    at once; large ones are fetched (bounded) for error-level lines only."""
    return line.attributes_inline or line.level.lower() in ("error", "critical", "exception")


# --- text -----------------------------------------------------------------------------------


def _time(value: datetime | None) -> str:
    if value is None:
        return "—"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f UTC")


def _field(label: str, value: object, style: str = "") -> Text:
    return assemble((f"  {label:<14}", LABEL), (value if value is not None else "—", style))


def _text_lines(detail: TaskDetail, groups: list[tuple[bool, list[LogLine], list[Any], bool]]) -> Iterator[Text]:
    task = detail.task
    status = status_of(task.effective_status)
    yield assemble(("Task ", LABEL), (task.message_id, LABEL))
    yield _field("actor", task.actor_name)
    yield _field("uid", task.uid)
    yield _field("queue", task.queue_name)
    tenant = task.tenant_name or task.tenant_id
    if task.tenant_name and task.tenant_id:
        tenant = f"{task.tenant_name} ({task.tenant_id})"
    yield _field("tenant", tenant)
    yield _field("related", task.related)
    yield _field("state", task.state)
    stored = "" if task.effective_status == task.aggregated_status else f" (stored: {task.aggregated_status})"
    yield assemble(
        (f"  {'status':<14}", LABEL),
        (f"{status.label} [{task.effective_status}]", STATUS_STYLES.get(status.style, "")),
        stored,
    )
    yield _field("retries", task.retries)
    yield _field("eta", _time(task.eta) if task.eta else None)
    yield _field("last change", _time(task.mtime))
    yield _field("result expiry", _time(task.result_expiry) if task.result_expiry else None)
    yield Text("")
    yield from _message_lines(detail.message)
    yield Text("")
    yield from _result_lines(detail.result)
    for previous, lines, exceptions, more in groups:
        yield Text("")
        count = detail.log_counts.previous if previous else detail.log_counts.current
        title = "Previous attempts" if previous else "Current attempt"
        yield assemble((f"{title}: {count} log line{'s' if count != 1 else ''}", LABEL))
        if not lines:
            yield Text("  (none)")
        for line, exception in zip(lines, exceptions, strict=True):
            yield from _log_lines(line, exception)
        if more:
            yield assemble((f"  … {count - len(lines)} more not shown (--max-logs 0 shows all)", "dim"))


def _message_lines(message: safe_pickle.DecodedMessage) -> Iterator[Text]:
    size = f" ({message.decoded.size} bytes)" if message.decoded.size else ""
    yield assemble((f"Message{size}", LABEL))
    if not message.decoded.ok:
        yield assemble(("  " + message.decoded.describe(), "dim" if message.decoded.outcome == "empty" else "yellow"))
        return
    if message.problem:
        yield assemble(("  " + message.problem, "yellow"))
        yield _field("value", safe_pickle.render(message.decoded.value))
        return
    yield _field("call", message.summary())
    yield _field("args", safe_pickle.render(message.args))
    yield _field("kwargs", safe_pickle.render(message.kwargs))
    yield _field("options", safe_pickle.render(message.options))


def _result_lines(result: safe_pickle.DecodedResult) -> Iterator[Text]:
    size = f" ({result.decoded.size} bytes)" if result.decoded.size else ""
    yield assemble((f"Result{size}", LABEL))
    if result.is_exception:
        yield assemble((f"  {'exception':<14}", LABEL), (result.summary(), "bold red"))
    elif result.decoded.ok:
        yield _field("value", safe_pickle.render(result.decoded.value))
    else:
        yield assemble(
            ("  " + result.decoded.describe(), "yellow" if result.decoded.outcome == "undecodable" else "dim")
        )


def _log_lines(line: LogLine, exception: Any) -> Iterator[Text]:
    when = _time(line.timestamp) if line.timestamp else f"{line.timestamp_text or '?'} (unreadable)"
    level = line.level.lower()
    event = line.event + (f" … ({line.event_bytes} bytes in all)" if line.event_truncated else "")
    parts: list[str | tuple[object, str]] = [
        "  ",
        (when, "dim"),
        "  ",
        (f"{line.level.upper():<8}", LEVEL_STYLES.get(level, "")),
        " ",
        (line.logger, "cyan"),
        "  ",
        (event, "bold" if level in ("error", "critical", "exception") else ""),
    ]
    if line.legacy:
        parts.append(("  [legacy]", "dim"))
    if line.attributes_inline:
        rest = line.attributes_without_exception
        if rest:
            parts += ["  ", (shorten(json.dumps(rest, default=str, ensure_ascii=False), ATTRIBUTES_SHOWN), "dim")]
    else:
        parts += ["  ", (f"(attributes: {line.attributes_size} bytes, not shown)", "dim")]
    yield assemble(*parts)
    for text in format_exception(exception):
        yield assemble(("      " + text, "red"))


# --- JSON -----------------------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


def _as_json(detail: TaskDetail, groups: list[tuple[bool, list[LogLine], list[Any], bool]]) -> dict[str, Any]:
    task = detail.task
    message = detail.message
    result = detail.result
    logs: dict[str, Any] = {}
    for previous, lines, exceptions, more in groups:
        count = detail.log_counts.previous if previous else detail.log_counts.current
        logs["previous" if previous else "current"] = {
            "count": count,
            "shown": len(lines),
            "truncated": more,
            "lines": [_line_json(line, exc) for line, exc in zip(lines, exceptions, strict=True)],
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
