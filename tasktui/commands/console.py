"""`tasktui` with no subcommand: open the live console."""

from __future__ import annotations

import argparse

from tasktui.argtypes import positive
from tasktui.core.feed import RECONCILE_INTERVAL
from tasktui.core.listener import LINK_TIMEOUT
from tasktui.core.trigger import DEFAULT_CHANNEL, validate_channel


def channel_prefix(value: str) -> str:
    """--channel, for argparse: a prefix the server adds a random suffix to, one per console."""
    try:
        return validate_channel(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--read-only", action="store_true", help="hide and refuse every write action (retry)")
    parser.add_argument(
        "--channel",
        default=DEFAULT_CHANNEL,
        type=channel_prefix,
        help="notification channel prefix (default: tasktui); the server adds a random suffix for each console",
    )
    parser.add_argument("--label", help="name shown in the header for this database (e.g. prod-eu)")
    parser.add_argument(
        "--link-timeout",
        type=positive(float),
        default=LINK_TIMEOUT,
        metavar="SECONDS",
        help=f"a server silent for this long after a heartbeat counts as unreachable (default: {LINK_TIMEOUT:g})",
    )
    parser.add_argument(
        "--recheck",
        type=positive(float),
        default=RECONCILE_INTERVAL,
        metavar="SECONDS",
        help=f"re-check the tasks on screen against the database this often (default: {RECONCILE_INTERVAL:g})",
    )


def run(args: argparse.Namespace) -> int:
    from tasktui.core.db import Target
    from tasktui.ui.app import run_console

    return run_console(
        Target.resolve(args.dsn),
        read_only=args.read_only,
        channel=args.channel,
        label=args.label,
        link_timeout=args.link_timeout,
        reconcile_interval=args.recheck,
    )
