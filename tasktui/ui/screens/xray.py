"""`W` on a task (from the table or its detail): the x-ray — who runs it. The session holding its
advisory lock, the worker behind that session with its heartbeat, the session's other locks, the
worker's sessions as pg_stat_activity shows them (state, wait event, how long the query has run)
and the orphan verdict (tasktui.core.incidents.xray, through the console service).

Read-only, like the CLI's `tasktui xray`: it reads pg_locks and pg_stat_activity and never cancels
or terminates a backend. While open it refreshes on a timer and on `r`; one x-ray at a time (a
refresh still running when the next is due is not doubled), each bounded by the service's
statement timeout. A refresh that fails keeps the last x-ray on screen under the reason.
"""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from tasktui.core.console import ConsoleService
from tasktui.core.detail import TaskNotFound
from tasktui.core.incidents.xray import TaskXray
from tasktui.core.timefmt import absolute
from tasktui.errors import UserFacingError
from tasktui.render.text import safe_text
from tasktui.render.xray import holder_lines
from tasktui.ui import keys
from tasktui.ui.failures import ReportsWorkerFailures
from tasktui.ui.screens.help import HelpScreen
from tasktui.ui.settings import ConsoleSettings
from tasktui.ui.styles import semantic_classes, semantic_css, semantic_styles, themed

# Often enough to watch a heartbeat or a query's duration move; each x-ray is a handful of
# catalogue reads (4 ms on the 1,000,000-task bench).
XRAY_SECONDS = 3.0


class XrayScreen(ReportsWorkerFailures, Screen[None]):
    """One task's x-ray (see the module docstring)."""

    BINDINGS = keys.bindings(keys.XRAY_KEYS)
    KEY_ACTIONS = keys.XRAY_KEYS
    COMPONENT_CLASSES = semantic_classes("xray")

    DEFAULT_CSS = """
    XrayScreen { layout: vertical; background: $background; }
    #xray-title { height: auto; background: $panel; padding: 0 1; text-style: bold; }
    #xray-checked { height: auto; color: $text-muted; background: $panel; padding: 0 1; }
    #xray-error { height: auto; color: $text-error; background: $error 15%; padding: 0 1; }
    #xray-body { height: 1fr; padding: 0 1; }
    """ + semantic_css("XrayScreen", "xray")

    def __init__(self, service: ConsoleService, message_id: str, settings: ConsoleSettings) -> None:
        super().__init__()
        self.service = service
        self.message_id = message_id
        self.settings = settings
        self.report: TaskXray | None = None
        self.refreshes = 0  # x-rays shown: tests wait on it
        self._reading = False

    def compose(self) -> ComposeResult:
        yield Static(safe_text(f"X-ray of {self.message_id}"), id="xray-title")
        yield Static("x-raying…", id="xray-checked", markup=False)
        yield Static("", id="xray-error", markup=False)
        with VerticalScroll(id="xray-scroll"):
            yield Static("", id="xray-body")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one("#xray-error", Static).display = False
        self.query_one("#xray-scroll").focus()
        self.refresh_xray()
        self.set_interval(XRAY_SECONDS, self.refresh_xray)

    def refresh_xray(self) -> None:
        # The last one still reading (a slow server): a timer tick never queues a second.
        if not self._reading:
            self._reading = True
            self._read_xray()

    @work(group="xray", exit_on_error=False, name="xray", description="x-ray the task")
    async def _read_xray(self) -> None:
        try:
            await self._xray()
        finally:
            self._reading = False

    async def _xray(self) -> None:
        error = self.query_one("#xray-error", Static)
        try:
            report = await self.service.xray(self.message_id)
        except TaskNotFound:
            error.update(f"no task {self.message_id} any more: deleted, or its result expired")
            error.display = True
            return
        except UserFacingError as exc:
            error.update(f"could not x-ray the task: {exc}" + (" (showing the last x-ray)" if self.report else ""))
            error.display = True
            return
        error.display = False
        self.report = report
        self.refreshes += 1
        self.show(report)

    def show(self, report: TaskXray) -> None:
        task = report.task
        self.query_one("#xray-title", Static).update(
            safe_text(f"X-ray of {task.message_id}  {task.display_uid}  ({task.state})")
        )
        checked = absolute(report.checked_at, local=self.settings.times.local)
        self.query_one("#xray-checked", Static).update(
            f"checked {checked} · every {XRAY_SECONDS:g} s, r now · read-only"
        )
        by_name = semantic_styles(self, "xray")
        body = Text("\n").join(themed(line, by_name) for line in holder_lines(report))
        self.query_one("#xray-body", Static).update(body)

    def action_refresh(self) -> None:
        self.refresh_xray()

    def action_back(self) -> None:
        self.dismiss(None)

    def action_help(self) -> None:
        self.app.push_screen(
            HelpScreen(
                self.settings.read_only,
                connection=self.settings.connection,
                installations=self.settings.installations > 1,
            )
        )
