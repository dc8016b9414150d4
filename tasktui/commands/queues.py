"""`tasktui queues`: is each queue draining? (tasktui.core.incidents.draining)"""

from __future__ import annotations

import argparse
import json

from rich.text import Text

from tasktui.argtypes import bounded_int
from tasktui.commands import COMMANDS
from tasktui.commands._output import print_lines, write_stdout
from tasktui.commands._run import run_command
from tasktui.core.db import Target
from tasktui.core.incidents.draining import DEFAULT_MINUTES, MAX_MINUTES, QueueFlow, QueueReport, load_queues
from tasktui.core.session import open_session
from tasktui.core.workers import describe_age
from tasktui.render import styles
from tasktui.render.incidents import VERDICT_STYLE
from tasktui.render.text import assemble

EXIT_OK = 0
EXIT_STALLED = 1

DESCRIPTION = f"""\
Is each queue draining? Per queue: what waits now (due, delayed retries, in flight),
what arrived and completed per minute over the last minutes, and a forecast with its
basis: "empty in ~12 min", "growing by 40/min", "stalled: nothing consumed for 3 min".

Arrivals are messages first sent in the window (their first task log, which authentik
writes when it enqueues); completions are tasks that reached done or rejected (their
mtime). A retry whose eta passed less than 30 s ago is not late: authentik's consumers
pick those up by a poll that runs after 30 s without an enqueue notification.

example:
  tasktui queues --minutes 10
  tasktui queues --json | jq '.queues[] | {{queue_name, forecast}}'

exit status:
  {EXIT_OK}    no queue is stalled
  {EXIT_STALLED}    a queue is stalled (due work, nothing consumed for 2 minutes or more)
  2    bad arguments, or the database cannot be reached
  3    no authentik task tables in this database
"""


def add_parser(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "queues",
        parents=[common],
        help=COMMANDS["queues"],
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--minutes",
        type=bounded_int(1, MAX_MINUTES, "minutes"),
        default=DEFAULT_MINUTES,
        metavar="N",
        help=f"measure rates over the last N minutes (default {DEFAULT_MINUTES}, at most {MAX_MINUTES})",
    )
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    return run_command(_queues(Target.resolve(args.dsn), minutes=args.minutes, as_json=args.json))


async def _queues(target: Target, *, minutes: int, as_json: bool) -> int:
    async with await open_session(target) as session:
        report = await load_queues(session, minutes=minutes)
    if as_json:
        write_stdout(json.dumps(report.to_json(), ensure_ascii=False, indent=2) + "\n")
    else:
        print_lines(report_lines(report))
    return EXIT_STALLED if report.stalled else EXIT_OK


def report_lines(report: QueueReport) -> list[Text]:
    lines = [assemble((f"Queues over the last {report.minutes} min", styles.LABEL))]
    for flow in report.queues:
        lines.extend(_queue_lines(flow, report))
    if not report.queues:
        lines.append(Text("  (no task in any queue)"))
    lines.append(Text(""))
    lines.append(Text(f"Basis: {report.basis}."))
    if report.capped:
        lines.append(Text("Counts are lower bounds: more rows than tasktui reads at once."))
    return lines


def _queue_lines(flow: QueueFlow, report: QueueReport) -> list[Text]:
    now = report.checked_at
    forecast = flow.forecast
    retries = "retry past its eta" if flow.overdue_retries == 1 else "retries past their eta"
    overdue = f" ({flow.overdue_retries:,} {retries} by over 30 s)" if flow.overdue_retries else ""
    arrived = "unknown" if flow.arrived is None else f"{flow.arrived:,}"
    consumed = describe_age(now - flow.last_consumed) if flow.last_consumed else "not within a day"
    lines = [
        Text(""),
        assemble((flow.queue_name, styles.LABEL), "  ", (forecast.text, VERDICT_STYLE[forecast.verdict])),
        Text(
            f"  waiting {flow.waiting:,}{overdue} · delayed {flow.delayed:,} · in flight {flow.in_flight:,}"
            f" · arrived {arrived} · completed {flow.completed:,} · last consumed {consumed}"
        ),
        assemble("  basis: ", forecast.basis),
    ]
    series = [*flow.completions_per_minute, *(flow.arrivals_per_minute or ())]
    width = max((len(f"{n:,}") for n in series), default=1)
    out = " ".join(f"{n:>{width},}" for n in flow.completions_per_minute)
    if flow.arrivals_per_minute is not None:
        arrived_per_minute = " ".join(f"{n:>{width},}" for n in flow.arrivals_per_minute)
        lines.append(Text("  per minute, oldest first: in  " + arrived_per_minute))
        lines.append(Text("                            out " + out))
    else:
        lines.append(Text("  completed per minute, oldest first: " + out))
    return lines
