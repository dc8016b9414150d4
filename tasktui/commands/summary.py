"""`tasktui summary --dsn A --dsn B`: one row per installation — alive workers, queued, running,
errors in the last hour (tasktui.core.incidents.summary). Installations are read at the same
time; one that cannot be read gets a row saying why, and the others are still shown."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from rich.text import Text

from tasktui.commands import COMMANDS
from tasktui.commands._output import print_lines, write_stdout
from tasktui.commands._run import run_command
from tasktui.core.db import Target, without_target
from tasktui.core.incidents.summary import COUNT_CAP, InstallationSummary, load_summary
from tasktui.core.session import open_session
from tasktui.core.text import escape_control
from tasktui.errors import UserFacingError
from tasktui.render import styles
from tasktui.render.text import assemble, columns, safe_text

EXIT_OK = 0

DESCRIPTION = """\
One row per installation: workers alive (heartbeat within 2 minutes and liveness lock held, as
authentik judges them), tasks waiting for a worker (and delayed retries), tasks running, and
tasks that failed in the last hour (rejected, or done having logged an error).

example:
  tasktui summary --dsn postgresql://tasktui@db-eu/authentik --dsn postgresql://tasktui@db-us/authentik

exit status:
  0    every installation was read
  2    an installation could not be reached (its row says why; the others are shown)
  3    an installation has no authentik task tables
  4    this role may not read an installation's task tables
  (with several failures, the first one's status)
"""


def add_parser(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "summary",
        help=COMMANDS["summary"],
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--dsn",
        dest="dsns",
        action="append",
        default=[],
        metavar="DSN",
        help="an installation's libpq connection string or URL; repeat for each (default: $DATABASE_URL,"
        " else PG* variables)",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON list, one object per installation")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # The installations named here; else the one every command connects to (`tasktui --dsn`, a
    # profile, the environment: tasktui.config).
    dsns = args.dsns or [args.dsn]
    targets = [Target.resolve(dsn) for dsn in dsns]
    return run_command(_summaries(targets, as_json=args.json))


async def _one(target: Target) -> InstallationSummary | UserFacingError:
    try:
        async with await open_session(target) as session:
            return await load_summary(session)
    except UserFacingError as exc:
        return exc


async def _summaries(targets: list[Target], *, as_json: bool) -> int:
    results = await asyncio.gather(*(_one(target) for target in targets))
    if as_json:
        rows = [
            {"database": t.label, "ok": True, **r.to_json()}
            if isinstance(r, InstallationSummary)
            else {"database": t.label, "ok": False, "error": str(r), "exit_status": r.exit_code}
            for t, r in zip(targets, results, strict=True)
        ]
        write_stdout(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
    else:
        print_lines(report_lines(targets, results))
        for result in results:
            if isinstance(result, InstallationSummary):
                for alarm in result.alarms:
                    print(f"tasktui: {result.database}: {escape_control(alarm)}", file=sys.stderr)
    failures = [r for r in results if isinstance(r, UserFacingError)]
    return failures[0].exit_code if failures else EXIT_OK


def _count(value: int) -> str:
    return f"{value:,}+" if value >= COUNT_CAP else f"{value:,}"


def report_lines(targets: list[Target], results: list[InstallationSummary | UserFacingError]) -> list[Text]:
    header = [Text(h, styles.LABEL) for h in ("INSTALLATION", "WORKERS ALIVE", "QUEUED", "RUNNING", "ERRORS (1H)")]
    rows: list[list[Text]] = [header]
    failed: list[Text] = []
    for target, result in zip(targets, results, strict=True):
        if isinstance(result, UserFacingError):
            rows.append([safe_text(target.label), Text("unreadable", styles.BAD), Text(""), Text(""), Text("")])
            why = without_target(str(result), target.label)
            failed.append(assemble("  ", (target.label, styles.LABEL), ": ", (why, styles.FAILURE)))
            continue
        alive_style = styles.GOOD if result.workers_alive else styles.BAD
        delayed = f" (+{_count(result.delayed)} delayed)" if result.delayed else ""
        rows.append(
            [
                safe_text(result.database),
                Text(f"{result.workers_alive} of {result.workers}", alive_style),
                Text(_count(result.queued) + delayed),
                Text(_count(result.running)),
                Text(_count(result.errors_last_hour), styles.FAILURE if result.errors_last_hour else ""),
            ]
        )
    return columns(rows) + failed
