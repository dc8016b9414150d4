"""A task in full as Rich `Text`, for `tasktui show` and the console's task detail: its fields,
decoded message and result, log lines and tracebacks, styled by semantic names."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from rich.text import Text

from tasktui.core import safe_pickle
from tasktui.core.detail import TaskDetail
from tasktui.core.logs import LogLine
from tasktui.core.status import ERROR_LEVELS, status_of
from tasktui.core.text import cut
from tasktui.core.timefmt import in_zone
from tasktui.core.tracebacks import format_exception
from tasktui.render import styles
from tasktui.render.text import VALUE_CHARS, assemble

ATTRIBUTES_CHARS = 2000  # characters of a log line's attributes shown after its event

Row = tuple[str, Text]  # (label, value)


def format_time(value: datetime | None, *, local: bool = False) -> str:
    """UTC (or local time) with microseconds (log lines a millisecond apart must stay
    distinguishable), and the zone's name."""
    if value is None:
        return "—"
    return in_zone(value, local).strftime("%Y-%m-%d %H:%M:%S.%f %Z")


def _value(value: object, style: str = "", limit: int = VALUE_CHARS) -> Text:
    return assemble((cut(value if value is not None else "—", limit), style))


def task_rows(detail: TaskDetail, *, limit: int = VALUE_CHARS, local: bool = False) -> list[Row]:
    """The task's fields, in the order a reader wants them; each value at most `limit`
    characters, followed by how many more there are; times in UTC, or local time."""
    task = detail.task
    status = status_of(task.effective_status)
    tenant = task.tenant_name or task.tenant_id
    if task.tenant_name and task.tenant_id:
        tenant = f"{task.tenant_name} ({task.tenant_id})"
    status_text = assemble((f"{status.label} [{task.effective_status}]", styles.status(status.style)))
    if task.status_differs:
        # authentik stores "done" for finished tasks whatever they logged (reference §2.2).
        status_text.append_text(assemble((f" (stored: {task.aggregated_status})", styles.MUTED)))
    return [
        ("message id", _value(task.message_id, limit=limit)),
        ("actor", _value(task.actor_name, limit=limit)),
        ("uid", _value(task.uid, limit=limit)),
        ("queue", _value(task.queue_name, limit=limit)),
        ("tenant", _value(tenant, limit=limit)),
        ("related", _value(task.related, limit=limit)),
        ("state", _value(task.state, limit=limit)),
        ("status", status_text),
        ("retries", _value(task.retries, limit=limit)),
        ("eta", _value(format_time(task.eta, local=local) if task.eta else None, limit=limit)),
        ("last change", _value(format_time(task.mtime, local=local), limit=limit)),
        (
            "result expiry",
            _value(format_time(task.result_expiry, local=local) if task.result_expiry else None, limit=limit),
        ),
    ]


def message_rows(message: safe_pickle.DecodedMessage, *, limit: int = VALUE_CHARS, local: bool = False) -> list[Row]:
    """The decoded `message`: the call, its arguments and options — or why there are none."""
    decoded = message.decoded
    if not decoded.ok:
        return [
            (
                "",
                _value(
                    decoded.describe(),
                    styles.MUTED if decoded.outcome in ("empty", "null") else styles.WARN,
                    limit=limit,
                ),
            )
        ]
    if message.problem:
        return [
            ("", _value(message.problem, styles.WARN, limit=limit)),
            ("value", _value(safe_pickle.render(decoded.value), limit=limit)),
        ]
    rows = [
        ("call", _value(message.summary(), limit=limit)),
        ("args", _value(safe_pickle.render(message.args), limit=limit)),
        ("kwargs", _value(safe_pickle.render(message.kwargs), limit=limit)),
        ("options", _value(safe_pickle.render(message.options), limit=limit)),
    ]
    if message.timestamp and message.timestamp.timestamp() > 0:
        rows.append(("sent", _value(format_time(message.timestamp, local=local), limit=limit)))
    return rows


def result_rows(result: safe_pickle.DecodedResult, *, limit: int = VALUE_CHARS) -> list[Row]:
    if result.is_exception:
        return [("exception", _value(result.summary(), styles.BAD, limit=limit))]
    if result.decoded.ok:
        return [("value", _value(safe_pickle.render(result.decoded.value), limit=limit))]
    return [
        (
            "",
            _value(
                result.decoded.describe(),
                styles.WARN if result.decoded.outcome == "undecodable" else styles.MUTED,
                limit=limit,
            ),
        )
    ]


def blob_title(name: str, decoded: safe_pickle.Decoded) -> str:
    return f"{name} ({decoded.size} bytes)" if decoded.size else name


def log_line(
    line: LogLine,
    *,
    attributes_chars: int = ATTRIBUTES_CHARS,
    time_only: bool = False,
    logger_chars: int = 0,
    local: bool = False,
) -> Text:
    """One log line on one line: time, level, logger, event, then attributes (without the
    exception, which `traceback_lines` shows) or their size when they were not fetched.

    For narrow displays (the console at 80 columns), `time_only` drops the date and zone from the
    timestamp and `logger_chars` keeps only the end of a long logger name (its most specific
    part), so that the event still fits on the row."""
    if line.timestamp is None:
        when = f"{line.timestamp_text or '?'} (unreadable)"
    elif time_only:
        when = in_zone(line.timestamp, local).strftime("%H:%M:%S.%f")
    else:
        when = format_time(line.timestamp, local=local)
    level = line.level.lower()
    event = line.event + (f" … ({line.event_bytes} bytes in all)" if line.event_truncated else "")
    logger = line.logger
    if 0 < logger_chars < len(logger):
        logger = "…" + logger[len(logger) - logger_chars + 1 :]
    parts: list[str | tuple[object, str]] = [
        (when, styles.MUTED),
        "  ",
        (f"{line.level.upper():<8}", styles.level(level)),
        " ",
        (logger, styles.ACCENT),
        "  ",
        (event, styles.EMPHASIS if level in ERROR_LEVELS else ""),
    ]
    if line.legacy:
        parts.append(("  [legacy]", styles.MUTED))
    if line.attributes_inline:
        rest = line.attributes_without_exception
        if rest:
            parts += ["  ", (cut(json.dumps(rest, default=str, ensure_ascii=False), attributes_chars), styles.MUTED)]
    else:
        parts += ["  ", (f"(attributes: {line.attributes_size} bytes, not shown)", styles.MUTED)]
    return assemble(*parts)


def traceback_lines(exception: Any) -> list[Text]:
    """structlog's exception value as traceback lines (see tasktui.core.tracebacks.format_exception)."""
    return [assemble((text, styles.FAILURE)) for text in format_exception(exception)]
