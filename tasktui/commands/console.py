"""`tasktui` with no subcommand: open the live console."""

from __future__ import annotations

import argparse
from typing import Any

from tasktui.argtypes import positive
from tasktui.config import Resolved
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
    # Defaults are None here: the config file and the environment fill what the command line
    # leaves out (tasktui.config), and tasktui's defaults come last.
    parser.add_argument("--read-only", action="store_true", help="hide and refuse every write action (retry)")
    parser.add_argument(
        "--channel",
        default=None,
        type=channel_prefix,
        help=f"notification channel prefix (default: {DEFAULT_CHANNEL}); the server adds a random suffix for each"
        " console",
    )
    parser.add_argument("--label", help="name shown in the header for this database (e.g. prod-eu)")
    parser.add_argument(
        "--theme",
        help="a Textual theme (default: $TASKTUI_THEME, else console.theme in the config file, else textual-dark)",
    )
    parser.add_argument(
        "--link-timeout",
        type=positive(float),
        default=None,
        metavar="SECONDS",
        help=f"a server silent for this long after a heartbeat counts as unreachable (default: {LINK_TIMEOUT:g})",
    )
    parser.add_argument(
        "--recheck",
        type=positive(float),
        default=None,
        metavar="SECONDS",
        help=f"re-check the tasks on screen against the database this often (default: {RECONCILE_INTERVAL:g})",
    )


def console_options(settings: Resolved, *, notice: str | None = None) -> dict[str, Any]:
    """run_console's keyword arguments from the resolved settings (command line, environment,
    config file): the console and `tasktui serve`'s sessions start the same way."""
    console = settings.console
    return {
        "read_only": console["read_only"].value,
        "channel": console["channel"].value,
        "label": console["label"].value,
        "notice": notice,
        "link_timeout": console["link_timeout"].value,
        "reconcile_interval": console["recheck"].value,
        "poll_interval": console["poll"].value,
        "fps": console["fps"].value,
        "theme": console["theme"].value,
        "keymap": settings.keymap,
        "task_filter": settings.task_filter(),
    }


def run(args: argparse.Namespace) -> int:
    from tasktui.core.db import Target
    from tasktui.ui.app import run_console

    return run_console(Target.resolve(args.dsn), **console_options(args.settings))
