"""Rich `Text` for the task detail and the worker panel, shared by the CLI and the UI.

Every piece of database text goes through tasktui.core.text (escaped, never parsed as markup),
so a caller can hand these objects straight to a Textual widget or a Rich console. Styles are
plain Rich style strings; the UI may restyle by span if its theme wants to.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from rich.cells import cell_len
from rich.text import Text

from tasktui.core import retry, safe_pickle
from tasktui.core.detail import LogLine, TaskDetail, format_exception
from tasktui.core.retry import BulkPreview, BulkSummary, Outcome
from tasktui.core.status import status_of
from tasktui.core.text import assemble, cut, fit_cells
from tasktui.core.timefmt import absolute_utc, duration
from tasktui.core.workers import Alarm, OrphanedTask, WorkerInfo, describe_age

LABEL_STYLE = "bold"
LEVEL_STYLES = {
    "debug": "dim",
    "info": "",
    "warning": "yellow",
    "warn": "yellow",
    "error": "bold red",
    "critical": "bold red",
    "exception": "bold red",
}
ERROR_LEVELS = frozenset(("error", "critical", "exception"))
# By tasktui.core.status style class.
STATUS_STYLES = {
    "error": "bold red",
    "warning": "yellow",
    "active": "cyan",
    "queued": "blue",
    "success": "green",
    "unknown": "magenta",  # a state or status tasktui does not know: look at it, it is new
}
LIVENESS_STYLES = {"alive": "green", "stale": "yellow", "dead": "dim"}
SEVERITY_STYLES = {"error": "bold red", "warning": "yellow"}
ATTRIBUTES_CHARS = 2000  # characters of a log line's attributes shown after its event
# Every value is bounded before it is laid out (the rest is counted: "… N more characters"), so
# that one huge value cannot take the screen or the event loop; `show --json` prints it whole.
VALUE_CHARS = 2_000  # of a field's value
NAME_CHARS = 200  # of a name inside a line of a listing (an actor, a host, an error key)

Row = tuple[str, Text]  # (label, value)


def format_time(value: datetime | None) -> str:
    """UTC with microseconds (log lines a millisecond apart must stay distinguishable)."""
    if value is None:
        return "—"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f UTC")


def _value(value: object, style: str = "", limit: int = VALUE_CHARS) -> Text:
    return assemble((cut(value if value is not None else "—", limit), style))


def task_rows(detail: TaskDetail, *, limit: int = VALUE_CHARS) -> list[Row]:
    """The task's fields, in the order a reader wants them; each value at most `limit`
    characters, followed by how many more there are."""
    task = detail.task
    status = status_of(task.effective_status)
    tenant = task.tenant_name or task.tenant_id
    if task.tenant_name and task.tenant_id:
        tenant = f"{task.tenant_name} ({task.tenant_id})"
    status_text = assemble((f"{status.label} [{task.effective_status}]", STATUS_STYLES.get(status.style, "")))
    if task.status_differs:
        # authentik stores "done" for finished tasks whatever they logged (reference §2.2).
        status_text.append_text(assemble((f" (stored: {task.aggregated_status})", "dim")))
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
        ("eta", _value(format_time(task.eta) if task.eta else None, limit=limit)),
        ("last change", _value(format_time(task.mtime), limit=limit)),
        ("result expiry", _value(format_time(task.result_expiry) if task.result_expiry else None, limit=limit)),
    ]


def message_rows(message: safe_pickle.DecodedMessage, *, limit: int = VALUE_CHARS) -> list[Row]:
    """The decoded `message`: the call, its arguments and options — or why there are none."""
    decoded = message.decoded
    if not decoded.ok:
        return [
            ("", _value(decoded.describe(), "dim" if decoded.outcome in ("empty", "null") else "yellow", limit=limit))
        ]
    if message.problem:
        return [
            ("", _value(message.problem, "yellow", limit=limit)),
            ("value", _value(safe_pickle.render(decoded.value), limit=limit)),
        ]
    rows = [
        ("call", _value(message.summary(), limit=limit)),
        ("args", _value(safe_pickle.render(message.args), limit=limit)),
        ("kwargs", _value(safe_pickle.render(message.kwargs), limit=limit)),
        ("options", _value(safe_pickle.render(message.options), limit=limit)),
    ]
    if message.timestamp and message.timestamp.timestamp() > 0:
        rows.append(("sent", _value(format_time(message.timestamp), limit=limit)))
    return rows


def result_rows(result: safe_pickle.DecodedResult, *, limit: int = VALUE_CHARS) -> list[Row]:
    if result.is_exception:
        return [("exception", _value(result.summary(), "bold red", limit=limit))]
    if result.decoded.ok:
        return [("value", _value(safe_pickle.render(result.decoded.value), limit=limit))]
    return [
        (
            "",
            _value(
                result.decoded.describe(), "yellow" if result.decoded.outcome == "undecodable" else "dim", limit=limit
            ),
        )
    ]


def blob_title(name: str, decoded: safe_pickle.Decoded) -> str:
    return f"{name} ({decoded.size} bytes)" if decoded.size else name


def log_line(
    line: LogLine, *, attributes_chars: int = ATTRIBUTES_CHARS, time_only: bool = False, logger_chars: int = 0
) -> Text:
    """One log line on one line: time, level, logger, event, then attributes (without the
    exception, which `traceback_lines` shows) or their size when they were not fetched.

    For narrow displays (the console at 80 columns), `time_only` drops the date and zone from the
    timestamp and `logger_chars` keeps only the end of a long logger name (its most specific
    part), so that the event still fits on the row."""
    if line.timestamp is None:
        when = f"{line.timestamp_text or '?'} (unreadable)"
    elif time_only:
        when = line.timestamp.astimezone(UTC).strftime("%H:%M:%S.%f")
    else:
        when = format_time(line.timestamp)
    level = line.level.lower()
    event = line.event + (f" … ({line.event_bytes} bytes in all)" if line.event_truncated else "")
    logger = line.logger
    if 0 < logger_chars < len(logger):
        logger = "…" + logger[len(logger) - logger_chars + 1 :]
    parts: list[str | tuple[object, str]] = [
        (when, "dim"),
        "  ",
        (f"{line.level.upper():<8}", LEVEL_STYLES.get(level, "")),
        " ",
        (logger, "cyan"),
        "  ",
        (event, "bold" if level in ERROR_LEVELS else ""),
    ]
    if line.legacy:
        parts.append(("  [legacy]", "dim"))
    if line.attributes_inline:
        rest = line.attributes_without_exception
        if rest:
            parts += ["  ", (cut(json.dumps(rest, default=str, ensure_ascii=False), attributes_chars), "dim")]
    else:
        parts += ["  ", (f"(attributes: {line.attributes_size} bytes, not shown)", "dim")]
    return assemble(*parts)


def wants_exception(line: LogLine) -> bool:
    """Whether to look for an exception: inline attributes tell at once; attributes too large
    to come with the page are worth a (bounded) fetch for error-level lines only."""
    return line.attributes_inline or line.level.lower() in ERROR_LEVELS


TRACEBACK_STYLE = "red"


def traceback_lines(exception: Any) -> list[Text]:
    """structlog's exception value as traceback lines (see detail.format_exception)."""
    return [assemble((text, TRACEBACK_STYLE)) for text in format_exception(exception)]


def worker_line(worker: WorkerInfo, *, host_width: int = 0, version_width: int = 0) -> Text:
    mismatch: str | tuple[object, str] = ("  version differs", "yellow") if worker.version_mismatch else ""
    text = assemble(
        (f"{worker.liveness:<6}", LIVENESS_STYLES[worker.liveness]),
        "  ",
        cut(worker.hostname, NAME_CHARS),
        "  ",
    )
    # Pad after escaping, in cells: the escaped text is what takes up the columns.
    text.pad_right(max(0, host_width + 10 - cell_len(text.plain)))
    version = assemble(cut(worker.version, NAME_CHARS), "  ")
    version.pad_right(max(0, version_width + 2 - cell_len(version.plain)))
    text.append_text(version)
    text.append_text(
        assemble(
            (f"last seen {format_time(worker.last_seen)}", "dim"),
            "  ",
            worker.reason,
            mismatch,
        )
    )
    return text


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


def shared_host_prefix(hostnames: Sequence[str]) -> str:
    """The prefix all hosts share, up to a separator (pods differ only at the end:
    authentik-worker-7d9f8c6b5-6jpvy): said once, so a narrow column keeps what differs."""
    if len(hostnames) < 2:
        return ""
    common = os.path.commonprefix(list(hostnames))  # noqa: RUF071 - characters, not path parts, on purpose
    boundary = max(common.rfind("-"), common.rfind("."))
    return common[: boundary + 1] if boundary >= 5 else ""


def short_hostname(hostname: str, prefix: str = "", width: int = 0) -> str:
    """`hostname` (already escaped) for a column `width` wide: without the shared `prefix`
    (marked by a leading "…"), then, if still too long, cut in the middle — the end is what tells
    pods apart, so it keeps two thirds of the room."""
    text = "…" + hostname[len(prefix) :] if prefix and hostname.startswith(prefix) else hostname
    if width > 2 and cell_len(text) > width:
        tail = (width - 1) * 2 // 3
        head = width - 1 - tail
        # Measured and cut in cells; fit_cells marks each cut with the "…" they share.
        text = fit_cells(text, head + 1) + fit_cells(text, tail + 1, keep_end=True)[1:]
    return text


def flow(pieces: Sequence[Text], width: int, separator: str = "  ") -> list[Text]:
    """`pieces` laid out in lines of at most `width` cells, broken only between pieces (a legend
    entry or a summary item never splits mid-phrase). A piece wider than `width` gets a line of
    its own, where the widget may still wrap or crop it."""
    lines: list[Text] = []
    line = Text(end="")
    for piece in pieces:
        if line.plain and width > 0 and cell_len(line.plain) + len(separator) + cell_len(piece.plain) > width:
            lines.append(line)
            line = Text(end="")
        if line.plain:
            line.append(separator)
        line.append_text(piece)
    if line.plain or not lines:
        lines.append(line)
    return lines


def orphan_line(orphan: OrphanedTask) -> Text:
    return assemble(
        orphan.message_id,
        "  ",
        (orphan.state, "red"),
        "  ",
        orphan.actor_name + (f":{orphan.uid}" if orphan.uid else ""),
        "  ",
        (f"claimed {describe_age(orphan.age)}", "dim"),
    )


def alarm_line(alarm: Alarm) -> Text:
    return assemble((f"{alarm.severity}: ", SEVERITY_STYLES[alarm.severity]), alarm.message)


# -- bulk retry (the CLI prints these; the console shows them in its bulk retry screen) ---------

TOP_GROUPS = 10

_SKIP_LABEL = {
    retry.SkipReason.ACTIVE_TWIN: "already queued or running",
    retry.SkipReason.OLDER_DUPLICATE: "older than another rejected one",
}


def bulk_preview_text(preview: BulkPreview, rate: float) -> str:
    lines = [f"Bulk retry on {preview.database}", f"  filter: {preview.task_filter.describe()}, state rejected"]
    matching = f"  matching rejected tasks: {preview.describe_matching()}"
    if preview.limited:
        matching += f" (this run covers the newest {len(preview.tasks):,}: --limit)"
    lines.append(matching)
    if not preview.tasks:
        lines.append("  nothing to retry")
        return "\n".join(lines)
    skipped = preview.skipped
    skip_text = ""
    if skipped:
        parts = [f"{n:,} {_SKIP_LABEL[reason]}" for reason, n in sorted(skipped.items())]
        skip_text = " (same actor and uid: " + ", ".join(parts) + ")"
    lines.append(f"  to retry: {len(preview.to_retry):,}   skipped: {sum(skipped.values()):,}{skip_text}")
    error_title = "By error"
    if preview.errors_analysed < len(preview.tasks):
        error_title += f" of the newest {preview.errors_analysed:,}"
    for title, groups in (("By actor", preview.by_actor), (error_title, preview.by_error)):
        lines.append(f"{title} (to retry / matching):")
        for group in groups[:TOP_GROUPS]:
            key = cut(group.key, NAME_CHARS) if group.key else retry.NO_ERROR_LOGGED
            lines.append(f"  {group.to_retry:>7,} / {group.planned:<7,} {key}")
        if len(groups) > TOP_GROUPS:
            lines.append(f"  … and {len(groups) - TOP_GROUPS:,} more")
    lines.append("Newest:")
    for item in preview.sample:
        task = item.task
        retries = "" if task.retries is None else f"  retries {task.retries}"
        skip = f"  [skip: {retry.SKIP_TEXT[item.skip]}]" if item.skip else ""
        uid = cut(task.display_uid, NAME_CHARS)
        lines.append(f"  {absolute_utc(task.mtime)}  {task.message_id}  {uid}{retries}{skip}")
        if item.error is not None:
            lines.append(f"      {cut(item.error, VALUE_CHARS) if item.error else retry.NO_ERROR_LOGGED}")
    count = len(preview.to_retry)
    if rate > 0 and count:
        lines.append(f"At {rate:g}/s: about {duration(count / rate)} for {count:,} tasks.")
    return "\n".join(lines)


def bulk_summary_text(summary: BulkSummary) -> str:
    """How the run ended, the four counts as the sum they make (planned = retried + skipped +
    failed + not attempted), every skip by reason (marking those the preview did not show,
    found when the run re-checked the task), and the tasks worth a look."""
    lines = [f"{summary.headline()}: {summary.tally()}"]
    if summary.stopped:
        lines.append(f"  stopped by: {cut(summary.stopped, VALUE_CHARS)}")
    if summary.skipped:
        lines.append(f"  skipped {summary.skipped:,}, by reason:")
        by_reason = summary.skipped_by_reason
        rechecked = summary.skipped_when_rechecked
        for reason in retry.SkipReason:
            seen_before = by_reason[reason] - rechecked[reason]
            if seen_before:
                lines.append(f"    {seen_before:>7,}  {retry.SKIP_TEXT[reason]}")
            if rechecked[reason]:
                lines.append(f"    {rechecked[reason]:>7,}  {retry.SKIP_TEXT[reason]} (found when re-checked)")
    if summary.not_attempted:
        why = "the run stopped" if summary.stopped else "aborted" if summary.aborted else "the run ended"
        lines.append(f"  not attempted {summary.not_attempted:,}: {why} before their turn")
    # What the preview did not show: failures, and tasks that changed before their turn.
    noteworthy = [o for o in summary.outcomes if o.outcome is Outcome.FAILED or o.rechecked]
    for outcome in noteworthy[:TOP_GROUPS]:
        lines.append(f"  {outcome.message_id}  {cut(outcome.describe(), VALUE_CHARS)}")
    if len(noteworthy) > TOP_GROUPS:
        lines.append(f"  … and {len(noteworthy) - TOP_GROUPS:,} more (see the audit journal)")
    return "\n".join(lines)
