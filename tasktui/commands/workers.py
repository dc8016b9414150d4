"""`tasktui workers`: the worker panel, once — liveness as authentik judges it, and alarms.

Exit status 0 when at least one worker is alive, 1 when none is (for monitoring scripts).
--json prints a list with one object per worker; alarms then go to stderr, one per line.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import Any

import psycopg
from rich.text import Text

from tasktui.commands import COMMANDS
from tasktui.commands._output import print_lines, say, write_stdout
from tasktui.commands._run import run_command
from tasktui.core.db import Target, user_error
from tasktui.core.session import open_session
from tasktui.core.text import escape_control
from tasktui.core.workers import DEFAULT_QUEUED_MINUTES, WorkerInfo, WorkerReport, load_workers, workers_by_urgency
from tasktui.render import styles
from tasktui.render.text import assemble
from tasktui.render.workers import alarm_line, orphan_line, worker_line

EXIT_ALIVE = 0
EXIT_NONE_ALIVE = 1


def add_parser(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "workers",
        parents=[common],
        help=COMMANDS["workers"],
        description=(
            "Workers as authentik judges them: alive = heartbeat within 2 minutes and its advisory lock held"
            " (read from pg_locks, never taken); stale = only one of the two; dead = neither."
        ),
        epilog="""\
examples:
  tasktui workers --profile prod-eu
  tasktui workers --json | jq '.[] | select(.liveness != "alive") | .hostname'

exit status: 0 a worker is alive; 1 none is; 2 the server cannot be reached
""",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print a JSON list, one object per worker (alarms go to stderr)",
    )
    parser.add_argument(
        "--queued-minutes",
        type=_minutes,
        default=DEFAULT_QUEUED_MINUTES,
        metavar="M",
        help=f"alarm on tasks queued (due) for more than M minutes (default {DEFAULT_QUEUED_MINUTES})",
    )
    parser.set_defaults(handler=run)


def _minutes(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"not a positive number of minutes: {value!r}")
    return int(value)


def run(args: argparse.Namespace) -> int:
    return run_command(_workers(Target.resolve(args.dsn), as_json=args.json, queued_minutes=args.queued_minutes))


async def _workers(target: Target, *, as_json: bool, queued_minutes: int) -> int:
    async with await open_session(target) as session:
        try:
            report = await load_workers(session, queued_minutes=queued_minutes)
        except psycopg.Error as exc:  # a timeout or a lost connection: one line, no traceback
            raise user_error(exc, target) from None
    if as_json:
        write_stdout(json.dumps([worker_json(w) for w in report.workers], ensure_ascii=True, indent=2) + "\n")
        for alarm in report.alarms:
            say(f"tasktui: {alarm.severity}: {alarm.message}", stream=sys.stderr, multiline=False)
    else:
        print_lines(_lines(report))
    return EXIT_ALIVE if report.healthy else EXIT_NONE_ALIVE


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def worker_json(worker: WorkerInfo) -> dict[str, Any]:
    return {
        "id": worker.id,
        "hostname": worker.hostname,
        "version": worker.version,
        "last_seen": _iso(worker.last_seen),
        "alive": worker.alive,
        "liveness": worker.liveness,
        "lock_held": worker.lock_held,
        "seconds_since_seen": round(worker.seen_ago.total_seconds(), 3),
        "version_mismatch": worker.version_mismatch,
        "reason": worker.reason,
    }


def _lines(report: WorkerReport) -> list[Text]:
    counts = f"{report.alive} alive, {report.stale} stale, {report.dead} dead"
    reference = f"; compared with {report.reference_text}" if report.reference_version else ""
    lines = [assemble((f"Workers: {counts}{reference}", styles.LABEL))]
    host_width = max((len(escape_control(w.hostname)) for w in report.workers), default=0)
    version_width = max((len(escape_control(w.version)) for w in report.workers), default=0)
    # The console's order: what needs a look first.
    for worker in workers_by_urgency(report.workers):
        lines.append(Text("  ").append_text(worker_line(worker, host_width=host_width, version_width=version_width)))
    if not report.workers:
        lines.append(Text("  (no worker has registered)"))
    if report.orphans:
        lines.append(assemble(("Orphaned tasks (running, no lock held):", styles.LABEL)))
        lines += [Text("  ").append_text(orphan_line(orphan)) for orphan in report.orphans]
    if report.alarms:
        lines.append(assemble(("Alarms:", styles.LABEL)))
        lines += [Text("  ").append_text(alarm_line(alarm)) for alarm in report.alarms]
    else:
        lines.append(assemble(("No alarms.", styles.GOOD)))
    return lines
