"""`tasktui export tasks | bundle`: the tasks a filter matches as CSV or JSON, and an incident
bundle — one Markdown file to paste into a ticket (tasktui.core.export). Files go where
--output says (a file, a folder, or - for stdout), by default the current folder; the path is
printed."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

import psycopg

from tasktui.commands import COMMANDS
from tasktui.commands._filter import add_filter_options, filter_from
from tasktui.commands._output import note_lookups, say, write_stdout
from tasktui.commands._run import run_command
from tasktui.core import export
from tasktui.core.db import Target, user_error
from tasktui.core.detail import InvalidMessageId, parse_id_or_prefix, resolve_message_id
from tasktui.core.session import open_session
from tasktui.errors import UserFacingError
from tasktui.render.report import bundle_markdown

EPILOG = """\
examples:
  tasktui export tasks --actor authentik.sources.ldap.tasks.ldap_sync --format json --output /tmp
  tasktui export tasks --status error --status rejected --output - | column -s, -t
  tasktui export bundle 3fa85f64 --status rejected     # the task, workers, counts, filter, versions

exit status: 0 written; 1 no task has the id (bundle), or the file exists already; 2 bad
arguments, or the server cannot be reached
"""


def add_parser(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "export",
        help=COMMANDS["export"],
        description="Export what a filter matches, or one task's incident bundle, to a file.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="export_action", metavar="WHAT", required=True)
    tasks = actions.add_parser(
        "tasks",
        parents=[common],
        help="the newest tasks a filter matches, as CSV or JSON",
        description="The newest tasks the filter matches (as the console's search and facets), newest first.",
        epilog=parser.epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    tasks.add_argument("--format", choices=("csv", "json"), default="csv", help="file format (default csv)")
    tasks.add_argument(
        "--limit",
        type=_limit,
        default=export.DEFAULT_LIMIT,
        help=f"at most this many tasks, the newest (default {export.DEFAULT_LIMIT:,}; at most {export.MAX_LIMIT:,})",
    )
    _common_options(tasks)
    tasks.set_defaults(handler=run_tasks)

    bundle = actions.add_parser(
        "bundle",
        parents=[common],
        help="one task's incident bundle: the task in full, workers, counts, the filter as SQL, versions",
        description="One Markdown file for a ticket: the task in full (fields, decoded message and result,"
        " current and previous logs, the traceback), the workers, the counts, the filter (as given here)"
        " as SQL, and the tasktui, trigger, authentik and PostgreSQL versions.",
        epilog=parser.epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    bundle.add_argument("message_id", metavar="MESSAGE_ID", type=_message_id, help="the task's id, or 8+ digits")
    _common_options(bundle)
    bundle.set_defaults(handler=run_bundle)


def _common_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--output",
        "-o",
        metavar="PATH",
        help="a file, a folder (a name is made), or - for stdout (default: a new file in the current folder)",
    )
    facets = parser.add_argument_group("filter options (the console's search and facets)")
    add_filter_options(facets, statuses=True)
    facets.add_argument(
        "--show-successful",
        action="store_true",
        help="include successful tasks (hidden by default, as in the console and authentik)",
    )


def _limit(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= export.MAX_LIMIT:
        raise argparse.ArgumentTypeError(f"expected a number of tasks from 1 to {export.MAX_LIMIT:,}, got {text!r}")
    return int(text)


def _message_id(value: str) -> str:
    try:
        return parse_id_or_prefix(value)
    except InvalidMessageId as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def run_tasks(args: argparse.Namespace) -> int:
    task_filter = filter_from(args, hide_successful=not args.show_successful)

    async def rows() -> list:
        async with await open_session(Target.resolve(args.dsn)) as session:
            note_lookups(session.shape)
            return await export.newest_matching(session, task_filter, limit=args.limit)

    tasks = run_command(rows())
    assert isinstance(tasks, list)
    text = export.tasks_text(tasks, args.format)
    where = _write(text, args.output, export.tasks_file_name(args.format, datetime.now(UTC)))
    say(f"tasktui: {len(tasks):,} tasks ({task_filter.describe()}) written to {where}", stream=sys.stderr)
    return 0


def run_bundle(args: argparse.Namespace) -> int:
    task_filter = filter_from(args, hide_successful=not args.show_successful)

    async def load() -> export.IncidentBundle:
        async with await open_session(Target.resolve(args.dsn)) as session:
            note_lookups(session.shape)
            try:
                message_id = await resolve_message_id(session, args.message_id)
            except psycopg.Error as exc:
                raise user_error(exc, session.target) from None
            return await export.load_bundle(session, message_id, task_filter)

    bundle = run_command(load())
    assert isinstance(bundle, export.IncidentBundle)
    task_id = bundle.report.detail.task.message_id
    where = _write(bundle_markdown(bundle), args.output, export.bundle_file_name(task_id, datetime.now(UTC)))
    say(f"tasktui: incident bundle of {task_id} written to {where}", stream=sys.stderr)
    return 0


def _write(text: str, output: str | None, name: str) -> str:
    """Write `text` where the person said (never over an existing file); where it went."""
    if output == "-":
        write_stdout(text)
        return "stdout"
    try:
        return str(export.write_new_file(text, output, name))
    except export.FileExists as exc:
        raise UserFacingError(f"{exc}; give another --output") from None
