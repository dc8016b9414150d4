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

import psycopg
from rich.text import Text

from tasktui.commands._output import note_lookups, print_lines, write_stdout
from tasktui.commands._run import run_command
from tasktui.core import presentation, safe_pickle
from tasktui.core.db import Target, explain
from tasktui.core.detail import (
    MAX_PAGE,
    MIN_PREFIX,
    InvalidMessageId,
    LogLine,
    TaskDetail,
    TaskNotFound,
    exception_of,
    fetch_logs,
    format_exception,
    load_detail,
    parse_id_or_prefix,
    resolve_message_id,
)
from tasktui.core.session import Session, open_session
from tasktui.core.text import assemble

DEFAULT_MAX_LOGS = 1000

# One attempt group of logs: (previous?, lines, their exceptions, more left out?).
LogGroup = tuple[bool, list[LogLine], list[Any], bool]


def add_parser(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "show",
        parents=[common],
        help="show one task: fields, decoded message and result, current and previous logs",
        description=(
            "Show one task in full. Text from the database is printed literally: control characters"
            " and escape sequences appear as visible escapes."
        ),
        epilog="""\
examples:
  tasktui show 3fa85f64-5717-4562-b3fc-2c963f66afa6
  tasktui show 3fa85f64 --json | jq '.logs.current.lines[-1]'   # by the 8 digits the table shows

exit status: 0; 1 no task has this id (whole or prefix); 2 not an id, or a prefix several ids
start with, or the server cannot be reached
""",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "message_id",
        metavar="MESSAGE_ID",
        type=_message_id,
        help=f"the task's message id (a UUID), or its first {MIN_PREFIX}+ hex digits as the console's table shows them",
    )
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
        return parse_id_or_prefix(value)
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
        note_lookups(session.layout)
        try:
            message_id = await resolve_message_id(session, message_id)
            detail = await load_detail(session, message_id)
            if detail is None:
                raise TaskNotFound(f"no task with message id {message_id} on {session.label}")
            groups: list[LogGroup] = []
            for previous in (False, True):
                lines, more = await _collect_logs(session, message_id, previous=previous, max_logs=max_logs)
                exceptions = [await _exception(session, line) for line in lines]
                groups.append((previous, lines, exceptions, more))
        except psycopg.Error as exc:  # a timeout or a lost connection: one line, no traceback
            raise explain(exc, target) from None
    if as_json:
        write_stdout(json.dumps(_as_json(detail, groups), ensure_ascii=True, indent=2) + "\n")
        return 0
    print_lines(list(_text_lines(detail, groups)))
    return 0


async def _exception(session: Session, line: LogLine) -> Any:
    return await exception_of(session, line) if presentation.wants_exception(line) else None


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


# --- text -----------------------------------------------------------------------------------


def _rows(rows: list[presentation.Row]) -> Iterator[Text]:
    for label, value in rows:
        yield assemble((f"  {label:<14}", presentation.LABEL_STYLE)).append_text(value)


def _text_lines(detail: TaskDetail, groups: list[LogGroup]) -> Iterator[Text]:
    yield assemble(("Task ", presentation.LABEL_STYLE), (detail.message_id, presentation.LABEL_STYLE))
    yield from _rows(presentation.task_rows(detail)[1:])  # the id is the title
    yield Text("")
    yield assemble((presentation.blob_title("Message", detail.message.decoded), presentation.LABEL_STYLE))
    yield from _rows(presentation.message_rows(detail.message))
    yield Text("")
    yield assemble((presentation.blob_title("Result", detail.result.decoded), presentation.LABEL_STYLE))
    yield from _rows(presentation.result_rows(detail.result))
    for previous, lines, exceptions, more in groups:
        yield Text("")
        count = detail.log_counts.previous if previous else detail.log_counts.current
        title = "Previous attempts" if previous else "Current attempt"
        yield assemble((f"{title}: {count} log line{'s' if count != 1 else ''}", presentation.LABEL_STYLE))
        if not lines:
            yield Text("  (none)")
        for line, exception in zip(lines, exceptions, strict=True):
            yield Text("  ").append_text(presentation.log_line(line))
            for text in presentation.traceback_lines(exception):
                yield Text("      ").append_text(text)
        if more:
            yield assemble((f"  … {count - len(lines)} more not shown (--max-logs 0 shows all)", "dim"))


# --- JSON -----------------------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


def _as_json(detail: TaskDetail, groups: list[LogGroup]) -> dict[str, Any]:
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
