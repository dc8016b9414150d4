"""`tasktui show MESSAGE_ID`: one task in full — fields, decoded message and result, and the
logs of its current and previous attempts with exceptions as tracebacks.

Everything printed comes from the database and goes through tasktui.core.text: control
characters and escape sequences appear as visible escapes, Rich markup as the characters it is.
Colour only when stdout is a terminal; piped output is plain text, and --json is one object.
"""

from __future__ import annotations

import argparse
import json

import psycopg

from tasktui.commands import COMMANDS
from tasktui.commands._output import note_lookups, print_lines, write_stdout
from tasktui.commands._run import run_command
from tasktui.core.db import Target, user_error
from tasktui.core.detail import MIN_PREFIX, InvalidMessageId, parse_id_or_prefix, resolve_message_id
from tasktui.core.session import open_session
from tasktui.core.task_report import DEFAULT_MAX_LOGS, load_task_report, report_json
from tasktui.render.report import report_lines


def add_parser(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "show",
        parents=[common],
        help=COMMANDS["show"],
        description=(
            "Show one task in full. Text from the database is printed literally: control characters"
            " and escape sequences appear as visible escapes."
        ),
        epilog="""\
examples:
  tasktui show 3fa85f64-5717-4562-b3fc-2c963f66afa6
  tasktui show 3fa85f64 --json | jq '.logs.current.lines[-1]'   # by the 8 digits the table shows

exit status: 0; 1 no task has this id (whole or prefix); 2 not an id, or a prefix several ids
start with, or the server cannot be reached
""",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "message_id",
        metavar="MESSAGE_ID",
        type=_message_id,
        help=f"the task's message id (a UUID), or its first {MIN_PREFIX}+ hex digits as the console's table shows them",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.add_argument(
        "--max-logs",
        type=_count,
        default=DEFAULT_MAX_LOGS,
        metavar="N",
        help=f"log lines shown per attempt group, oldest first (default {DEFAULT_MAX_LOGS}; 0 = all)",
    )
    parser.set_defaults(handler=run)


def _message_id(value: str) -> str:
    try:
        return parse_id_or_prefix(value)
    except InvalidMessageId as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _count(value: str) -> int:
    if not value.isdigit():
        raise argparse.ArgumentTypeError(f"not a count: {value!r}")
    return int(value)


def run(args: argparse.Namespace) -> int:
    return run_command(_show(Target.resolve(args.dsn), args.message_id, as_json=args.json, max_logs=args.max_logs))


async def _show(target: Target, message_id: str, *, as_json: bool, max_logs: int) -> int:
    async with await open_session(target) as session:
        note_lookups(session.shape)
        try:
            message_id = await resolve_message_id(session, message_id)
            report = await load_task_report(session, message_id, max_logs=max_logs)
        except psycopg.Error as exc:  # a timeout or a lost connection: one line, no traceback
            raise user_error(exc, target) from None
    if as_json:
        write_stdout(json.dumps(report_json(report), ensure_ascii=True, indent=2) + "\n")
        return 0
    print_lines(list(report_lines(report)))
    return 0
