"""The console's App: it follows the console service in a worker, turns the service's events into
messages for the screens, and starts on the main screen. Everything else is the screens'.

Watching several installations (`tasktui --dsn A --dsn B`), it follows each one's service in a
worker of its own, gives each a Textual mode (a screen stack: its main screen, and whatever was
opened over it stays open while another is shown), switches with `[`, `]` and 1 … 9, and reads
each one's summary row on a timer (tasktui.ui.installations).

A worker's unexpected failure (a bug) is written to the debug log with its traceback and said in
one line that names the file (tasktui.ui.failures, mixed into the App and the screens).
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from functools import partial
from types import FrameType
from typing import Any, ClassVar

from textual.app import App, SystemCommand
from textual.filter import Monochrome
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.screen import ModalScreen, Screen

from tasktui.core.console import ConsoleService
from tasktui.core.counts import StatusCounts
from tasktui.core.db import without_target
from tasktui.core.events import FeedStatus, FeedUpdate
from tasktui.core.health import FeedHealth
from tasktui.core.text import cut
from tasktui.errors import UserFacingError
from tasktui.ui import keys
from tasktui.ui.failures import ReportsWorkerFailures
from tasktui.ui.installations import Installation
from tasktui.ui.messages import (
    CountsUpdated,
    FeedHealthChanged,
    FeedStatusChanged,
    FeedUpdated,
    SideChangesArrived,
)
from tasktui.ui.screens.help import ConnectionScreen
from tasktui.ui.screens.main import MainScreen
from tasktui.ui.settings import ConsoleSettings, WriteAccess
from tasktui.ui.themes import TASKTUI_ANSI, StatusColours

NOTICE_SECONDS = 30.0  # an opening notice stays long enough to be read and copied
NOTICE_CHARS = 1_000  # of one notice: a toast is a few lines, whatever the text it quotes
# Quit like `q` on these (Ctrl-C is a key in the console; a SIGINT comes only from outside).
EXIT_SIGNALS = (signal.SIGTERM, signal.SIGINT)
# Keys the palette does not list: moving the cursor from a palette makes no sense.
_SignalHandler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None
NOT_IN_PALETTE = frozenset(
    ("command_palette", "cursor_down", "cursor_up", "page_down", "page_up", "switch_installation")
)
_INSTALLATION_ACTIONS = frozenset(k.action for k in keys.INSTALLATION_KEYS)
# Each installation's summary row (a few bounded counts: 225 ms on 1,000,000 tasks) this often.
SUMMARY_SECONDS = 15.0


class _ScreenEvents:
    """An installation's service's events as messages, for every screen on its stack (the feed
    runs on the app's loop, in a worker)."""

    def __init__(self, app: TaskTuiApp, installation: Installation) -> None:
        self.app = app
        self.installation = installation

    def _deliver(self, make: Callable[[], Message]) -> None:
        for screen in self.app.get_screen_stack(self.installation.mode):
            screen.post_message(make())

    def feed_status(self, status: FeedStatus) -> None:
        self._deliver(lambda: FeedStatusChanged(status))

    def feed_updated(self, update: FeedUpdate) -> None:
        self._deliver(lambda: FeedUpdated(update))

    def feed_counts(self, counts: StatusCounts) -> None:
        self._deliver(lambda: CountsUpdated(counts))

    def feed_side_changes(self, tasklog_task_ids: frozenset[str], workers_changed: bool) -> None:
        self._deliver(lambda: SideChangesArrived(tasklog_task_ids, workers_changed))

    def feed_health(self, health: FeedHealth) -> None:
        self._deliver(lambda: FeedHealthChanged(health))

    def console_notice(self, text: str) -> None:
        several = len(self.app.installations) > 1
        self.app.notify(f"{self.installation.name}: {text}" if several else text, timeout=NOTICE_SECONDS)


class TaskTuiApp(ReportsWorkerFailures, StatusColours, App[int]):
    """The console (see the module docstring). The statuses' colours, $status-<name>, come from
    StatusColours: readable and apart from each other in every theme (tasktui.ui.themes)."""

    TITLE = "tasktui"
    CSS_PATH = "app.tcss"
    # The first installation's stack is the App's default one; the others are modes added for them.
    DEFAULT_MODE: ClassVar[str] = "installation-1"
    BINDINGS = keys.installation_bindings()

    def __init__(
        self,
        service: ConsoleService,
        settings: ConsoleSettings | None = None,
        *,
        others: Sequence[tuple[ConsoleService, ConsoleSettings]] = (),
    ) -> None:
        """The console on `service`; with `others`, on several installations (the first is
        `service`'s), each with its own settings."""
        super().__init__()
        if os.environ.get("TERM") == "dumb" and not self.no_color:
            # Textual honours NO_COLOR (any value) alone; a dumb terminal gets the same: no colour,
            # statuses by their text and symbol.
            self.no_color = True
            self._filters.append(Monochrome())
        self.register_theme(TASKTUI_ANSI)
        first = settings or ConsoleSettings()
        count = 1 + len(others)
        every = [(service, first), *others]
        self.installations = [
            Installation(each, replace(each_settings, installations=count), number)
            for number, (each, each_settings) in enumerate(every, start=1)
        ]
        self.settings = self.installations[0].settings  # the App's own: theme, keymap
        # Set by run_console: a real run quits on SIGTERM (tests leave the process's signals alone).
        self.exit_on_signals = False
        self._previous_handlers: dict[int, _SignalHandler] = {}
        self._held_notices: list[tuple[str, str, SeverityLevel, float | None]] = []
        self._main_screens = {
            i.mode: MainScreen(i.service, i.settings, i.access, installations=self.installations if count > 1 else ())
            for i in self.installations
        }
        for installation in self.installations[1:]:
            self._add_mode(installation)
        if self.settings.theme:
            self.theme = self.settings.theme
        if self.settings.keymap:
            self.set_keymap(dict(self.settings.keymap))

    @property
    def installation(self) -> Installation:
        """The installation on screen."""
        return next(i for i in self.installations if i.mode == self.current_mode)

    @property
    def service(self) -> ConsoleService:
        return self.installation.service

    @property
    def access(self) -> WriteAccess:
        return self.installation.access

    @property
    def main_screen(self) -> MainScreen:
        """The main screen of the installation on screen."""
        return self._main_screens[self.current_mode]

    def get_default_screen(self) -> Screen[None]:
        return self._main_screens[self.DEFAULT_MODE]

    async def on_mount(self) -> None:
        if self.exit_on_signals:
            self._quit_on_signals()
        self.set_interval(0.2, self._release_notices)
        if len(self.installations) > 1:
            # The first one's stack (the App's default) is made: a mode to switch back to. Named a
            # mode before the App composed, its screen would have been mounted as a mode's, not as
            # the default screen, which the single console's start-up must stay.
            self._add_mode(self.installations[0])
            # Every installation's main screen from the start: each hears its feed from its first
            # event, and switching to it shows it as it is.
            for installation in reversed(self.installations):
                await self.switch_mode(installation.mode)
            self.refresh_summaries()
            self.set_interval(SUMMARY_SECONDS, self.refresh_summaries)
        for installation in self.installations:
            self.run_worker(
                installation.service.follow(_ScreenEvents(self, installation)),
                group=f"feed-{installation.number}",
                exclusive=True,
                exit_on_error=False,
                name="task-feed",
                description=f"follow task changes of {installation.name}",
            )

    async def on_unmount(self) -> None:
        self._restore_signals()
        for installation in self.installations:
            await installation.service.aclose()

    # -- several installations -------------------------------------------------------------------

    def _add_mode(self, installation: Installation) -> None:
        self.add_mode(installation.mode, partial(self._main_screens.__getitem__, installation.mode))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # The keys that switch installations exist only when there are several.
        return len(self.installations) > 1 or action not in _INSTALLATION_ACTIONS

    def refresh_summaries(self) -> None:
        for installation in self.installations:
            self.run_worker(
                self._read_summary(installation),
                group=f"summary-{installation.number}",
                exclusive=True,
                exit_on_error=False,
                name="summary",
                description=f"sum up {installation.name}",
            )

    async def _read_summary(self, installation: Installation) -> None:
        try:
            installation.summary = await installation.service.summary()
            installation.summary_error = ""
        except UserFacingError as exc:  # this installation's row says why; the others go on
            installation.summary_error = without_target(str(exc), installation.service.label)

    def action_switch_installation(self, number: int) -> None:
        if 1 <= number <= len(self.installations):
            self.switch_mode(self.installations[number - 1].mode)

    def action_next_installation(self) -> None:
        self.action_switch_installation(self.installation.number % len(self.installations) + 1)

    def action_previous_installation(self) -> None:
        self.action_switch_installation((self.installation.number - 2) % len(self.installations) + 1)

    # -- notices ---------------------------------------------------------------------------------

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Every notice of the console and its screens passes here, and is shown as the text it
        is: escaped by the one sanitiser, bounded, and never parsed as markup (whatever `markup`
        says: a task's text with `[@click=app.quit]` in it would otherwise be a button)."""
        if isinstance(self.screen, ModalScreen):
            # Never over a dialog (a toast covered the retry confirmation): said once it closes.
            self._held_notices.append((message, title, severity, timeout))
            return
        super().notify(
            cut(message, NOTICE_CHARS, multiline=True),
            title=cut(title, NOTICE_CHARS),
            severity=severity,
            timeout=timeout,
            markup=False,
        )

    def push_screen(self, screen: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(screen, ModalScreen):
            self.clear_notifications()  # a dialog opens over nothing else
        return super().push_screen(screen, *args, **kwargs)

    def _release_notices(self) -> None:
        if self._held_notices and not isinstance(self.screen, ModalScreen):
            held, self._held_notices = self._held_notices, []
            for message, title, severity, timeout in held:
                self.notify(message, title=title, severity=severity, timeout=timeout)

    # -- signals ---------------------------------------------------------------------------------

    def _quit_on_signals(self) -> None:
        """SIGTERM quits as `q` does, through the event loop. A Python-level handler raising in the
        middle of the loop lands in whatever task runs (the feed, say) and leaves a console that
        says LIVE while nothing reads the database any more, and that no longer quits."""
        loop = asyncio.get_running_loop()
        for signum in EXIT_SIGNALS:
            self._previous_handlers[signum] = signal.getsignal(signum)
            loop.add_signal_handler(signum, self.exit)

    def _restore_signals(self) -> None:
        # Back to the caller's handlers (the demo's: a signal while it stops the server waits).
        loop = asyncio.get_running_loop()
        for signum, handler in self._previous_handlers.items():
            loop.remove_signal_handler(signum)
            signal.signal(signum, handler)
        self._previous_handlers.clear()

    # -- the palette -----------------------------------------------------------------------------

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        connection = self.settings.connection
        if connection:
            yield SystemCommand(
                "Connection string",
                "how to reach this database from another terminal, whole, to copy",
                lambda: self.push_screen(ConnectionScreen(connection)),
            )
        if len(self.installations) > 1:
            for installation in self.installations:
                yield SystemCommand(
                    f"Installation {installation.number}: {installation.name}",
                    f"switch to it (key: {installation.number})",
                    lambda number=installation.number: self.action_switch_installation(number),
                )
        for key in keys.available(self.access.read_only, getattr(screen, "KEY_ACTIONS", ())):
            if key.action in NOT_IN_PALETTE:
                continue
            callback = getattr(screen, f"action_{key.action}", None)
            if callback is not None:
                yield SystemCommand(key.description, f"key: {key.shown_keys}", callback)
