"""`tasktui tail`: print every change notification as one JSON line, for scripts and tests."""

from __future__ import annotations

import argparse
import sys

from tasktui.commands._output import say
from tasktui.commands._run import run_command
from tasktui.commands.console import channel_prefix
from tasktui.core import db
from tasktui.core.listener import TABLES, ChangeListener
from tasktui.core.text import ascii_json
from tasktui.core.trigger import DEFAULT_CHANNEL


def add_parser(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "tail",
        parents=[common],
        help="register as a watching console and print each change notification as a JSON line",
        description=(
            "Register as a watching console (the role must be able to read the task table) and print"
            " each change as one JSON object per line. Non-ASCII characters are written as JSON"
            " escapes (\\uXXXX): the values are exact, and no control or bidi character reaches the"
            " terminal."
        ),
    )
    parser.add_argument(
        "--channel",
        default=DEFAULT_CHANNEL,
        type=channel_prefix,
        help="notification channel prefix (default: tasktui); the server adds a random suffix of its own",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    return run_command(_tail(db.Target.resolve(args.dsn), args.channel))


async def _tail(target: db.Target, channel: str) -> int:
    async with ChangeListener(target, channel) as listener:
        say(f"listening on {channel!r} (console {listener.console_id}) at {target.label}", stream=sys.stderr)
        try:
            async for change in listener.changes():
                if change.table not in TABLES:
                    continue  # not from tasktui's trigger: any role may NOTIFY any channel
                sys.stdout.write(ascii_json(change.payload) + "\n")
                sys.stdout.flush()
        except OSError:
            return 0  # stdout closed (piped into head)
        except Exception as exc:
            raise db.explain(exc, target) from None
    return 0
