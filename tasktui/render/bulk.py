"""A bulk retry's preview and summary as plain lines (the CLI prints them; the console shows them
in its bulk retry screen), escaped, and wrapped with hanging indents at a width when given."""

from __future__ import annotations

import re
from textwrap import TextWrapper

from tasktui.core.bulk_retry import BulkPreview, BulkSummary
from tasktui.core.retry import NO_ERROR_LOGGED, SKIP_TEXT, Outcome, SkipReason
from tasktui.core.text import cut, escape_control
from tasktui.core.timefmt import absolute, duration
from tasktui.render.text import NAME_CHARS, VALUE_CHARS

TOP_GROUPS = 10

_SKIP_LABEL = {
    SkipReason.ACTIVE_TWIN: "already queued or running",
    SkipReason.OLDER_DUPLICATE: "older than another rejected one",
}


def hang(lines: list[str], width: int | None) -> str:
    """The lines, each wrapped at `width` (None: not wrapped) with its continuation lines under
    its text — after its indent and, for a "count / count  name" line, under the name — never at
    column 0, where they would read as lines of their own. Escaped here (what is measured is what
    is shown): the result is safe to print."""
    out: list[str] = []
    for raw in lines:
        line = escape_control(raw)
        if width is None or len(line) <= width:
            out.append(line)
            continue
        text = line.lstrip(" ")
        lead = len(line) - len(text)
        counts = _COUNTS.match(text)
        under = lead + (counts.end() if counts else 0)
        wrapper = TextWrapper(
            width=width,
            initial_indent=" " * lead,
            subsequent_indent=" " * min(under, width // 2),
            break_on_hyphens=False,
        )
        out.extend(wrapper.wrap(text))
    return "\n".join(out)


_COUNTS = re.compile(r"[\d,]+ / [\d,]+ +")  # a group line's counts: the name starts after them


def bulk_preview_text(preview: BulkPreview, rate: float, width: int | None = None) -> str:
    """The preview, escaped; wrapped at `width` with hanging indents when given (see hang)."""
    return hang(bulk_preview_lines(preview, rate), width)


def bulk_preview_lines(preview: BulkPreview, rate: float) -> list[str]:
    lines = [f"Bulk retry on {preview.database}", f"  filter: {preview.task_filter.describe()}, state rejected"]
    matching = f"  matching rejected tasks: {preview.describe_matching()}"
    if preview.limited:
        matching += f" (this run covers the newest {len(preview.tasks):,}: --limit)"
    lines.append(matching)
    if not preview.tasks:
        lines.append("  nothing to retry")
        return lines
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
            key = cut(group.key, NAME_CHARS) if group.key else NO_ERROR_LOGGED
            lines.append(f"  {group.to_retry:>7,} / {group.planned:<7,} {key}")
        if len(groups) > TOP_GROUPS:
            lines.append(f"  … and {len(groups) - TOP_GROUPS:,} more")
    lines.append("Newest:")
    for item in preview.sample:
        task = item.task
        retries = "" if task.retries is None else f"  retries {task.retries}"
        skip = f"  [skip: {SKIP_TEXT[item.skip]}]" if item.skip else ""
        uid = cut(task.display_uid, NAME_CHARS)
        lines.append(f"  {absolute(task.mtime)}  {task.message_id}  {uid}{retries}{skip}")
        if item.error is not None:
            lines.append(f"      {cut(item.error, VALUE_CHARS) if item.error else NO_ERROR_LOGGED}")
    count = len(preview.to_retry)
    if rate > 0 and count:
        lines.append(f"At {rate:g}/s: about {duration(count / rate)} for {count:,} tasks.")
    return lines


def bulk_summary_text(summary: BulkSummary, width: int | None = None) -> str:
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
        for reason in SkipReason:
            seen_before = by_reason[reason] - rechecked[reason]
            if seen_before:
                lines.append(f"    {seen_before:>7,}  {SKIP_TEXT[reason]}")
            if rechecked[reason]:
                lines.append(f"    {rechecked[reason]:>7,}  {SKIP_TEXT[reason]} (found when re-checked)")
    if summary.not_attempted:
        why = "the run stopped" if summary.stopped else "aborted" if summary.aborted else "the run ended"
        lines.append(f"  not attempted {summary.not_attempted:,}: {why} before their turn")
    # What the preview did not show: failures, and tasks that changed before their turn.
    noteworthy = [o for o in summary.outcomes if o.outcome is Outcome.FAILED or o.rechecked]
    for outcome in noteworthy[:TOP_GROUPS]:
        lines.append(f"  {outcome.message_id}  {cut(outcome.describe(), VALUE_CHARS)}")
    if len(noteworthy) > TOP_GROUPS:
        lines.append(f"  … and {len(noteworthy) - TOP_GROUPS:,} more (see the audit journal)")
    return hang(lines, width)
