"""One task in full as `tasktui show` prints it (`report_lines`), and the incident bundle that
`tasktui export --bundle` writes (`bundle_markdown`), which quotes those same lines.

Database text in the Markdown goes through the one sanitiser (tasktui.core.text), and a fence
longer than any backtick run keeps it inside its block.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC

from rich.text import Text

from tasktui.core.export import IncidentBundle
from tasktui.core.task_report import TaskReport
from tasktui.core.text import escape_control
from tasktui.core.workers import workers_by_urgency
from tasktui.render import detail as rendered
from tasktui.render import styles
from tasktui.render.detail import format_time
from tasktui.render.text import assemble


def _rows(rows: list[rendered.Row]) -> Iterator[Text]:
    for label, value in rows:
        yield assemble((f"  {label:<14}", styles.LABEL)).append_text(value)


def report_lines(report: TaskReport) -> Iterator[Text]:
    detail = report.detail
    yield assemble(("Task ", styles.LABEL), (detail.message_id, styles.LABEL))
    yield from _rows(rendered.task_rows(detail)[1:])  # the id is the title
    yield Text("")
    yield assemble((rendered.blob_title("Message", detail.message.decoded), styles.LABEL))
    yield from _rows(rendered.message_rows(detail.message))
    yield Text("")
    yield assemble((rendered.blob_title("Result", detail.result.decoded), styles.LABEL))
    yield from _rows(rendered.result_rows(detail.result))
    for group in report.groups:
        yield Text("")
        count = detail.log_counts.previous if group.previous else detail.log_counts.current
        title = "Previous attempts" if group.previous else "Current attempt"
        yield assemble((f"{title}: {count} log line{'s' if count != 1 else ''}", styles.LABEL))
        if not group.lines:
            yield Text("  (none)")
        for line, exception in zip(group.lines, group.exceptions, strict=True):
            yield Text("  ").append_text(rendered.log_line(line))
            for text in rendered.traceback_lines(exception):
                yield Text("      ").append_text(text)
        if group.truncated:
            yield assemble((f"  … {count - len(group.lines)} more not shown (--max-logs 0 shows all)", styles.MUTED))


# --- the incident bundle --------------------------------------------------------------------


def _fenced(lines: Sequence[str], info: str = "text") -> list[str]:
    """A fenced code block that no line can close early (CommonMark: a longer fence)."""
    longest = max((len(run) for line in lines for run in re.findall(r"`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}{info}", *lines, fence]


def _cell(value: object) -> str:
    """Database text inline in Markdown (a heading, a table cell): one line, controls inert, and
    backslashes, pipes and backticks escaped so that it reads as the text it is."""
    text = escape_control("" if value is None else str(value), multiline=False)
    return re.sub(r"([\\|`])", r"\\\1", text) or " "


def _table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in rows]
    return lines


def bundle_markdown(bundle: IncidentBundle) -> str:
    """The bundle as one Markdown document (sections: summary, task, logs, workers, counts,
    filter, versions)."""
    task = bundle.report.detail.task
    versions = bundle.versions
    lines = [
        f"# Incident bundle: {_cell(task.display_uid)} ({task.status.label})",
        "",
        f"Task `{task.message_id}` on {_cell(bundle.database)}, made by tasktui {versions.tasktui}"
        f" at {bundle.made_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC.",
        "",
        "## Task",
        "",
        *_fenced([line.plain for line in report_lines(bundle.report)]),
        "",
        "## Workers",
        "",
    ]
    workers = bundle.workers
    lines.append(
        f"{workers.alive} alive, {workers.stale} stale, {workers.dead} dead"
        + (f"; compared with {_cell(workers.reference_text)}" if workers.reference_text else "")
        + "."
    )
    lines.append("")
    if workers.workers:
        lines += _table(
            ("liveness", "worker", "version", "last seen (UTC)", "why"),
            (
                (
                    w.liveness,
                    w.worker_id,
                    w.version + (" (differs)" if w.version_mismatch else ""),
                    format_time(w.last_seen),
                    w.reason,
                )
                for w in workers_by_urgency(workers.workers)
            ),
        )
    else:
        lines.append("No worker has registered.")
    if workers.alarms:
        lines += ["", "Alarms:", ""]
        lines += [f"- {alarm.severity}: {_cell(alarm.message)}" for alarm in workers.alarms]
    status = bundle.status
    lines += ["", "## Counts", ""]
    estimated = " (finished tasks: the planner's estimate)" if status.finished_estimated else ""
    lines += _table(("status", "tasks"), ((name, f"{count:,}") for name, count in status.counts.items()))
    lines += ["", f"Rejected in the last {status.rejected_minutes} minutes: {status.rejected_recent:,}.{estimated}"]
    if status.queues:
        lines += [""]
        lines += _table(
            ("queue", "waiting", "oldest waiting (s)", "delayed", "in flight"),
            (
                (
                    queue.queue,
                    queue.waiting,
                    "" if queue.oldest_waiting_seconds is None else f"{queue.oldest_waiting_seconds:.0f}",
                    queue.delayed,
                    queue.in_flight,
                )
                for queue in status.queues
            ),
        )
    lines += [
        "",
        "## Filter",
        "",
        f"What was shown: {_cell(bundle.task_filter.describe())}. As SQL over the console's task query"
        " (`authentik_tasks_task AS t`):",
        "",
        *_fenced([f"WHERE {bundle.filter_sql}"], "sql"),
        "",
        *_fenced([json.dumps(bundle.filter_params, ensure_ascii=True, default=str)], "json"),
        "",
        "## Versions",
        "",
        f"- tasktui {versions.tasktui} (installs notify trigger version {versions.trigger_installs};"
        f" installed here: {versions.trigger_installed if versions.trigger_installed is not None else 'none'})",
        f"- authentik: {_cell(versions.authentik_basis) or 'unknown (no worker has registered)'}",
        f"- PostgreSQL {_cell(versions.postgres)}",
        "",
    ]
    return "\n".join(lines)
