"""`w`: the worker panel — which workers are alive as authentik judges it, and what is stuck."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from tasktui.core.text import cut
from tasktui.core.workers import WORKER_ROW_ALARMS, WorkerReport, describe_age, workers_by_urgency
from tasktui.render.text import NAME_CHARS, VALUE_CHARS, flow, safe_text
from tasktui.render.workers import shared_host_prefix, short_hostname

# From this many columns of content the table has a header row and a "Last seen" column; below
# it every row is one line of liveness, host, version and reason (which says the age too), so
# that at 80x24 the workers that need a look fit in the panel without scrolling.
WIDE = 100
SCROLL_HINT = "more: Tab, then ↑ ↓ PgUp PgDn"


class WorkerPanel(VerticalScroll):
    COMPONENT_CLASSES = {
        "worker-panel--alive",
        "worker-panel--stale",
        "worker-panel--dead",
        "worker-panel--error",
        "worker-panel--warning",
        "worker-panel--mismatch",
        "worker-panel--muted",
    }

    # A stable, thin gutter: the width the rows are laid out for does not change when the
    # content starts to overflow.
    DEFAULT_CSS = """
    WorkerPanel {
        height: auto; max-height: 40%; border-top: solid $accent; background: $panel; padding: 0 1;
        scrollbar-gutter: stable; scrollbar-size-vertical: 1;
        scrollbar-background: $panel; scrollbar-color: $panel-lighten-2;
        border-title-align: right; border-title-color: $text-muted;
    }
    WorkerPanel > .worker-panel--alive { color: $success; text-style: bold; }
    WorkerPanel > .worker-panel--stale { color: $warning; text-style: bold; }
    WorkerPanel > .worker-panel--dead { color: $error; text-style: bold; }
    WorkerPanel > .worker-panel--error { color: $error; text-style: bold; }
    WorkerPanel > .worker-panel--warning { color: $warning; }
    WorkerPanel > .worker-panel--mismatch { color: $warning; text-style: bold reverse; }
    WorkerPanel > .worker-panel--muted { color: $text-muted; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._report: WorkerReport | None = None
        self._error = ""
        self._laid_out_for = -1  # the content width the shown report was laid out for

    def compose(self) -> ComposeResult:
        yield Static(Text("workers: loading…"), id="worker-report")

    def _style(self, name: str) -> str:
        return str(self.get_component_rich_style(f"worker-panel--{name}"))

    def _width(self) -> int:
        """Columns for the rows: the panel's own once laid out, else the screen's (a hidden
        panel has no size; it is laid out again when shown)."""
        width = self.scrollable_content_region.width
        return width if width > 0 else max(20, self.app.size.width - 3)

    def on_resize(self, event: events.Resize) -> None:
        if self._width() != self._laid_out_for:
            self._draw()
        self._show_scroll_hint()

    def show(self, report: WorkerReport | None, error: str = "") -> None:
        self._report, self._error = report, error
        self._draw()

    def _show_scroll_hint(self) -> None:
        # Without focus the panel does not scroll; the border says how to reach what is below.
        self.border_title = SCROLL_HINT if self.max_scroll_y > 0 else None

    def _draw(self) -> None:
        body = self.query_one("#worker-report", Static)
        width = self._width()
        self._laid_out_for = width
        report = self._report
        self.call_after_refresh(self._show_scroll_hint)
        if report is None:
            error = self._error
            body.update(safe_text(f"workers: {error or 'not loaded yet'}", self._style("error" if error else "muted")))
            return
        hosts = [cut(w.hostname, NAME_CHARS) for w in report.workers]
        prefix = shared_host_prefix(hosts)
        parts: list[Text | Table] = [*self._summary(report, prefix, width)]
        for alarm in report.alarms:
            if alarm.code in WORKER_ROW_ALARMS and report.workers:
                continue  # the table below lists them first, with their reasons
            parts.append(Text(f"⚠ {cut(alarm.message, VALUE_CHARS)}", self._style(alarm.severity)))
        if report.workers:
            parts.append(self._table(report, prefix, width))
        else:
            parts.append(Text("no worker rows in authentik_tasks_workerstatus", self._style("muted")))
        for part in parts:
            if isinstance(part, Text):
                part.end = "\n"  # safe_text ends without a newline; each part is its own line
        body.update(Group(*parts))

    def _summary(self, report: WorkerReport, prefix: str, width: int) -> list[Text]:
        pieces = [
            Text.assemble(("Workers ", "bold"), (f"{report.alive} alive", self._style("alive"))),
            Text(f"{report.stale} stale", self._style("stale") if report.stale else self._style("muted")),
            Text(f"{report.dead} dead", self._style("muted")),  # normal after a restart: not an alarm
        ]
        if report.reference_version:
            pieces.append(Text(f"version {cut(report.reference_version, NAME_CHARS)}", self._style("muted")))
        if prefix:
            # What the "…" that starts every host name stands for.
            pieces.append(Text(f'host "…" = {prefix}', self._style("muted")))
        return flow(pieces, width, " · ")

    def _table(self, report: WorkerReport, prefix: str, width: int) -> Table:
        wide = width >= WIDE
        host_width = max(16, width // (4 if wide else 5))
        table = Table(
            box=None, padding=(0, 2, 0, 0), show_edge=False, expand=True, header_style="bold", show_header=wide
        )
        table.add_column("Liveness", no_wrap=True)
        table.add_column("Host", no_wrap=True, overflow="ellipsis", max_width=host_width)
        table.add_column("Version", no_wrap=True)
        if wide:
            table.add_column("Last seen", no_wrap=True)
        # The reason takes what is left and wraps rather than being cut: it is the point of the row.
        table.add_column("Why", ratio=1, overflow="fold")
        for worker in workers_by_urgency(report.workers):
            cells: list[Text | str] = [
                Text(worker.liveness.upper(), self._style(worker.liveness)),
                Text(short_hostname(cut(worker.hostname, NAME_CHARS), prefix, host_width)),
                Text(cut(worker.version, NAME_CHARS), self._style("mismatch") if worker.version_mismatch else ""),
            ]
            if wide:
                cells.append(describe_age(worker.seen_ago))
            cells.append(Text(cut(worker.reason, VALUE_CHARS), self._style("muted")))
            table.add_row(*cells)
        return table
