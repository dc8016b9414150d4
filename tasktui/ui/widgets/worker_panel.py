"""`w`: the worker panel — which workers are alive as authentik judges it, and what is stuck."""

from __future__ import annotations

import os

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from tasktui.core.text import safe_text
from tasktui.core.workers import WorkerReport, describe_age


def shared_host_prefix(hostnames: list[str]) -> str:
    """The prefix all hosts share, up to a separator (pods differ only at the end:
    authentik-worker-7d9f8c6b5-6jpvy): shown once, so a narrow panel keeps what differs."""
    if len(hostnames) < 2:
        return ""
    common = os.path.commonprefix(hostnames)  # noqa: RUF071 - characters, not path parts, on purpose
    cut = max(common.rfind("-"), common.rfind("."))
    return common[: cut + 1] if cut >= 5 else ""


class WorkerPanel(VerticalScroll):
    COMPONENT_CLASSES = {
        "worker-panel--alive",
        "worker-panel--stale",
        "worker-panel--dead",
        "worker-panel--error",
        "worker-panel--warning",
        "worker-panel--mismatch",
        "worker-panel--dim",
    }

    DEFAULT_CSS = """
    WorkerPanel {
        height: auto; max-height: 40%; border-top: solid $accent; background: $panel; padding: 0 1;
    }
    WorkerPanel > .worker-panel--alive { color: $success; text-style: bold; }
    WorkerPanel > .worker-panel--stale { color: $warning; text-style: bold; }
    WorkerPanel > .worker-panel--dead { color: $error; text-style: bold; }
    WorkerPanel > .worker-panel--error { color: $error; text-style: bold; }
    WorkerPanel > .worker-panel--warning { color: $warning; }
    WorkerPanel > .worker-panel--mismatch { color: $warning; text-style: bold reverse; }
    WorkerPanel > .worker-panel--dim { color: $text-muted; }
    """

    def compose(self) -> ComposeResult:
        yield Static(Text("workers: loading…"), id="worker-report")

    def _style(self, name: str) -> str:
        return str(self.get_component_rich_style(f"worker-panel--{name}"))

    def show(self, report: WorkerReport | None, error: str = "") -> None:
        body = self.query_one("#worker-report", Static)
        if report is None:
            body.update(safe_text(f"workers: {error or 'not loaded yet'}", self._style("error" if error else "dim")))
            return
        summary = Text()
        summary.append("Workers ", "bold")
        summary.append(f"{report.alive} alive", self._style("alive"))
        summary.append(f" · {report.stale} stale", self._style("stale") if report.stale else self._style("dim"))
        summary.append(f" · {report.dead} dead", self._style("dim"))
        if report.reference_version:
            summary.append(f" · version {report.reference_version}", self._style("dim"))
        parts: list[Text | Table] = [summary]
        for alarm in report.alarms:
            parts.append(safe_text(f"⚠ {alarm.message}", self._style(alarm.severity)))
        # The host and the reason shrink (with an ellipsis) on a narrow terminal; version, age
        # and liveness never do.
        table = Table(box=None, padding=(0, 2, 0, 0), show_edge=False, expand=True, header_style="bold")
        table.add_column("Host", no_wrap=True, overflow="ellipsis", ratio=2, min_width=12)
        table.add_column("Version", no_wrap=True, min_width=8)
        table.add_column("Last seen", no_wrap=True, min_width=9)
        table.add_column("Liveness", no_wrap=True, min_width=8)
        table.add_column("Why", no_wrap=True, overflow="ellipsis", ratio=3)
        prefix = shared_host_prefix([w.hostname for w in report.workers])
        order = {"alive": 0, "stale": 1, "dead": 2}
        for worker in sorted(report.workers, key=lambda w: (order[w.liveness], w.hostname)):
            table.add_row(
                safe_text("…" + worker.hostname[len(prefix) :] if prefix else worker.hostname),
                safe_text(worker.version, self._style("mismatch") if worker.version_mismatch else ""),
                describe_age(worker.seen_ago),
                Text(worker.liveness.upper(), self._style(worker.liveness)),
                safe_text(worker.reason, self._style("dim")),
            )
        if prefix:
            summary.append(f" · hosts {prefix}…", self._style("dim"))
        if report.workers:
            parts.append(table)
        else:
            parts.append(Text("no worker rows in authentik_tasks_workerstatus", self._style("dim")))
        for part in parts:
            if isinstance(part, Text):
                part.end = "\n"  # safe_text ends without a newline; each part is its own line
        body.update(Group(*parts))
