"""`tasktui tail`: print every change notification as one JSON line, for scripts and tests."""

from __future__ import annotations

import argparse
import sys

from tasktui.commands._output import say
from tasktui.commands._run import run_command
from tasktui.core import db
from tasktui.core.listener import ChangeListener
from tasktui.core.text import ascii_json
from tasktui.core.trigger import DEFAULT_CHANNEL, validate_channel


def add_parser(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "tail",
        parents=[common],
        help="register as a watching console and print each change notification as a JSON line",
    )
    parser.add_argument("--channel", default=DEFAULT_CHANNEL, type=_channel, help="notification channel")
    parser.set_defaults(handler=run)


def _channel(value: str) -> str:
    try:
        return validate_channel(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    return run_command(_tail(db.Target.resolve(args.dsn), args.channel))


async def _tail(target: db.Target, channel: str) -> int:
    async with ChangeListener(target, channel) as listener:
        say(f"listening on {channel!r} at {target.label}", stream=sys.stderr)
        try:
            async for change in listener.changes():
                # JSON with non-ASCII escaped: the values are exact, no C1 or bidi byte is printed.
                sys.stdout.write(ascii_json(change.payload) + "\n")
                sys.stdout.flush()
        except OSError:
            return 0  # stdout closed (piped into head)
        except Exception as exc:
            raise db.explain(exc, target) from None
    return 0
