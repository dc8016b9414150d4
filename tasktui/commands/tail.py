"""`tasktui tail`: print every change notification as one JSON line, for scripts and tests."""

from __future__ import annotations

import argparse
import sys

import psycopg

from tasktui.commands import COMMANDS
from tasktui.commands._output import say
from tasktui.commands._run import run_command
from tasktui.commands.console import channel_prefix
from tasktui.core import db
from tasktui.core.changemode import AUTO, CHOICES
from tasktui.core.listener import TABLES, ChangeListener
from tasktui.core.sql import trigger as trigger_sql
from tasktui.core.text import ascii_json
from tasktui.core.trigger import DEFAULT_CHANNEL
from tasktui.errors import TriggerNotInstalled, UserFacingError


def add_parser(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "tail",
        parents=[common],
        help=COMMANDS["tail"],
        description=(
            "Register as a watching console (the role must be able to read the task table) and print"
            " each change as one JSON object per line. Non-ASCII characters are written as JSON"
            " escapes (\\uXXXX): the values are exact, and no control or bidi character reaches the"
            " terminal. Changes the trigger recorded in drain mode are printed the same way, with"
            ' "via": "drain"; each switch of the trigger\'s mode is said on stderr.'
        ),
        epilog=(
            "example: tasktui tail --dsn postgresql://sre@db/authentik | jq -c 'select(.table == \"task\")'"
            "\n\nexit status: 0 after Ctrl-C or SIGTERM (or when the reader of its output goes away);"
            " 2 the server cannot be reached or the link was lost; 4 this role may not read the task table;"
            " 5 tasktui's notify trigger is not installed — at start, or removed while tail runs (it says which)"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--channel",
        default=DEFAULT_CHANNEL,
        type=channel_prefix,
        help="notification channel prefix (default: tasktui); the server adds a random suffix of its own",
    )
    parser.add_argument(
        "--trigger-mode",
        default=AUTO,
        choices=CHOICES,
        help="what to ask the trigger for: auto (drain mode while the rate is high; default), notify or drain",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    return run_command(_tail(db.Target.resolve(args.dsn), args.channel, args.trigger_mode))


async def _tail(target: db.Target, channel: str, mode: str = AUTO) -> int:
    async with ChangeListener(target, channel, mode=mode) as listener:
        say(f"listening on {channel!r} (console {listener.console_id}) at {target.label}", stream=sys.stderr)
        said_mode = listener.mode
        say(f"trigger mode: {said_mode}", stream=sys.stderr)
        try:
            async for change in listener.changes():
                if listener.mode != said_mode:
                    said_mode = listener.mode
                    say(f"trigger mode: {said_mode}", stream=sys.stderr)
                if change.table not in TABLES:
                    continue  # not from tasktui's trigger: any role may NOTIFY any channel
                sys.stdout.write(ascii_json(change.payload) + "\n")
                sys.stdout.flush()
        except OSError:
            return 0  # stdout closed (piped into head)
        except (psycopg.Error, UserFacingError) as exc:
            # `trigger uninstall` drops the registration functions: the next heartbeat fails on a
            # function that no longer exists. Say that, with the status of a missing trigger.
            if await _trigger_removed(target):
                raise TriggerNotInstalled(
                    f"tasktui's notify trigger was removed from {target.label} while tail was running, so no"
                    " more changes will come; run `tasktui trigger install` to watch again"
                ) from None
            raise db.user_error(exc, target) from None
    return 0


async def _trigger_removed(target: db.Target) -> bool:
    """Whether the registration functions are gone (False when that cannot be told)."""
    try:
        conn = await db.connect(target)
    except (psycopg.Error, UserFacingError):
        return False
    try:
        row = await (await conn.execute(trigger_sql.REGISTRATION_AVAILABLE)).fetchone()
        return row is not None and not row[0]
    except psycopg.Error:
        return False
    finally:
        await conn.close()
