"""The `tasktui` command: the console by default, and subcommands for scripts and runbooks.

Each subcommand lives in tasktui.commands.<name> as `add_parser(subparsers, common)` plus an
async `run(args) -> int`; only the one being run is imported (tasktui.commands). Errors reach
the user as one line on stderr with a non-zero status; an unexpected one's traceback goes to the
debug log (tasktui.debuglog, `--log FILE`), or to the terminal with TASKTUI_DEBUG=1.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from tasktui import __version__, config, debuglog
from tasktui.commands import COMMANDS, console, load
from tasktui.commands._output import say
from tasktui.core.db import redact
from tasktui.core.trigger import TRIGGER_VERSION
from tasktui.errors import UserFacingError


class _Parser(argparse.ArgumentParser):
    """A usage error is one line on stderr, like every other tasktui error (argparse would
    print the whole usage first), and never echoes a password: argparse quotes the argument
    it rejects, which can be a connection string (or carry escape sequences: sanitised by say).
    Subcommand parsers inherit this class."""

    # A command whose usage errors must read otherwise (`status`: a plugin's UNKNOWN line) sets this.
    on_usage_error: Callable[[str], NoReturn] | None = None

    def error(self, message: str) -> NoReturn:
        if self.on_usage_error is not None:
            self.on_usage_error(message)
        say(f"{self.prog}: error: {redact(message)} (see `{self.prog} --help`)", stream=sys.stderr, multiline=False)
        self.exit(2)


class _Installation(argparse.Action):
    """--dsn and --profile: a command connects to the last one given, as argparse's `store` would;
    the console watches every one given, in order (`tasktui --dsn A --profile B`), from
    `watched`: [("dsn" | "profile", value), …] (not `installations`: the demo has an option of that name)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        setattr(namespace, self.dest, values)
        namespace.watched = [*getattr(namespace, "watched", []), (self.dest, values)]


def _profile_names(**_: object) -> list[str]:
    """Shell completion of --profile: the config file's profiles (none when it cannot be read)."""
    try:
        return sorted(config.load_config().profiles)
    except UserFacingError:
        return []


def version_text() -> str:
    """tasktui's version, and the version of the notify trigger it installs."""
    return f"tasktui {__version__} (installs notify trigger version {TRIGGER_VERSION})"


EPILOG = """\
examples:
  tasktui --dsn postgresql://sre@db/authentik          # the live console
  tasktui --profile prod-eu --read-only                # a profile of the config file
  tasktui --profile prod-eu --profile prod-us          # two installations, one tab each ([ ] 1 … 9 switch)
  tasktui status --crit-queued-age 600                 # a check for Nagios, Icinga or cron
  tasktui serve --profile staging                      # the console in a browser, on localhost
  tasktui COMMAND --help                               # each command, with examples

exit status: 0; 1 a failure the message names; 2 bad arguments or the server cannot be reached;
3 no authentik task tables; 4 a privilege is missing; 5 the notify trigger is not installed;
6 the mirror's tables exist already; 7 a bulk retry not confirmed; 8 not every task retried;
130 interrupted; `status` follows the monitoring-plugins convention (0/1/2/3)
"""


def build_parser(words: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """tasktui's parser. With `words` (the command line), only the commands named among them get
    their parser (and their module imported); the others are listed with their summary alone.
    Whichever command argparse then picks is among those built: it is one of the words."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--dsn",
        action=_Installation,
        default=argparse.SUPPRESS,
        help="libpq connection string or URL (default: --profile's, else $TASKTUI_PROFILE's, else $DATABASE_URL,"
        " else PG* variables, ~/.pgpass and service files, else the config file's default_profile); the console"
        " takes several (--dsn A --dsn B) and watches each installation in a tab of its own",
    )
    profile = common.add_argument(
        "--profile",
        action=_Installation,
        default=argparse.SUPPRESS,
        metavar="NAME",
        help="a named profile of the config file (`tasktui config path`): its DSN, label, read-only, channel; the"
        " console takes several, as --dsn",
    )
    profile.completer = _profile_names  # type: ignore[attr-defined]
    common.add_argument(
        "--log",
        type=Path,
        default=argparse.SUPPRESS,
        metavar="FILE",
        help="debug log of unexpected failures, with tracebacks and without passwords"
        " (default: $XDG_STATE_HOME/tasktui/tasktui.log)",
    )
    parser = _Parser(
        prog="tasktui",
        description="Live terminal console for authentik's Postgres task system.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=version_text())
    console.add_arguments(parser)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, summary in COMMANDS.items():
        if words is None or name in words:
            load(name).add_parser(subparsers, common)
        else:
            subparsers.add_parser(name, help=summary, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    if not os.environ.get("TASKTUI_DEBUG"):
        # Library warnings (psycopg notes a query cancelled at exit) would land on the terminal
        # the console just restored; tasktui reports what matters itself.
        logging.getLogger().addHandler(logging.NullHandler())
        logging.getLogger("psycopg").setLevel(logging.ERROR)
    words = list(sys.argv[1:] if argv is None else argv)
    completing = "_ARGCOMPLETE" in os.environ  # the shell asks for completions (`tasktui completion`)
    if completing:
        words = os.environ.get("COMP_LINE", "").split()
    parser = build_parser(words)
    if completing:
        import argcomplete

        # Answers the shell's completion request and exits.
        argcomplete.autocomplete(parser)
    args = parser.parse_args(argv)
    for name in ("dsn", "profile"):
        if not hasattr(args, name):
            setattr(args, name, None)
    log_file = getattr(args, "log", None)
    # Every --dsn given (the console takes several), each a connection string whose password the
    # log and the error lines never hold.
    given = [value for kind, value in getattr(args, "watched", []) if kind == "dsn"]
    log_path = debuglog.setup(log_file, conninfos=[args.dsn or os.environ.get("DATABASE_URL", ""), *given])
    handler = getattr(args, "handler", console.run)
    try:
        if getattr(args, "reads_config", True):
            # Command line > environment > config file: what every command connects to, and how
            # the console runs (tasktui.config).
            args.settings = config.resolve(args, config.load_config())
            args.dsn = args.settings.dsn.value
            # The resolved DSN (a profile's, say) is one more whose password the log never holds.
            debuglog.setup(log_file, conninfos=[args.dsn or "", os.environ.get("DATABASE_URL", ""), *given])
        return handler(args)
    except UserFacingError as exc:
        report = getattr(args, "report_error", None)
        if report is not None:
            return int(report(args, exc))
        say(f"tasktui: error: {exc}", stream=sys.stderr, multiline=False)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if os.environ.get("TASKTUI_DEBUG"):
            raise
        debuglog.log.error("unexpected failure", exc_info=exc)
        message = " ".join(str(exc).split())
        for conninfo in [args.dsn or "", *given]:
            message = redact(message, conninfo)
        say(
            f"tasktui: unexpected error: {type(exc).__name__}: {message} (details in {log_path})",
            stream=sys.stderr,
            multiline=False,
        )
        return 1
