"""`tasktui xray MESSAGE_ID`: who runs this task — the session holding its advisory lock, that
worker's other locks, heartbeat and Postgres sessions, and an orphan verdict
(tasktui.core.incidents.xray). Read-only: it never cancels or terminates anything."""

from __future__ import annotations

import argparse
import json

import psycopg

from tasktui.commands import COMMANDS
from tasktui.commands._output import print_lines, write_stdout
from tasktui.commands._run import run_command
from tasktui.core.db import Target, user_error
from tasktui.core.detail import InvalidMessageId, parse_id_or_prefix, resolve_message_id
from tasktui.core.incidents.xray import xray_task
from tasktui.core.session import open_session
from tasktui.render.xray import report_lines

DESCRIPTION = """\
X-ray a task: the Postgres session that holds its advisory lock (authentik's consumer takes it
when it claims the task and keeps it until some turn after the ack), the other advisory locks
of that session, the worker behind it with its heartbeat, that worker's sessions where
pg_stat_activity shows them (backend state, wait event, how long the current query has run),
and a verdict: a task in a running state whose lock nobody holds is orphaned.

Read-only: tasktui reads pg_locks and pg_stat_activity, takes no lock and never cancels or
terminates a backend. Seeing other roles' sessions in full needs pg_read_all_stats.

example:
  tasktui xray 3fa85f64                 # the message id or its first 8+ hex digits

exit status:
  0    the task was x-rayed
  1    no task has this id
  2    bad arguments (not a message id, or a prefix several ids start with), or the database
       cannot be reached
  3    no authentik task tables in this database
"""


def add_parser(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "xray",
        parents=[common],
        help=COMMANDS["xray"],
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("message_id", metavar="MESSAGE_ID", type=_message_id, help="the task's message id or prefix")
    parser.add_argument("--json", action="store_true", help="print the x-ray as one JSON object")
    parser.set_defaults(handler=run)


def _message_id(value: str) -> str:
    try:
        return parse_id_or_prefix(value)
    except InvalidMessageId as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    return run_command(_xray(Target.resolve(args.dsn), args.message_id, as_json=args.json))


async def _xray(target: Target, given: str, *, as_json: bool) -> int:
    async with await open_session(target) as session:
        try:
            message_id = await resolve_message_id(session, given)
        except psycopg.Error as exc:
            raise user_error(exc, target) from None
        report = await xray_task(session, message_id)
    if as_json:
        write_stdout(json.dumps(report.to_json(), ensure_ascii=False, indent=2) + "\n")
    else:
        print_lines(report_lines(report))
    return 0
