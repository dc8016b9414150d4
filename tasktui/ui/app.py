"""The console's App: it follows the console service in a worker, turns the service's events into
messages for the screens, and starts on the main screen. Everything else is the screens'.

A worker's unexpected failure (a bug) is written to the debug log with its traceback and said in
one line that names the file (tasktui.ui.failures, mixed into the App and the screens).
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable, Iterable
from types import FrameType
from typing import Any

from textual import work
from textual.app import App, SystemCommand
from textual.filter import Monochrome
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.screen import ModalScreen, Screen

from tasktui.core.console import ConsoleService
from tasktui.core.counts import StatusCounts
from tasktui.core.events import FeedStatus, FeedUpdate
from tasktui.core.health import FeedHealth
from tasktui.core.text import cut
from tasktui.ui import keys
from tasktui.ui.failures import ReportsWorkerFailures
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
NOT_IN_PALETTE = frozenset(("command_palette", "cursor_down", "cursor_up", "page_down", "page_up"))


class _ScreenEvents:
    """The service's events as messages, for every screen on the stack (the feed runs on the
    app's loop, in a worker)."""

    def __init__(self, app: TaskTuiApp) -> None:
        self.app = app

    def _deliver(self, make: Callable[[], Message]) -> None:
        for screen in self.app.screen_stack:
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
        self.app.notify(text, timeout=NOTICE_SECONDS)


class TaskTuiApp(ReportsWorkerFailures, StatusColours, App[int]):
    """The console (see the module docstring). The statuses' colours, $status-<name>, come from
    StatusColours: readable and apart from each other in every theme (tasktui.ui.themes)."""

    TITLE = "tasktui"
    CSS_PATH = "app.tcss"

    def __init__(self, service: ConsoleService, settings: ConsoleSettings | None = None) -> None:
        super().__init__()
        if os.environ.get("TERM") == "dumb" and not self.no_color:
            # Textual honours NO_COLOR (any value) alone; a dumb terminal gets the same: no colour,
            # statuses by their text and symbol.
            self.no_color = True
            self._filters.append(Monochrome())
        self.register_theme(TASKTUI_ANSI)
        self.service = service
        self.settings = settings or ConsoleSettings()
        self.access = WriteAccess.from_settings(self.settings)
        # Set by run_console: a real run quits on SIGTERM (tests leave the process's signals alone).
        self.exit_on_signals = False
        self._previous_handlers: dict[int, _SignalHandler] = {}
        self._held_notices: list[tuple[str, str, SeverityLevel, float | None]] = []
        self.main_screen = MainScreen(self.service, self.settings, self.access)
        if self.settings.theme:
            self.theme = self.settings.theme
        if self.settings.keymap:
            self.set_keymap(dict(self.settings.keymap))

    def get_default_screen(self) -> Screen[None]:
        return self.main_screen

    def on_mount(self) -> None:
        if self.exit_on_signals:
            self._quit_on_signals()
        self.set_interval(0.2, self._release_notices)
        self.follow_service()

    @work(group="feed", exclusive=True, exit_on_error=False, name="task-feed", description="follow task changes")
    async def follow_service(self) -> None:
        await self.service.follow(_ScreenEvents(self))

    async def on_unmount(self) -> None:
        self._restore_signals()
        await self.service.aclose()

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
        for key in keys.available(self.access.read_only, getattr(screen, "KEY_ACTIONS", ())):
            if key.action in NOT_IN_PALETTE:
                continue
            callback = getattr(screen, f"action_{key.action}", None)
            if callback is not None:
                yield SystemCommand(key.description, f"key: {key.shown_keys}", callback)
