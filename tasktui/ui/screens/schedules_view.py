"""`S`: authentik's schedules (tasktui.core.incidents.schedules) — status, actor:uid, crontab, next
run, last run and the latest task's status; the selected schedule in full below, with the task
that blocks it. Enter opens the blocking task, else the latest. A database without a schedule
table (an older authentik) gets a line saying so in place of the table, not an error."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tasktui.core.incidents.schedules import ScheduleInfo, ScheduleReport, ScheduleStatus
from tasktui.core.text import cut
from tasktui.core.timefmt import absolute, relative
from tasktui.core.workers import describe_age
from tasktui.errors import MissingPrivilege, MissingTables, UserFacingError
from tasktui.render import styles
from tasktui.render.incidents import SCHEDULE_STYLE
from tasktui.render.text import NAME_CHARS, VALUE_CHARS, assemble, safe_text
from tasktui.ui.screens.incident_view import IncidentView, ViewColumn, ViewRow, lines, tail

# What needs a look first (as the worker panel lists problem workers first); otherwise the core's order.
URGENCY = {ScheduleStatus.BLOCKED: 0, ScheduleStatus.OVERDUE: 1, ScheduleStatus.DUE: 2}
REFRESH_SECONDS = 30.0  # 0.6 s on 100 schedules with 2,000 tasks each (bench/incident_views.py): ~2 %


def next_run_text(info: ScheduleInfo, report: ScheduleReport) -> str:
    if info.paused or info.next_run is None:
        return "paused"
    if info.overdue_by is not None:
        return f"overdue {describe_age(info.overdue_by, suffix=False)}"
    return relative(info.next_run, report.checked_at)


class SchedulesView(IncidentView):
    VIEW_TITLE = "Schedules — authentik's scheduler (Esc: back)"
    REFRESH_SECONDS = REFRESH_SECONDS

    report: ScheduleReport | None

    async def fetch(self) -> ScheduleReport:
        return await self.service.schedules()

    absent = False  # no schedule table, or none readable: said once, not read again

    def failed(self, exc: UserFacingError) -> bool:
        # No schedule table (an older authentik), or none this role may read: the answer, not a
        # failure — said in place of the table, and not read again on the timer.
        if isinstance(exc, MissingTables | MissingPrivilege):
            self.report = None
            self.query_one("#view-status", Static).update(Text(""))
            self.show_empty(safe_text(str(exc), styles.MUTED))
            self.absent = True
            self.loads += 1
            return True
        return False

    def _timer(self) -> None:
        if not self.absent:
            super()._timer()

    def schedule(self, key: str) -> ScheduleInfo | None:
        if self.report is None:
            return None
        return next((s for s in self.report.schedules if s.id == key), None)

    def summary(self) -> str:
        report = self.report
        assert report is not None
        counts = {status: sum(s.status is status for s in report.schedules) for status in ScheduleStatus}
        said = ", ".join(f"{n} {status.value}" for status, n in counts.items() if n)
        text = f"{len(report.schedules):,} schedules ({said or 'none'})"
        if report.unreadable:
            text += f"; not readable by this role: {', '.join(report.unreadable)}"
        return text

    def columns(self, width: int) -> list[ViewColumn]:
        wide = width >= 100
        return [
            ViewColumn("Status", 7),
            ViewColumn("Schedule", 0),
            *([ViewColumn("Tenant", 10)] if wide else []),
            ViewColumn("Crontab", 12),
            ViewColumn("Next run", 11),
            ViewColumn("Latest task", 18 if wide else 17),
        ]

    def rows(self, width: int) -> list[ViewRow]:
        report = self.report
        assert report is not None
        wide = width >= 100
        schedule_width = max(10, width - (7 + 12 + 11 + (18 + 10 if wide else 17)) - 2 * (6 if wide else 5))
        rows = []
        for info in sorted(report.schedules, key=lambda i: URGENCY.get(i.status, len(URGENCY))):
            task = info.latest_task
            latest = Text("never ran", styles.MUTED)
            if task is not None:
                age = describe_age(report.checked_at - task.mtime)
                latest = assemble((task.status.label, styles.status(task.status.style)), " ", (age, styles.MUTED))
            cells = [
                Text(info.status.value, SCHEDULE_STYLE[info.status]),
                safe_text(tail(info.display_uid, schedule_width)),
                *([safe_text(cut(info.tenant or info.schema, NAME_CHARS), styles.MUTED)] if wide else []),
                safe_text(cut(info.crontab, NAME_CHARS)),
                Text(next_run_text(info, report)),
                latest,
            ]
            rows.append(ViewRow(info.id, cells))
        return rows

    def empty(self) -> Text | None:
        if self.report is not None and not self.report.schedules:
            return Text("No schedule in the schedule tables.")
        return None

    def detail(self, key: str) -> Text:
        info = self.schedule(key)
        report = self.report
        if info is None or report is None:
            return Text("")
        now = report.checked_at
        task = info.latest_task
        next_run = next_run_text(info, report)
        if info.next_run is not None and not info.paused:
            next_run += f" ({absolute(info.next_run, local=self.settings.times.local)})"
        shown = [
            assemble(
                (info.display_uid, styles.LABEL),
                "  ",
                (info.status.value, SCHEDULE_STYLE[info.status]),
                ("  tenant ", styles.MUTED),
                info.tenant or f"schema {info.schema}",
            ),
            assemble(
                ("crontab ", styles.MUTED),
                info.crontab,
                ("  next run ", styles.MUTED),
                next_run,
                ("  last run ", styles.MUTED),
                describe_age(now - task.mtime) if task is not None else "never (no task of it kept)",
            ),
        ]
        if task is not None:
            opens = "  Enter opens the blocking task" if info.blocking_task else "  Enter opens it"
            shown.append(
                assemble(
                    ("latest task ", styles.MUTED),
                    task.message_id,
                    " ",
                    (task.status.label, styles.status(task.status.style)),
                    (opens, styles.MUTED),
                )
            )
        alarm = next((a for a in report.alarms if a.schedule_id == info.id), None)
        if alarm is not None:
            shown.append(assemble((cut(alarm.message, VALUE_CHARS), styles.severity(alarm.severity))))
        return lines(*shown)

    def task_to_open(self, key: str) -> str | None:
        info = self.schedule(key)
        if info is None:
            return None
        task = info.blocking_task or info.latest_task
        return task.message_id if task is not None else None
