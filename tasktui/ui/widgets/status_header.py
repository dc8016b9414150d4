"""The header: which database, is the feed live, how fresh, and what the task system is doing."""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual import events

from tasktui.core.bugs import INTERNAL_ERROR
from tasktui.core.counts import StatusCounts
from tasktui.core.db import without_target
from tasktui.core.events import FeedMode, FeedStatus
from tasktui.core.health import FeedHealth
from tasktui.core.status import GROUPS
from tasktui.core.text import cut
from tasktui.ui.widgets.quiet_static import QuietStatic

SPARK = "▁▂▃▄▅▆▇█"
SPARK_SECONDS = 20  # the sparkline's seconds when there is room
MIN_SPARK = 6  # fewer seconds than this say nothing: only the rate is shown
REASON_LINES = 3  # libpq's longest (refused, with its hint) takes three at 80 columns
WIDE = 110  # from this width the counts line spells things out
NEWS_SECONDS = 30.0  # how long news such as "reconnected after 4.1s blind" stays in the header
DETAIL_CHARS = 500  # of a label or a reason: the header is a few lines, whatever the text


def sparkline(values: list[int]) -> str:
    peak = max(values) if values else 0
    if peak <= 0:
        return SPARK[0] * len(values)
    return "".join(SPARK[min(len(SPARK) - 1, round(v / peak * (len(SPARK) - 1)))] for v in values)


def _estimate(number: int) -> str:
    """An estimate, to two significant figures (1.2M, 35k, 870)."""
    if number >= 1_000_000:
        return f"{number / 1_000_000:.1f}M"
    if number >= 10_000:
        return f"{number / 1_000:.0f}k"
    if number >= 1_000:
        return f"{number / 1_000:.1f}k"
    return str(number)


def _ago(seconds: float, *, tenths: bool = True) -> str:
    if seconds < 10:
        return f"{seconds:.1f}s" if tenths else f"{int(seconds)}s"
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
    alarm_hint: str = "w: details"  # where the alarms are in full
    health: FeedHealth | None = None
    zone: str = "UTC"  # what the absolute times are in: UTC, or the local zone's name


class StatusHeader(QuietStatic):
    """One line for the feed, the reason on lines of its own while the console is blind (it is
    what the reader needs then, and it is long), then the counts — kept, marked as last known,
    while they cannot be refreshed."""

    COMPONENT_CLASSES = {
        "status-header--title",
        "status-header--live",
        "status-header--polling",
        "status-header--down",
        "status-header--reason",
        "status-header--paused",
        "status-header--group-running",
        "status-header--group-queued",
        "status-header--group-successful",
        "status-header--group-error",
        "status-header--alarm",
        "status-header--muted",
    }

    # Every line is built to be one line: cut with an ellipsis, never wrapped into the next one
    # (a wrapped first line pushed the counts out of the header).
    DEFAULT_CSS = """
    StatusHeader {
        height: auto; background: $panel; color: $text; padding: 0 1;
        text-wrap: nowrap; text-overflow: ellipsis;
    }
    StatusHeader > .status-header--title { text-style: bold; color: $accent; }
    StatusHeader > .status-header--live { color: $success; text-style: bold reverse; }
    StatusHeader > .status-header--polling { color: $warning; text-style: bold reverse; }
    StatusHeader > .status-header--down { color: $error; text-style: bold reverse; }
    StatusHeader > .status-header--reason { color: $text-error; }
    StatusHeader > .status-header--paused { color: $warning; text-style: bold reverse; }
    StatusHeader > .status-header--group-running { color: $status-active; }
    StatusHeader > .status-header--group-queued { color: $status-queued; }
    StatusHeader > .status-header--group-successful { color: $status-success; }
    StatusHeader > .status-header--group-error { color: $status-error; text-style: bold; }
    StatusHeader > .status-header--alarm { color: $error; text-style: bold; }
    StatusHeader > .status-header--muted { color: $text-muted; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._shown: tuple[HeaderState, float] | None = None

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"status-header--{name}")

    def _width(self) -> int:
        width = self.content_region.width
        return width if width > 0 else max(20, self.app.size.width - 2)

    def on_resize(self, event: events.Resize) -> None:
        # The reason is wrapped and the sparkline sized for the width: lay them out again.
        if self._shown is not None:
            self.show(*self._shown)

    def show(self, state: HeaderState, now: float) -> None:
        self._shown = (state, now)
        width = self._width()
        status = state.status
        down = status.mode in (FeedMode.RECONNECTING, FeedMode.FAILED)
        first = self._first_line(state, now, down, compact=False)
        if cell_len(first.plain) > width:
            # Narrow: shorter words and no quiet figures, so that the database's name stays whole.
            first = self._first_line(state, now, down, compact=True)
        # Which zone the table's and the detail's times are in (`z` switches), where there is room
        # left: the database's name comes first.
        for zone in (f"  times {state.zone}", f"  {state.zone}"):
            if cell_len(first.plain) + len(zone) <= width:
                first.append(zone, self._style("muted"))
                break

        lines = [first]
        if down and status.detail:
            lines += self._reason(without_target(status.detail, status.label), width)
        lines.append(self._counts_line(state, stale=down, width=width, now=now))
        counts = state.counts
        if not down and counts is not None and counts.stale and counts.stale_reason.startswith(INTERNAL_ERROR):
            # A bug in the counts loop, not the server: why they are stale, naming the debug log.
            lines += self._reason(counts.stale_reason, width)
        if state.alarms:
            lines.append(self._alarms_line(state.alarms, width, state.alarm_hint))
        both = Text("\n").join(lines)
        both.no_wrap, both.overflow = True, "ellipsis"
        self.show_text(both)

    def _first_line(self, state: HeaderState, now: float, down: bool, *, compact: bool) -> Text:
        """Which database, the feed's mode and freshness; `compact` drops a zero drift and the
        last event's age and says "N buffered" for "N changes buffered · feed"."""
        status = state.status
        first = Text()
        first.append("tasktui ", self._style("title"))
        if state.paused:
            first.append(" PAUSED ", self._style("paused"))
            changes = "change" if state.buffered == 1 else "changes"
            said = f" {state.buffered:,} buffered " if compact else f" {state.buffered:,} {changes} buffered · feed "
            first.append(said, self._style("muted"))
        mode_style = {
            FeedMode.LIVE: "live",
            FeedMode.POLLING: "polling",
            FeedMode.CONNECTING: "polling",
        }.get(status.mode, "down")
        # A reversed badge, not a ● bullet: ambiguous-width glyphs misalign some terminals.
        first.append(f" {status.mode.value} ", self._style(mode_style))
        if down and status.blind_since:
            first.append(f" blind {_ago(now - status.blind_since)}", self._style("down"))
        news_is_old = status.fades and now - status.at > NEWS_SECONDS
        if status.detail and not down and not news_is_old:
            detail_style = "polling" if status.mode == FeedMode.POLLING else "muted"
            first.append(f" — {cut(status.detail, DETAIL_CHARS)}", self._style(detail_style))
        # While blind no event can arrive: the blind time is the one that counts.
        if state.last_event_at is not None and not down and not compact:
            # Whole seconds: under load it would change on every redraw, and the header with it.
            age = _ago(max(0.0, now - state.last_event_at), tenths=False)
            first.append(f"  last event {age} ago", self._style("muted"))
        if state.health is not None and status.mode == FeedMode.LIVE:
            # The feed's self-audit: rows the re-check had to heal. 0 on a healthy installation.
            drift = state.health.drift_last_hour
            if not (compact and drift == 0):
                first.append(f"  drift {drift}/h", self._style("alarm" if drift else "muted"))
        first.append("  ")
        # The label is --label or the database's name: either may hold anything (an ESC would
        # retitle the terminal).
        first.append(cut(status.label, DETAIL_CHARS), self._style("muted"))
        return first

    def _reason(self, reason: str, width: int) -> list[Text]:
        """Why the console is blind, wrapped at words onto at most REASON_LINES lines (the
        database is named on the first line, so the reason has the room)."""
        reason = cut(reason, DETAIL_CHARS)
        wrapped = list(Text(reason, self._style("reason")).wrap(self.app.console, max(10, width)))
        if len(wrapped) > REASON_LINES:
            last = wrapped[REASON_LINES - 1]
            last.rstrip()
            last.truncate(max(0, width - 2))
            last.append(" …")
            wrapped = wrapped[:REASON_LINES]
        for line in wrapped:
            line.rstrip()
            line.end = ""
        return wrapped

    def _counts_line(self, state: HeaderState, *, stale: bool, width: int, now: float) -> Text:
        second = Text()
        if state.counts is None:
            second.append("counting…  ", self._style("muted"))
        else:
            if stale:
                # The counts cannot be refreshed while blind: keep them, but say so.
                second.append("last known: ", self._style("reason"))
            number_style = self._style("muted") if stale else None
            counts = state.counts
            for group in GROUPS:
                second.append(f"{group} ", self._style(f"group-{group.lower()}"))
                number = counts.by_group.get(group, 0)
                finished = group in ("Successful", "Error")
                # A planner's estimate is marked, and rounded as what it is.
                text = f"~{_estimate(number)}" if finished and counts.finished_estimated else f"{number:,}"
                second.append(text, number_style)
                problems = counts.successful_with_problems
                if group == "Successful" and problems:
                    # authentik counts these as successful; the table shows their logs' worst level.
                    at_least = "≥" if counts.problems_in_window else ""
                    what = "with errors/warnings" if width >= WIDE else "err/warn"
                    second.append(" ")
                    second.append(f"({at_least}{problems:,} {what})", self._style("group-error"))
                second.append("  ")
            if counts.stale and not stale:
                age = f"{_ago(now - counts.finished_counted_at)} old" if counts.finished_counted_at else "not counted"
                second.append(f"(finished counts {age}) ", self._style("reason"))
        if state.rate:
            self._append_rate(second, state.rate, width)
        return second

    def _alarms_line(self, alarms: list[str], width: int, hint: str) -> Text:
        """Every alarm in a few words, on a line of its own for as long as it holds (a dead
        worker until its row is gone); `hint` says where they are in full (the worker panel, w).
        What does not fit is counted, never cut mid-word."""
        hint = f" — {hint}"
        alarms = [cut(alarm, DETAIL_CHARS) for alarm in alarms]  # hostnames and versions are data
        shown: list[str] = []
        for alarm in alarms:
            left = len(alarms) - len(shown) - 1
            more = f" +{left} more" if left else ""
            if shown and cell_len("⚠ " + " · ".join([*shown, alarm]) + more + hint) > width:
                break
            shown.append(alarm)
        left = len(alarms) - len(shown)
        more = f" +{left} more" if left else ""
        return Text(f"⚠ {' · '.join(shown)}{more}{hint}", self._style("alarm"))

    def _append_rate(self, line: Text, rate: list[int], width: int) -> None:
        """The last full second's rate, labelled: it counts change notifications (a task changes
        state several times), not tasks; then its sparkline, after a label that says it is the
        last seconds' history (bare, a row of blocks at the line's end read as a progress bar).
        The sparkline gives way when the line is full."""
        room = width - cell_len(line.plain)
        label = f"{rate[-2] if len(rate) > 1 else 0:,} changes/s"
        if room < len(label):
            return
        line.append(label, self._style("muted"))
        spark = min(SPARK_SECONDS, room - len(label) - len(f"  last {SPARK_SECONDS}s "))
        if spark >= MIN_SPARK:
            line.append(f"  last {spark}s ", self._style("muted"))
            line.append(sparkline(rate[-spark:]), self._style("group-running"))
