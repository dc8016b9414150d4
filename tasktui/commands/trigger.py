"""`tasktui trigger install|uninstall|status`: manage the notify trigger behind live updates."""

from __future__ import annotations

import argparse

from tasktui.commands import COMMANDS
from tasktui.commands._output import say
from tasktui.commands._run import run_command
from tasktui.core import trigger as notify_trigger
from tasktui.core.db import Target
from tasktui.core.session import open_session

EXAMPLES = """\
examples:
  tasktui trigger install --dsn postgresql://authentik@db/authentik   # once, by a role that may
  tasktui trigger status --profile prod-eu                            # version, who is watching
  tasktui trigger uninstall --dsn postgresql://authentik@db/authentik

exit status: 0; status: 1 when the trigger is not installed; 2 the server cannot be reached;
4 a privilege is missing (named)
"""


def add_parser(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "trigger",
        help=COMMANDS["trigger"],
        description="Manage the notify trigger behind the console's live updates (silent while no console watches).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="trigger_action", metavar="ACTION", required=True)
    for name, text in (
        ("install", "install or upgrade the trigger (idempotent; silent while no console watches)"),
        ("uninstall", "remove every object the install created"),
        ("status", "say whether the trigger is installed, its version and who is watching"),
    ):
        action = actions.add_parser(
            name,
            parents=[common],
            help=text,
            description=text[0].upper() + text[1:] + ".",
            epilog=EXAMPLES,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        action.set_defaults(handler=run, trigger_action=name)


def run(args: argparse.Namespace) -> int:
    return run_command(_run(Target.resolve(args.dsn), args.trigger_action))


async def _run(target: Target, action: str) -> int:
    async with await open_session(target) as session:
        if action == "install":
            status = await notify_trigger.install(session.conn, session.shape)
            say(f"notify trigger on {session.label}: {status.describe()}")
        elif action == "uninstall":
            await notify_trigger.uninstall(session.conn, session.shape)
            say(f"notify trigger removed from {session.label}")
        else:
            status = await notify_trigger.status(session.conn, session.shape)
            say(f"notify trigger on {session.label}: {status.describe()}")
            for console in status.consoles or ():
                # Hostnames are what each console said it was: shown, never trusted.
                say(
                    f"  console {console.username}@{console.hostname} pid {console.backend_pid}"
                    f" channel {console.channel} since {console.started:%Y-%m-%d %H:%M:%S %Z}",
                    multiline=False,
                )
            return 0 if status.installed else 1
    return 0
