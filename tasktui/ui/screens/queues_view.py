"""`D`: is it draining? (tasktui.core.incidents.draining) — per queue, what waits now, arrivals
and completions per minute, and the forecast with its basis below. A retry whose eta passed
counts as due only 30 s after it (authentik's consumers poll such rows after 30 s without a
notification): the core's rule, shown as the core says it."""

from __future__ import annotations

from rich.text import Text

from tasktui.core.incidents.draining import QueueFlow, QueueReport
from tasktui.core.text import cut
from tasktui.core.workers import describe_age
from tasktui.render import styles
from tasktui.render.incidents import VERDICT_STYLE
from tasktui.render.text import NAME_CHARS, assemble, safe_text
from tasktui.ui.screens.incident_view import IncidentView, ViewColumn, ViewRow, lines, tail
from tasktui.ui.widgets.status_header import sparkline

REFRESH_SECONDS = 10.0  # 20–55 ms on a million tasks a day (bench/incident_views.py): 0.2–0.5 %
MINUTES = 5  # the window the rates are read over (the forecast reads its newest minute)


def newest_minute(series: tuple[int, ...] | None) -> str:
    """The newest minute's count: the rate the forecast reads (its basis says so)."""
    return "?" if series is None else f"{series[-1]:,}" if series else "0"


class QueuesView(IncidentView):
    VIEW_TITLE = "Is it draining? — per queue (Esc: back)"
    OPENS_TASKS = False  # a queue has no task to open (Enter on a row says so)
    REFRESH_SECONDS = REFRESH_SECONDS

    report: QueueReport | None

    async def fetch(self) -> QueueReport:
        return await self.service.queue_flows(MINUTES)

    def flow(self, key: str) -> QueueFlow | None:
        if self.report is None:
            return None
        return next((f for f in self.report.queues if f.queue_name == key), None)

    def summary(self) -> str:
        report = self.report
        assert report is not None
        stalled = len(report.stalled)
        queues = len(report.queues)
        text = f"{queues:,} queue{'s' if queues != 1 else ''}"
        if stalled:
            text += f", {stalled} stalled"
        text += f"; rates over the last minute, series over {report.minutes} min"
        if report.capped:
            text += " (lower bounds: more rows than tasktui reads at once)"
        return text

    def columns(self, width: int) -> list[ViewColumn]:
        return [
            ViewColumn("Queue", 12 if width < 100 else 20),
            ViewColumn("Waiting", 7),
            ViewColumn("Delayed", 7),
            ViewColumn("Running", 7),
            ViewColumn("In/min", 6),
            ViewColumn("Out/min", 7),
            ViewColumn("Forecast", 0),
        ]

    def rows(self, width: int) -> list[ViewRow]:
        report = self.report
        assert report is not None
        queue_width = 12 if width < 100 else 20
        return [
            ViewRow(
                flow.queue_name,
                [
                    safe_text(tail(flow.queue_name, queue_width), styles.LABEL),
                    Text(f"{flow.waiting:,}"),
                    Text(f"{flow.delayed:,}", styles.MUTED),
                    Text(f"{flow.in_flight:,}"),
                    Text(newest_minute(flow.arrivals_per_minute)),
                    Text(newest_minute(flow.completions_per_minute)),
                    Text(flow.forecast.text, VERDICT_STYLE[flow.forecast.verdict]),
                ],
            )
            for flow in report.queues
        ]

    def empty(self) -> Text | None:
        if self.report is not None and not self.report.queues:
            return Text("No task in any queue.")
        return None

    def detail(self, key: str) -> Text:
        flow = self.flow(key)
        report = self.report
        if flow is None or report is None:
            return Text("")
        now = report.checked_at
        forecast = flow.forecast
        consumed = describe_age(now - flow.last_consumed) if flow.last_consumed else "not within a day"
        retries = "retry" if flow.overdue_retries == 1 else "retries"
        overdue = (
            f" · {flow.overdue_retries:,} {retries} past the eta by over 30 s (authentik polls after 30 s)"
            if flow.overdue_retries
            else ""
        )
        heading = f"per minute over {report.minutes} min, oldest first: "
        series: list[str | tuple[object, str]] = [(heading, styles.MUTED)]
        if flow.arrivals_per_minute is not None:
            series += [
                "in ",
                (sparkline(list(flow.arrivals_per_minute)), styles.ACCENT),
                " " + " ".join(f"{n:,}" for n in flow.arrivals_per_minute) + " · ",
            ]
        series += [
            "out ",
            (sparkline(list(flow.completions_per_minute)), styles.ACCENT),
            " " + " ".join(f"{n:,}" for n in flow.completions_per_minute),
        ]
        return lines(
            assemble(
                (cut(flow.queue_name, NAME_CHARS), styles.LABEL),
                "  ",
                (forecast.text, VERDICT_STYLE[forecast.verdict]),
            ),
            assemble(("basis ", styles.MUTED), forecast.basis),
            assemble(f"last consumed {consumed}{overdue}"),
            assemble(*series),
            assemble((report.basis, styles.MUTED)),
        )
