"""`tasktui` with no subcommand: open the live console."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tasktui.argtypes import positive
from tasktui.config import DEFAULT_FPS, MAX_FPS, theme_problem
from tasktui.core.changemode import AUTO, CHOICES
from tasktui.core.db import Target
from tasktui.core.feed import RECONCILE_INTERVAL
from tasktui.core.filters import TaskFilter
from tasktui.core.listener import LINK_TIMEOUT
from tasktui.core.trigger import DEFAULT_CHANNEL, validate_channel
from tasktui.errors import UserFacingError

if TYPE_CHECKING:  # the service and Textual only once the console opens: the CLI's other commands start faster
    from tasktui.config import Resolved
    from tasktui.core.console import TaskConsole
    from tasktui.ui.app import TaskTuiApp
    from tasktui.ui.settings import ConsoleSettings


def channel_prefix(value: str) -> str:
    """--channel, for argparse: a prefix the server adds a random suffix to, one per console."""
    try:
        return validate_channel(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def max_fps(text: str) -> float:
    """--max-fps, for argparse: redraws a second, more than 0 and at most 60 (as console.fps)."""
    value = positive(float)(text)
    if value > MAX_FPS:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_FPS:g}: {text!r}")
    return value


def theme_name(value: str) -> str:
    """--theme, for argparse: one of the console's themes (a typo is one line, not a traceback)."""
    problem = theme_problem(value)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return value


def add_max_fps(parser: argparse.ArgumentParser) -> None:
    """--max-fps, shared by the console and `tasktui demo`."""
    parser.add_argument(
        "--max-fps",
        type=max_fps,
        default=None,
        metavar="N",
        help=f"redraw the screen at most N times a second (default: console.fps in the config file, else"
        f" {DEFAULT_FPS:g}); 2 or 4 on a slow SSH link sends a fraction of the bytes",
    )


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
    add_max_fps(parser)
    parser.add_argument(
        "--theme",
        type=theme_name,
        help="a Textual theme, or tasktui-ansi: the terminal's 16 colours, safe over any SSH link (default:"
        " $TASKTUI_THEME, else console.theme in the config file, else textual-dark)",
    )
    parser.add_argument(
        "--trigger-mode",
        choices=CHOICES,
        default=None,
        help="what to ask tasktui's notify trigger for: auto (drain mode while the rate of changes is high; the"
        " default), notify, or drain (no NOTIFY, so no cluster-wide commit lock for authentik's writers)",
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


def console_options(settings: Resolved) -> dict[str, Any]:
    """run_console's keyword arguments from the resolved settings (command line, environment,
    config file): the console and `tasktui serve`'s sessions start the same way."""
    console = settings.console
    return {
        "read_only": console["read_only"].value,
        "channel": console["channel"].value,
        "label": console["label"].value,
        "link_timeout": console["link_timeout"].value,
        "reconcile_interval": console["recheck"].value,
        "trigger_mode": console["trigger_mode"].value,
        "poll_interval": console["poll"].value,
        "fps": console["fps"].value,
        "theme": console["theme"].value,
        "local_time": console["time"].value == "local",
        "keymap": settings.keymap,
        "task_filter": settings.task_filter(),
    }


def run(args: argparse.Namespace) -> int:
    given = getattr(args, "watched", [])
    if len(given) > 1:
        return run_consoles(installations(args, given))
    return run_console(Target.resolve(args.dsn), **console_options(args.settings))


def installations(args: argparse.Namespace, given: list[tuple[str, str]]) -> list[tuple[Target, dict[str, Any]]]:
    """Each --dsn and --profile of the command line, resolved on its own against the same
    environment and config file (a profile brings its label, read-only and channel); each is
    named by its label, else by its user@host/database."""
    from tasktui.config import resolve

    if getattr(args, "label", None):
        raise UserFacingError(
            "--label names one database: with several, each is named by its profile's label, else by its"
            " user@host/database",
            exit_code=2,
        )
    result = []
    for kind, value in given:
        one = argparse.Namespace(**{**vars(args), "dsn": value if kind == "dsn" else None})
        one.profile = value if kind == "profile" else None
        settings = resolve(one, args.settings.config)
        target = Target.resolve(settings.dsn.value)
        options = console_options(settings)
        options["label"] = options["label"] or target.label
        result.append((target, options))
    return result


def preflight(target: Target) -> None:
    """Fail before the screen opens on a bad DSN, a server that is down, or missing tables."""

    from tasktui.core.session import open_session

    async def check() -> None:
        session = await open_session(target)
        await session.close()

    asyncio.run(check())


def run_console(target: Target, **options: Any) -> int:
    """Check the database, then run the console (options: see console_app) until it quits."""
    preflight(target)
    return _run(console_app(target, **options))


def run_consoles(installations: list[tuple[Target, dict[str, Any]]]) -> int:
    """The console on several installations, one tab each (options: see console_app; the first's
    theme, fps and keymap are the console's). It opens when at least one can be reached: the
    others' tabs say why not, and their feeds keep trying, as after a drop."""
    failures = []
    for target, _ in installations:
        try:
            preflight(target)
        except UserFacingError as exc:
            failures.append(exc)
    if len(failures) == len(installations):
        raise failures[0]
    return _run(consoles_app(installations))


def consoles_app(installations: list[tuple[Target, dict[str, Any]]]) -> TaskTuiApp:
    """The console on several installations: a service each, in one App."""
    from tasktui.ui.app import TaskTuiApp

    (service, settings), *others = [console_service(target, **options) for target, options in installations]
    return TaskTuiApp(service, settings, others=others)


def _run(app: TaskTuiApp) -> int:
    app.exit_on_signals = True
    result = app.run()
    return result or 0


def console_app(target: Target, **options: Any) -> TaskTuiApp:
    """The console service on `target` and the console on it, with the settings of the command
    line, environment and config file (tasktui.config, which validated them; options: see
    console_service)."""
    from tasktui.ui.app import TaskTuiApp

    return TaskTuiApp(*console_service(target, **options))


def console_service(
    target: Target,
    *,
    read_only: bool,
    channel: str,
    label: str | None = None,
    connection: str | None = None,
    link_timeout: float = LINK_TIMEOUT,
    reconcile_interval: float = RECONCILE_INTERVAL,
    poll_interval: float = 2.0,
    trigger_mode: str = AUTO,
    fps: float | None = None,
    theme: str | None = None,
    local_time: bool = False,
    keymap: Mapping[str, str] | None = None,
    task_filter: TaskFilter | None = None,
) -> tuple[TaskConsole, ConsoleSettings]:
    """One installation's console service and the console's settings for it."""
    from tasktui.core.console import TaskConsole
    from tasktui.ui.settings import REDRAW_INTERVAL, ConsoleSettings, TimeZoneChoice

    service = TaskConsole(
        target,
        channel=channel,
        link_timeout=link_timeout,
        reconcile_interval=reconcile_interval,
        poll_interval=poll_interval,
        trigger_mode=trigger_mode,
    )
    settings = ConsoleSettings(
        read_only=read_only,
        label=label,
        connection=connection,
        redraw_interval=1 / fps if fps else REDRAW_INTERVAL,
        theme=theme,
        times=TimeZoneChoice(local=local_time),
        keymap=dict(keymap or {}),
        task_filter=task_filter or TaskFilter(),
    )
    return service, settings
