"""`tasktui errors`: what is failing, grouped by error signature and actor (tasktui.core.incidents.errors).

Text from the database (actor names, error texts, tenant names) is printed literally: control
characters appear as visible escapes, markup as the characters it is.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import timedelta

from rich.text import Text

from tasktui.argtypes import retries_per_second, time_span
from tasktui.commands import COMMANDS
from tasktui.commands._output import print_lines, write_stdout
from tasktui.commands._run import run_command
from tasktui.commands.retry import retry_matching
from tasktui.core import bulk_retry
from tasktui.core.db import Target
from tasktui.core.incidents.errors import DEFAULT_SINCE, MAX_SINCE, ErrorGroup, ErrorReport, load_errors, retry_filter
from tasktui.core.session import open_session
from tasktui.core.timefmt import absolute, exact_span
from tasktui.core.workers import describe_age
from tasktui.render import styles
from tasktui.render.incidents import TREND_STYLE
from tasktui.render.text import assemble

DESCRIPTION = """\
What is failing: rejected tasks, and done tasks whose current attempt logged an error
(authentik 2025.10+ stores those as plain done), grouped by actor and error signature —
the last error with ids, numbers, addresses and dates masked, as a bulk retry groups them.
Per group: how many failed, first and last seen (when they finished), the tenants, the
newest task, and the trend over the window, at most its last hour (the last 10 minutes for
--since 10m): new when the group did not fail before the newer half of that span (nor in the
hour before now), rising when the newer half had more than 1.5x the older and at least 3 more,
falling the other way round, else steady.

example:
  tasktui errors --since 6h
  tasktui errors --retry 3fa2c1d0 --dry-run     # what retrying one group would do
"""

EXIT_CODES = """\
exit status:
  0    the report was printed (with or without failures); with --retry, see `tasktui retry --help`
       (0 all retried, 1 a retry failed, 4 may not retry, 7 not confirmed, 8 some skipped)
  2    bad arguments, or the database cannot be reached
  3    no authentik task tables in this database
"""


def add_parser(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "errors",
        parents=[common],
        help=COMMANDS["errors"],
        description=DESCRIPTION,
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--since",
        type=time_span(MAX_SINCE),
        default=DEFAULT_SINCE,
        metavar="SPAN",
        help="how far back, e.g. 30m, 6h, 2d (default 1h, at most 7d)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
    group = parser.add_argument_group("retrying a group (the bulk retry of `tasktui retry --filter`)")
    group.add_argument(
        "--retry",
        metavar="GROUP",
        help="retry the rejected tasks of this group (its id, or the id's first characters): preview, then"
        " confirmation on a terminal (else --yes), throttled, journaled",
    )
    group.add_argument("--dry-run", action="store_true", help="with --retry: show what would be retried")
    group.add_argument("--yes", "-y", action="store_true", help="with --retry: do not ask (needed without a terminal)")
    group.add_argument(
        "--rate",
        type=retries_per_second,
        default=bulk_retry.DEFAULT_RATE,
        help=(
            f"with --retry: retries per second (default {bulk_retry.DEFAULT_RATE:g}; 0: as fast as the database allows)"
        ),
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    target = Target.resolve(args.dsn)
    if args.retry is None:
        return run_command(_print_report(target, args.since, as_json=args.json))
    # The report, then the bulk retry's own phases (preview, question, run): no connection
    # idles while a person reads the preview.
    group = asyncio.run(_load(target, args.since)).find(args.retry)
    if not group.rejected:
        print(f"nothing to retry in group {group.id}: none of its tasks is rejected (they logged an error, then ended)")
        return 0
    limit = min(bulk_retry.MAX_LIMIT, len(group.rejected_ids))
    return retry_matching(target, retry_filter(group), limit=limit, rate=args.rate, dry_run=args.dry_run, yes=args.yes)


async def _load(target: Target, since: timedelta) -> ErrorReport:
    async with await open_session(target) as session:
        return await load_errors(session, since=since)


async def _print_report(target: Target, since: timedelta, *, as_json: bool) -> int:
    report = await _load(target, since)
    if as_json:
        write_stdout(json.dumps(report.to_json(), ensure_ascii=False, indent=2) + "\n")
    else:
        print_lines(report_lines(report))
    return 0


def report_lines(report: ErrorReport) -> list[Text]:
    span = exact_span(report.since)
    total = f"{report.failed:,} failed task{'s' if report.failed != 1 else ''} in {len(report.groups):,} group" + (
        "s" if len(report.groups) != 1 else ""
    )
    lines = [assemble((f"Failing in the last {span}: {total}", styles.LABEL))]
    if report.capped:
        since = absolute(report.covered_from)
        lines.append(Text(f"  (more failed than tasktui reads at once: counts are complete from {since})"))
    for group in report.groups:
        lines.extend(_group_lines(group, report))
    if not report.groups:
        lines.append(assemble(("  Nothing failed.", styles.GOOD)))
    else:
        lines.append(Text("Retry a group's rejected tasks: tasktui errors --retry GROUP [--dry-run]"))
    return lines


def _group_lines(group: ErrorGroup, report: ErrorReport) -> list[Text]:
    now = report.checked_at
    counts = f"{group.count:,} failed ({group.rejected:,} rejected, {group.logged:,} logged an error)"
    head = assemble(
        (group.id, styles.ID),
        "  ",
        counts,
        "  ",
        (group.trend.value, TREND_STYLE[group.trend]),
        f"  last {describe_age(now - group.last_seen)}, first {describe_age(now - group.first_seen)}",
    )
    tenants = ", ".join(group.tenants) or "no tenant"
    return [
        Text(""),
        head,
        assemble("  ", (group.actor_name, styles.LABEL), "  ·  tenants: ", tenants),
        assemble("  ", (group.title, styles.FAILURE)),
        assemble(
            f"  {report.trend_series_label}: ",
            " ".join(str(n) for n in group.trend_buckets),
            "  ·  newest: ",
            group.example_id,
        ),
    ]
