"""`tasktui serve`: the console in a browser, through textual-serve.

Each browser tab gets a console of its own: textual-serve runs `tasktui` for it in a
subprocess and relays the screen over a websocket. The subprocess starts as the console would
here: the database this command resolved (passed in its environment as DATABASE_URL, never on a
command line that `ps` shows), the console options resolved here, and the same config file for
the rest (filter, fps, keys).

textual-serve has no authentication and the console can retry tasks, so it listens on this
machine only unless `--host` names another address — and then says what that means.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import shlex
import socket
import sys

from tasktui.commands import COMMANDS
from tasktui.commands._output import say
from tasktui.config import PROFILE_ENV, Resolved
from tasktui.core.db import Target
from tasktui.errors import UserFacingError

DEFAULT_HOST = "localhost"
DEFAULT_PORT = 8000

DESCRIPTION = """\
The live console in a browser (textual-serve): every tab gets its own console on the database
that --dsn, --profile, the environment or the config file name, as `tasktui` would open it.
It listens on localhost only, unless --host names another address: textual-serve has no
authentication and the console can retry tasks, so anyone who reaches the port can. Put it
behind an authenticating proxy, or add --read-only.
"""

EPILOG = """\
examples:
  tasktui serve --profile prod-eu                 # http://localhost:8000 on this machine only
  ssh -L 8000:localhost:8000 bastion              # from a laptop, through the bastion
  tasktui serve --read-only --host 0.0.0.0 --public-url https://tasks.example.org

exit status: 0 after Ctrl-C or SIGTERM; 2 bad arguments, or the address cannot be bound
"""


def add_parser(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    # Imported here: the console's options are the console command's (one definition).
    from tasktui.commands import console

    parser = subparsers.add_parser(
        "serve",
        parents=[common],
        help=COMMANDS["serve"],
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    console.add_arguments(parser)
    parser.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"address to listen on (default {DEFAULT_HOST}: this machine only); any other prints a warning",
    )
    parser.add_argument("--port", type=_port, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    parser.add_argument(
        "--public-url",
        metavar="URL",
        help="the address browsers use, when it is not http://HOST:PORT (a proxy, another name)",
    )
    parser.set_defaults(handler=run)


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 1 to 65535, got {text!r}")
    return int(text)


def is_loopback(host: str) -> bool:
    """Whether `host` is this machine only (a loopback address, or a name that resolves only to
    loopback addresses)."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0]).is_loopback for info in infos)


def console_command(settings: Resolved) -> list[str]:
    """The command textual-serve runs for each browser tab: the console, with the options
    resolved here (the DSN goes in the environment: see child_environment)."""
    console = settings.console
    command = [sys.executable, "-m", "tasktui", "--channel", console["channel"].value]
    for option, name in (("--label", "label"), ("--theme", "theme"), ("--trigger-mode", "trigger_mode")):
        if console[name].value:
            command += [option, str(console[name].value)]
    command += ["--recheck", f"{console['recheck'].value:g}", "--link-timeout", f"{console['link_timeout'].value:g}"]
    command += ["--max-fps", f"{console['fps'].value:g}"]
    if console["read_only"].value:
        command.append("--read-only")
    return command


def child_environment(settings: Resolved, environ: dict[str, str]) -> dict[str, str]:
    """The environment of each tab's console: where to connect, as resolved here."""
    env = dict(environ)
    env.pop(PROFILE_ENV, None)  # the profile was chosen here; its DSN is passed on below
    if settings.dsn.value is not None:
        env["DATABASE_URL"] = settings.dsn.value
    return env


def run(args: argparse.Namespace) -> int:
    try:
        from textual_serve.server import Server
    except ImportError:  # pragma: no cover - a dependency of tasktui
        raise UserFacingError("tasktui serve needs textual-serve: pip install textual-serve") from None
    from tasktui.commands.console import preflight

    settings: Resolved = args.settings
    # The same checks as the console's, once, before anyone opens a tab.
    preflight(Target.resolve(args.dsn))
    local = is_loopback(args.host)
    url = args.public_url or f"http://{args.host}:{args.port}"
    if local:
        say(f"tasktui: serving the console on {url} — this machine only (--host to listen elsewhere)")
    else:
        writes = "it is read-only" if settings.console["read_only"].value else "it can retry tasks"
        say(
            f"tasktui: warning: serving the console on {args.host}:{args.port}, reachable from other machines,"
            f" with no authentication (textual-serve has none) — and {writes}; put it behind an"
            " authenticating proxy, or use --read-only",
            stream=sys.stderr,
        )
    # textual-serve starts each tab's console with a copy of this process's environment.
    environment = child_environment(settings, dict(os.environ))
    os.environ.clear()
    os.environ.update(environment)
    server = Server(
        shlex.join(console_command(settings)),
        host=args.host,
        port=args.port,
        title="tasktui",
        public_url=args.public_url,
    )
    try:
        server.serve()
    except OSError as exc:
        raise UserFacingError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", exit_code=2) from None
    return 0
