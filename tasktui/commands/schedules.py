"""`tasktui schedules`: authentik's schedules with their latest task, and alarms on schedules
that an unfinished task blocks (tasktui.core.incidents.schedules)."""

from __future__ import annotations

import argparse
import json

from rich.text import Text

from tasktui.commands import COMMANDS
from tasktui.commands._output import print_lines, write_stdout
from tasktui.commands._run import run_command
from tasktui.core.db import Target
from tasktui.core.incidents.schedules import ScheduleInfo, ScheduleReport, ScheduleStatus, load_schedules
from tasktui.core.session import open_session
from tasktui.core.timefmt import relative
from tasktui.core.workers import describe_age
from tasktui.render import styles
from tasktui.render.incidents import SCHEDULE_STYLE
from tasktui.render.text import assemble, columns, safe_text

EXIT_OK = 0
EXIT_ALARM = 1

DESCRIPTION = f"""\
authentik's schedules (authentik_tasks_schedules_schedule, one table per tenant schema):
each schedule's actor:uid, crontab, next run, paused or not, and its latest task (the newest
task it sent, with that task's last change). authentik's scheduler skips a schedule while
any of its tasks is unfinished, so one stuck task stops a schedule for good: a schedule past
its next run by more than 2 minutes is "blocked" when an unfinished task is the reason (the
task is named), else "overdue" (no scheduler ran: no live worker?).

example:
  tasktui schedules
  tasktui schedules --json | jq '.alarms'

exit status:
  {EXIT_OK}    no schedule is blocked or overdue
  {EXIT_ALARM}    a schedule is blocked or overdue (see the alarms)
  2    bad arguments, or the database cannot be reached
  3    no schedule table (or no authentik task tables) in this database
  4    this role may not read the schedule tables
"""


def add_parser(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "schedules",
        parents=[common],
        help=COMMANDS["schedules"],
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    return run_command(_schedules(Target.resolve(args.dsn), as_json=args.json))


async def _schedules(target: Target, *, as_json: bool) -> int:
    async with await open_session(target) as session:
        report = await load_schedules(session)
    if as_json:
        write_stdout(json.dumps(report.to_json(), ensure_ascii=False, indent=2) + "\n")
    else:
        print_lines(report_lines(report))
    return EXIT_ALARM if report.alarms else EXIT_OK


def report_lines(report: ScheduleReport) -> list[Text]:
    counts = {status: sum(s.status is status for s in report.schedules) for status in ScheduleStatus}
    summary = ", ".join(f"{n} {status.value}" for status, n in counts.items() if n)
    schemas = f"{len(report.schemas)} tenant schema{'s' if len(report.schemas) != 1 else ''}"
    lines = [assemble((f"Schedules in {schemas}: {len(report.schedules)} ({summary or 'none'})", styles.LABEL))]
    if report.unreadable:
        lines.append(Text(f"  not readable by this role: {', '.join(report.unreadable)}"))
    header = [Text(h, styles.LABEL) for h in ("STATUS", "SCHEDULE", "TENANT", "CRONTAB", "NEXT RUN", "LATEST TASK")]
    rows = [header] + [_cells(s, report) for s in report.schedules]
    lines += columns(rows, indent="  ")
    if report.capped:
        lines.append(Text("  (a schema has more schedules than tasktui reads at once; the first ones are shown)"))
    if report.alarms:
        lines.append(assemble(("Alarms:", styles.LABEL)))
        for alarm in report.alarms:
            style = styles.severity(alarm.severity)
            lines.append(assemble("  ", (f"{alarm.severity}: ", style), alarm.message))
        if any(a.task_id for a in report.alarms):
            lines.append(Text("  (tasktui xray TASK_ID shows who holds a blocking task)"))
    else:
        lines.append(assemble(("No schedule is blocked or overdue.", styles.GOOD)))
    return lines


def _cells(info: ScheduleInfo, report: ScheduleReport) -> list[Text]:
    now = report.checked_at
    if info.paused or info.next_run is None:
        next_run = "paused"
    elif info.overdue_by is not None:
        next_run = f"overdue {describe_age(info.overdue_by, suffix=False)}"
    else:
        next_run = relative(info.next_run, now)
    task = info.latest_task
    latest = Text("never ran", styles.MUTED)
    if task is not None:
        latest = assemble(
            (task.status.label, ""), " ", task.message_id[:8], " ", (describe_age(now - task.mtime), styles.MUTED)
        )
    return [
        Text(info.status.value, SCHEDULE_STYLE[info.status]),
        safe_text(info.display_uid),
        safe_text(info.tenant or info.schema),
        safe_text(info.crontab),
        Text(next_run),
        latest,
    ]
