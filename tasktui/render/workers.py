"""Workers as Rich `Text`, for `tasktui workers` and the console's worker panel."""

from __future__ import annotations

import os
from collections.abc import Sequence

from rich.cells import cell_len
from rich.text import Text

from tasktui.core.text import cut, fit_cells
from tasktui.core.workers import Alarm, OrphanedTask, WorkerInfo, describe_age
from tasktui.render import styles
from tasktui.render.detail import format_time
from tasktui.render.text import NAME_CHARS, assemble


def worker_line(worker: WorkerInfo, *, host_width: int = 0, version_width: int = 0) -> Text:
    mismatch: str | tuple[object, str] = ("  version differs", styles.WARN) if worker.version_mismatch else ""
    text = assemble(
        (f"{worker.liveness:<6}", styles.liveness(worker.liveness)),
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
            (f"last seen {format_time(worker.last_seen)}", styles.MUTED),
            "  ",
            worker.reason,
            mismatch,
        )
    )
    return text


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


def orphan_line(orphan: OrphanedTask) -> Text:
    return assemble(
        orphan.message_id,
        "  ",
        (orphan.state, styles.FAILURE),
        "  ",
        orphan.actor_name + (f":{orphan.uid}" if orphan.uid else ""),
        "  ",
        (f"claimed {describe_age(orphan.age)}", styles.MUTED),
    )


def alarm_line(alarm: Alarm) -> Text:
    return assemble((f"{alarm.severity}: ", styles.severity(alarm.severity)), alarm.message)
