"""The header: which database, is the feed live, how fresh, and what the task system is doing."""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.text import Text
from textual.widgets import Static

from tasktui.core.feed import FeedMode, FeedStatus, StatusCounts
from tasktui.core.status import GROUPS

SPARK = "▁▂▃▄▅▆▇█"


def sparkline(values: list[int]) -> str:
    peak = max(values) if values else 0
    if peak <= 0:
        return SPARK[0] * len(values)
    return "".join(SPARK[min(len(SPARK) - 1, round(v / peak * (len(SPARK) - 1)))] for v in values)


def _ago(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.1f}s"
    if seconds < 120:
        return f"{int(seconds)}s"
    if seconds < 7200:
        return f"{int(seconds // 60)}m"
    return f"{int(seconds // 3600)}h"


@dataclass
class HeaderState:
    status: FeedStatus
    counts: StatusCounts | None = None
    rate: list[int] = field(default_factory=list)
    last_event_at: float | None = None
    paused: bool = False
    buffered: int = 0
    alarms: list[str] = field(default_factory=list)


class StatusHeader(Static):
    COMPONENT_CLASSES = {
        "status-header--title",
        "status-header--live",
        "status-header--polling",
        "status-header--down",
        "status-header--paused",
        "status-header--group-running",
        "status-header--group-queued",
        "status-header--group-successful",
        "status-header--group-error",
        "status-header--alarm",
        "status-header--dim",
    }

    DEFAULT_CSS = """
    StatusHeader { height: 2; background: $panel; color: $text; padding: 0 1; }
    StatusHeader > .status-header--title { text-style: bold; color: $accent; }
    StatusHeader > .status-header--live { color: $success; text-style: bold reverse; }
    StatusHeader > .status-header--polling { color: $warning; text-style: bold reverse; }
    StatusHeader > .status-header--down { color: $error; text-style: bold reverse; }
    StatusHeader > .status-header--paused { color: $warning; text-style: bold reverse; }
    StatusHeader > .status-header--group-running { color: $primary-lighten-2; }
    StatusHeader > .status-header--group-queued { color: $text-muted; }
    StatusHeader > .status-header--group-successful { color: $success; }
    StatusHeader > .status-header--group-error { color: $error; text-style: bold; }
    StatusHeader > .status-header--alarm { color: $error; text-style: bold; }
    StatusHeader > .status-header--dim { color: $text-muted; }
    """

    def _style(self, name: str):
        return self.get_component_rich_style(f"status-header--{name}")

    def show(self, state: HeaderState, now: float) -> None:
        status = state.status
        first = Text(no_wrap=True, overflow="ellipsis")
        first.append("tasktui ", self._style("title"))
        if state.paused:
            first.append(" PAUSED ", self._style("paused"))
            changes = "change" if state.buffered == 1 else "changes"
            first.append(f" {state.buffered:,} {changes} buffered · feed ", self._style("dim"))
        mode_style = {
            FeedMode.LIVE: "live",
            FeedMode.POLLING: "polling",
            FeedMode.CONNECTING: "polling",
        }.get(status.mode, "down")
        # A reversed badge, not a ● bullet: ambiguous-width glyphs misalign some terminals.
        first.append(f" {status.mode.value} ", self._style(mode_style))
        if status.mode in (FeedMode.RECONNECTING, FeedMode.FAILED) and status.blind_since:
            first.append(f" blind {_ago(now - status.blind_since)}", self._style("down"))
        if status.detail:
            detail_style = "polling" if status.mode == FeedMode.POLLING else "dim"
            first.append(f" — {status.detail}", self._style(detail_style))
        if state.last_event_at is not None:
            first.append(f"  last event {_ago(max(0.0, now - state.last_event_at))} ago", self._style("dim"))
        first.append("  ")
        first.append(status.label, self._style("dim"))

        second = Text(no_wrap=True, overflow="ellipsis")
        if state.counts is None:
            second.append("counting…  ", self._style("dim"))
        else:
            for group in GROUPS:
                second.append(f"{group} ", self._style(f"group-{group.lower()}"))
                second.append(f"{state.counts.by_group.get(group, 0):,}  ")
        if state.alarms:
            # The first alarm in full (as far as it fits); the worker panel (w) lists them all.
            more = f" (+{len(state.alarms) - 1} more, w)" if len(state.alarms) > 1 else ""
            second.append(f"⚠ {state.alarms[0]}{more}  ", self._style("alarm"))
        if state.rate:
            recent = state.rate[-20:]
            second.append(sparkline(recent), self._style("group-running"))
            second.append(f" {recent[-2] if len(recent) > 1 else 0}/s  ", self._style("dim"))
        both = Text("\n").join([first, second])
        both.no_wrap, both.overflow = True, "ellipsis"
        self.update(both)
