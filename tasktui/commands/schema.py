"""`tasktui schema apply`: create the standalone mirror of authentik's task tables."""

from __future__ import annotations

import argparse

from tasktui.commands import COMMANDS
from tasktui.commands._output import say
from tasktui.commands._run import run_command
from tasktui.core import db
from tasktui.core.mirror import apply_mirror

EXAMPLES = """\
examples:
  createdb tasks && tasktui schema apply --dsn postgresql://localhost/tasks
  python -m tasktui.demo.workload --dsn postgresql://localhost/tasks   # a simulated workload on it

exit status: 0 created; 2 the server cannot be reached; 6 the tables exist already (nothing changed)
"""


def add_parser(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "schema",
        help=COMMANDS["schema"],
        description="Create a standalone mirror of authentik's task tables (never on a real authentik database).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="schema_action", metavar="ACTION", required=True)
    apply = actions.add_parser(
        "apply",
        parents=[common],
        help="create the task tables, triggers and a default tenant (refuses if present)",
        description="Create authentik's task tables (as its migrations leave them), the schedule table, their"
        " triggers and a default tenant, for a standalone setup or a test. Refuses when they exist.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    apply.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    return run_command(_apply(db.Target.resolve(args.dsn)))


async def _apply(target: db.Target) -> int:
    conn = await db.connect(target)
    try:
        await apply_mirror(conn)
    finally:
        await conn.close()
    say(f"created authentik's task tables on {target.label}")
    say("next: `tasktui trigger install` for live updates")
    return 0
