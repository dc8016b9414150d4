"""`E`: what is failing, grouped (tasktui.core.incidents.errors) — per actor and error signature,
how many failed, the trend, when last and first seen; the selected group in full below. Enter
opens the group's newest task; `R` hands the group's rejected tasks to the guarded bulk retry
(preview, confirmation, throttle, journal) as `errors.retry_filter` says them."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text

from tasktui.core.bulk_retry import BulkSummary
from tasktui.core.incidents.errors import ErrorGroup, ErrorReport, retry_filter
from tasktui.core.text import cut
from tasktui.core.timefmt import absolute, exact_span
from tasktui.core.workers import describe_age
from tasktui.render import styles
from tasktui.render.incidents import TREND_STYLE
from tasktui.render.text import NAME_CHARS, VALUE_CHARS, assemble, safe_text
from tasktui.ui import keys
from tasktui.ui.screens.incident_view import IncidentView, ViewColumn, ViewRow, lines, tail
from tasktui.ui.screens.retry import BulkRetryScreen
from tasktui.ui.widgets.status_header import sparkline

REFRESH_SECONDS = 30.0  # 0.4 s on a million tasks a day (bench/incident_views.py): ~1.3 % of the time


class ErrorsView(IncidentView):
    VIEW_TITLE = "What is failing — errors grouped by signature and actor (Esc: back)"
    REFRESH_SECONDS = REFRESH_SECONDS
    KEY_ACTIONS: ClassVar[tuple[keys.KeyAction, ...]] = keys.INCIDENT_KEYS
    BINDINGS = keys.bindings(keys.INCIDENT_KEYS)

    report: ErrorReport | None

    async def fetch(self) -> ErrorReport:
        return await self.service.error_groups()

    def group(self, key: str) -> ErrorGroup | None:
        if self.report is None:
            return None
        return next((g for g in self.report.groups if g.id == key), None)

    def summary(self) -> str:
        report = self.report
        assert report is not None
        groups = len(report.groups)
        plural = "s" if groups != 1 else ""
        text = f"last {exact_span(report.since)}: {report.failed:,} failed in {groups:,} group{plural}"
        if report.capped:
            text += f" (complete from {absolute(report.covered_from)})"
        return text

    def columns(self, width: int) -> list[ViewColumn]:
        actor = 22 if width < 100 else 36
        return [
            ViewColumn("Trend", 7),
            ViewColumn("Failed", 6),
            ViewColumn("Last", 8),
            ViewColumn("Actor", actor),
            ViewColumn("Error", 0),
        ]

    def rows(self, width: int) -> list[ViewRow]:
        report = self.report
        assert report is not None
        actor_width = 22 if width < 100 else 36
        return [
            ViewRow(
                group.id,
                [
                    Text(group.trend.value, TREND_STYLE[group.trend]),
                    Text(f"{group.count:,}"),
                    Text(describe_age(report.checked_at - group.last_seen), styles.MUTED),
                    safe_text(tail(group.actor_name, actor_width)),
                    safe_text(cut(group.title, NAME_CHARS), styles.FAILURE),
                ],
            )
            for group in report.groups
        ]

    def empty(self) -> Text | None:
        report = self.report
        if report is not None and not report.groups:
            return assemble((f"Nothing failed in the last {exact_span(report.since)}.", styles.GOOD))
        return None

    def detail(self, key: str) -> Text:
        group = self.group(key)
        report = self.report
        if group is None or report is None:
            return Text("")
        now = report.checked_at
        tenants = ", ".join(cut(t, NAME_CHARS) for t in group.tenants) or "no tenant"
        retry = (
            f"R retries its {group.rejected:,} rejected task{'s' if group.rejected != 1 else ''}"
            if group.rejected
            else "none rejected: nothing to retry (they logged an error, then ended)"
        )
        return lines(
            assemble(("group ", styles.MUTED), (group.id, styles.ID), "  ", (group.actor_name, styles.LABEL)),
            assemble(
                f"{group.count:,} failed ({group.rejected:,} rejected, {group.logged:,} logged an error) · last ",
                describe_age(now - group.last_seen),
                ", first ",
                describe_age(now - group.first_seen),
                " · tenants: ",
                tenants,
            ),
            assemble(
                ("trend ", styles.MUTED),
                (group.trend.value, TREND_STYLE[group.trend]),
                f" · {report.trend_series_label}: ",
                (sparkline(list(group.trend_buckets)), styles.ACCENT),
                " " + " ".join(str(n) for n in group.trend_buckets),
            ),
            assemble(
                ("newest ", styles.MUTED),
                group.example_id,
                ("  Enter opens it · ", styles.MUTED),
                (retry, styles.MUTED),
            ),
            assemble((cut(group.example_error or group.title, VALUE_CHARS), styles.FAILURE)),
        )

    def task_to_open(self, key: str) -> str | None:
        group = self.group(key)
        return group.example_id if group is not None else None

    def action_retry_group(self) -> None:
        if self.access.read_only:
            return
        key = self.selected_key
        group = self.group(key) if key is not None else None
        if group is None:
            return
        if not group.rejected:
            self.notify(f"nothing to retry in group {group.id}: none of its tasks is rejected")
            return

        def finished(summary: BulkSummary | None) -> None:
            if summary is not None:
                self.notify(summary.describe(), timeout=10)
                self.load()

        self.app.push_screen(BulkRetryScreen(self.service, retry_filter(group)), finished)
