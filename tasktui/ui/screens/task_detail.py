"""Enter on a task: all of its fields, its decoded message and result, and the logs of its current
and previous attempts — live.

From a red row to why it failed in two keys: Enter opens this screen on the *end* of the current
attempt's log (where a task's outcome is) with the cursor on its last error line and that line's
traceback in view; `p` switches to the previous attempts, the failures that led to retries; `e` /
`E` jump to the next / previous error or warning line, however far away in a 100,000-line log.

Nothing here loads a whole log: each attempt group is a LogView holding a bounded window of pages
fetched with keyset cursors (tasktui.ui.screens.log_pager, through the console service), paged in
as the user scrolls; large attributes are fetched only when a line is expanded. A jump searches the
window first, and only past it asks the database for the one line it stops at, then loads the
pages around that line in place of the window. Queries run one at a time (a lock), so paging, live
updates, jumps and expansions never interleave their results.

A full screen (not a modal: the main screen's keys do not reach it); it closes with the message id
the table should select.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Static

from tasktui.core.console import ConsoleService
from tasktui.core.detail import TaskDetail
from tasktui.core.events import FeedMode
from tasktui.core.models import TaskRow
from tasktui.core.status import FINAL_STATES
from tasktui.errors import UserFacingError
from tasktui.render import styles
from tasktui.render.text import safe_text
from tasktui.ui import keys
from tasktui.ui.failures import ReportsWorkerFailures
from tasktui.ui.messages import SideChangesArrived
from tasktui.ui.screens.help import HelpScreen
from tasktui.ui.screens.log_pager import LogPager
from tasktui.ui.screens.retry import confirm_retry
from tasktui.ui.screens.xray import XrayScreen
from tasktui.ui.settings import ConsoleSettings, WriteAccess
from tasktui.ui.styles import semantic_classes, semantic_css, semantic_styles
from tasktui.ui.widgets.log_blocks import LogEntry
from tasktui.ui.widgets.log_view import Edge, LogView
from tasktui.ui.widgets.task_fields import DetailTitle, TaskFields

# Keys that act on the log lines: with the fields maximised they would act on lines nobody sees.
_LOG_ACTIONS = frozenset(
    (
        "toggle_line",
        "more_of_line",
        "last_page",
        "first_page",
        "line_down",
        "line_up",
        "page_down",
        "page_up",
        "next_problem",
        "previous_problem",
    )
)

REFRESH_INTERVAL = 0.5  # live refreshes at most twice a second, however fast the task logs
POLL_SECONDS = 2.0  # without live notifications, an unfinished task is re-read this often


# The hint line's keys come first: the error jumps are what a detail is opened for.
_HINT_FIRST = ("next_problem", "previous_problem")


def help_line(read_only: bool, width: int) -> Text:
    """The keys the footer below does not show, from the registry, as many as fit in `width`
    whole (never cut mid-key), then "? all keys" (or "? Help" when every one fits)."""
    shown = [key for key in keys.available(read_only, keys.DETAIL_KEYS) if not key.footer]
    help_key = next(key for key in shown if key.action == "help")
    shown.remove(help_key)
    shown.sort(key=lambda key: key.action not in _HINT_FIRST)  # stable: registry order otherwise
    entries = [f"{key.shown_keys} {key.short or key.description}" for key in shown]
    hint = f"{help_key.shown_keys} {help_key.short}"
    if len("  ·  ".join([*entries, hint])) > width:
        hint = f"{help_key.shown_keys} all keys"
        while entries and len("  ·  ".join([*entries, hint])) > width:
            entries.pop()
    return Text("  ·  ".join([*entries, hint]), end="")


class KeyHints(Static):
    """The detail's hint line, laid out again for its width."""

    def __init__(self, read_only: bool, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.read_only = read_only

    def on_resize(self, event: events.Resize) -> None:
        self.update(help_line(self.read_only, self.content_region.width))


class TaskDetailScreen(ReportsWorkerFailures, Screen[str | None]):
    """One task and its logs (see the module docstring); closes with its message id."""

    BINDINGS = keys.bindings(keys.DETAIL_KEYS)
    KEY_ACTIONS = keys.DETAIL_KEYS
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    COMPONENT_CLASSES = semantic_classes("task-detail")

    DEFAULT_CSS = """
    TaskDetailScreen { layout: vertical; background: $background; overflow: hidden; }
    #detail-title { height: auto; max-height: 2; background: $panel; padding: 0 1; }
    #detail-fields { height: auto; max-height: 40%; background: $surface; padding: 0 1; }
    #detail-fields.-full { height: 1fr; max-height: 100%; }
    #fields-row { height: auto; }
    #fields-task { width: 1fr; height: auto; }
    #fields-blobs { width: 1fr; height: auto; padding-left: 2; }
    TaskDetailScreen.-narrow #fields-row { layout: vertical; }
    TaskDetailScreen.-narrow #fields-task { width: 100%; }
    TaskDetailScreen.-narrow #fields-blobs { width: 100%; padding-left: 0; }
    #attempt-bar { height: 1; background: $boost; padding: 0 1; }
    #detail-error { height: auto; color: $text-error; background: $error 15%; padding: 0 1; }
    #detail-help { height: 1; color: $text-muted; background: $panel; padding: 0 1; }
    """ + semantic_css("TaskDetailScreen", "task-detail")

    def __init__(
        self, service: ConsoleService, message_id: str, settings: ConsoleSettings, access: WriteAccess
    ) -> None:
        super().__init__()
        self.service = service
        self.message_id = message_id
        self.settings = settings
        self.access = access
        self.detail: TaskDetail | None = None
        self.showing_previous = False
        self.fields_full = False
        self._lock = asyncio.Lock()  # one query sequence at a time
        self._refresh_wanted = False
        self._refreshing = False
        self._last_refresh = 0.0
        self._row_seen: TaskRow | None = None  # the window's row for this task, last we looked
        self._gone = ""  # the task was deleted
        self._failure = ""  # the last query failed (cleared by the next that succeeds)
        self.logs = LogPager(service, message_id, shown=self._show_bar)

    # -- layout ----------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield DetailTitle(Text(f"Task {self.message_id} — loading…", end=""), id="detail-title")
        yield TaskFields(id="detail-fields")
        yield Static(id="attempt-bar")
        yield LogView(previous=False, id="log-current")
        yield LogView(previous=True, id="log-previous")
        yield Static(id="detail-error")
        yield KeyHints(self.access.read_only, id="detail-help")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.fields.can_focus = False  # the keys move through the logs; `i` gives the fields the screen
        self.view(True).display = False
        self.query_one("#detail-error", Static).display = False
        for previous in (False, True):
            self.view(previous).local_time = self.settings.times.local
        self.current_view.focus()
        self._show_bar()
        self.set_interval(REFRESH_INTERVAL, self._tick)
        self._run(self._load_everything, "load the task")

    @property
    def fields(self) -> TaskFields:
        return self.query_one(TaskFields)

    @property
    def current_view(self) -> LogView:
        return self.view(self.showing_previous)

    def view(self, previous: bool) -> LogView:
        return self.query_one("#log-previous" if previous else "#log-current", LogView)

    # -- queries ---------------------------------------------------------------------------------

    def _run(self, work: Callable[[], Awaitable[None]], what: str) -> None:
        self.run_worker(self._guarded(work, what), group="task-detail", exit_on_error=False, description=what)

    async def _guarded(self, work: Callable[[], Awaitable[None]], what: str) -> bool:
        """Run `work` alone; a failure the user can act on becomes one line on the screen (the
        service reconnects on the next key press). Anything else is a bug: the app logs it."""
        async with self._lock:
            try:
                await work()
            except UserFacingError as exc:
                self._failure = f"could not {what}: {exc} — press r to retry"
                self._show_error()
                return False
        if self._failure:
            self._failure = ""
            self._show_error()
        return True

    async def _load_everything(self) -> None:
        """The task, then the tail of the current attempt, then that of the previous ones."""
        if not await self._load_detail():
            return
        for previous in (self.showing_previous, not self.showing_previous):
            await self.logs.tail(self.view(previous))

    async def _load_detail(self) -> bool:
        detail = await self.service.task_detail(self.message_id)
        self._last_refresh = time.monotonic()
        if detail is None:
            self._gone = (
                f"task {self.message_id} does not exist (any more): deleted, or its result expired"
                if self.detail is None
                else "this task was deleted meanwhile: what is on screen is what was loaded"
            )
            self._show_error()
            for previous in (False, True):
                view = self.view(previous)
                if not view.loaded:
                    view.placeholder = "no such task"
                    view.refresh()
            return False
        previous_count = self.detail.log_counts.previous if self.detail else None
        self.detail = detail
        self._gone = ""
        self._row_seen = self.service.task(self.message_id)
        for previous, view in ((False, self.view(False)), (True, self.view(True))):
            view.total = detail.log_counts.previous if previous else detail.log_counts.current
            view.total_capped = detail.log_counts.capped
        if previous_count is not None and previous_count != detail.log_counts.previous:
            # A retry moved every current line to the previous attempts: start both over.
            for view in (self.view(False), self.view(True)):
                view.loaded = False
        self._show_fields()
        self._show_bar()
        self._show_error()
        return True

    # -- live ------------------------------------------------------------------------------------

    @on(SideChangesArrived)
    def _side_changes(self, message: SideChangesArrived) -> None:
        """New log lines for this task were committed."""
        if self.message_id in message.tasklog_task_ids:
            self.request_refresh()

    def request_refresh(self) -> None:
        self._refresh_wanted = True
        if not self._refreshing:
            self._refreshing = True
            self.run_worker(
                self._refresh_loop(), group="task-detail-live", exit_on_error=False, description="refresh the task"
            )

    async def _refresh_loop(self) -> None:
        """Coalesce: whatever arrives while a refresh runs makes one more refresh after it."""
        try:
            while self._refresh_wanted:
                self._refresh_wanted = False
                await self._guarded(self._refresh, "refresh the task")
                await asyncio.sleep(REFRESH_INTERVAL)
        finally:
            self._refreshing = False

    async def _refresh(self) -> None:
        """Re-read the task's fields, and append the lines written after the last one shown in
        each attempt group that is showing its tail."""
        if not await self._load_detail():
            return
        for view in (self.view(self.showing_previous), self.view(not self.showing_previous)):
            if not view.loaded:
                await self.logs.tail(view)
                continue
            if view.has_after or view.pending_edges:
                continue  # the user is reading older lines; the count says more arrived
            await self.logs.follow(view)

    def _tick(self) -> None:
        """Twice a second: the window's row for this task changed (state, status, retries: the
        feed re-reads it), polling without notifications, and the relative times."""
        if self.detail is None:
            return
        row = self.service.task(self.message_id)
        if row != self._row_seen:  # changed, or gone from the window (deleted)
            self._row_seen = row
            self.request_refresh()
        elif (
            self.service.mode != FeedMode.LIVE
            and self.detail.state not in FINAL_STATES
            and time.monotonic() - self._last_refresh >= POLL_SECONDS
        ):
            self.request_refresh()
        self._show_fields()

    # -- drawing ---------------------------------------------------------------------------------

    def _show_fields(self) -> None:
        if self.detail is None:
            return
        self.query_one(DetailTitle).show(self.detail)
        self.fields.show(self.detail, self.settings.clock(), full=self.fields_full, local=self.settings.times.local)

    def _show_bar(self) -> None:
        """Which attempt group is shown (highlighted), how much of each is loaded, and the key."""
        muted = semantic_styles(self, "task-detail")[styles.MUTED]
        bar = Text(end="")
        for previous, name in ((False, "Current attempt"), (True, "Previous attempts")):
            view = self.view(previous)
            count = view.describe() if view.loaded else "loading…"
            bar.append(f" {name}: {count} ", "bold reverse" if previous == self.showing_previous else "")
            if view.pending_edges:
                bar.append("paging in… ", muted)
            bar.append(" ")
        bar.append(" p switches", muted)
        self.query_one("#attempt-bar", Static).update(bar)

    def _show_error(self) -> None:
        message = self._failure or self._gone
        error = self.query_one("#detail-error", Static)
        error.display = bool(message)
        error.update(safe_text(message))

    # -- actions ---------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if keys.forbidden(action, self.access.read_only, keys.DETAIL_KEYS):
            return False  # hidden and refused in read-only mode, as on the table
        # With the fields maximised, the log keys would act on lines nobody sees.
        return not (self.fields_full and action in _LOG_ACTIONS)

    def action_retry_task(self) -> None:
        task = self.service.task(self.message_id)
        if task is None:
            self.notify("this task is not in the console's window; retry it from the table", severity="warning")
            return
        confirm_retry(self, self.service, task)

    def action_back(self) -> None:
        # The table puts its cursor on this task, even if new tasks arrived above it meanwhile.
        self.dismiss(self.message_id)

    def action_toggle_attempts(self) -> None:
        if self.fields_full:
            self.action_toggle_fields()
        self.showing_previous = not self.showing_previous
        for previous in (False, True):
            self.view(previous).display = previous == self.showing_previous
        view = self.current_view
        view.focus()
        if not view.loaded and self.detail is not None:
            self._run(lambda: self.logs.tail(view), "load the logs")
        self._show_bar()

    def action_toggle_line(self) -> None:
        view = self.current_view
        entry = view.current
        if entry is None:
            return
        entry.expanded = not entry.expanded
        view.entry_changed(entry)
        self._fetch_attributes_if_needed(view, entry)

    @on(LogView.Toggled)
    def _toggled(self, message: LogView.Toggled) -> None:
        self._fetch_attributes_if_needed(message.view, message.entry)

    def _fetch_attributes_if_needed(self, view: LogView, entry: LogEntry) -> None:
        if entry.needs_attributes or (entry.expanded and entry.attributes_error):
            entry.attributes_error = ""
            self._run(lambda: self.logs.attributes(view, entry), "load the attributes")

    def action_more_of_line(self) -> None:
        if not self.current_view.more():
            self.notify("nothing more of this line to show", timeout=3)

    def action_line_down(self) -> None:
        self.current_view.move(1)

    def action_line_up(self) -> None:
        self.current_view.move(-1)

    def action_page_down(self) -> None:
        self.current_view.page(1)

    def action_page_up(self) -> None:
        self.current_view.page(-1)

    def action_next_problem(self) -> None:
        self._jump_to_problem(backward=False)

    def action_previous_problem(self) -> None:
        self._jump_to_problem(backward=True)

    def _jump_to_problem(self, *, backward: bool) -> None:
        view = self.current_view
        index = view.problem_index(backward=backward) if view.loaded else None
        if index is not None:  # in the window: no query, no waiting for the session
            view.jump(index)
            return
        self._run(lambda: self._find_problem(view, backward), "find an error or warning line")

    async def _find_problem(self, view: LogView, backward: bool) -> None:
        notice = await self.logs.jump(view, backward)
        if notice:
            # One answer on screen: pressing e again must not stack the same words.
            self.app.clear_notifications()
            self.notify(notice, timeout=4)

    def action_first_page(self) -> None:
        view = self.current_view
        if view.loaded and not view.has_before:
            view.select(0)
            return
        self._run(lambda: self.logs.head(view), "load the first page")

    def action_last_page(self) -> None:
        view = self.current_view
        if view.loaded and not view.has_after:
            view.select(len(view.entries) - 1)
            return
        self._run(lambda: self.logs.tail(view), "load the last page")

    @on(LogView.NearEdge)
    def _near_edge(self, message: LogView.NearEdge) -> None:
        self._show_bar()
        self.run_worker(
            self._edge_worker(message.view, message.edge),
            group="task-detail",
            exit_on_error=False,
            description="load more lines",
        )

    async def _edge_worker(self, view: LogView, edge: Edge) -> None:
        if not await self._guarded(lambda: self.logs.edge(view, edge), "load more lines"):
            # Leave the edge askable again: scrolling (or any key) retries.
            view.pending_edges.discard(edge)
            self._show_bar()

    def action_toggle_fields(self) -> None:
        self.fields_full = not self.fields_full
        self._show_fields()
        fields = self.fields
        fields.set_class(self.fields_full, "-full")
        fields.can_focus = self.fields_full
        self.current_view.display = not self.fields_full
        if self.fields_full:
            fields.focus()
        else:
            self.current_view.focus()
        self.refresh_bindings()

    def action_copy_message_id(self) -> None:
        self.app.copy_to_clipboard(self.message_id)
        self.notify(f"sent {self.message_id} to the clipboard (OSC 52; the terminal must allow it)")

    def action_reload(self) -> None:
        for view in (self.view(False), self.view(True)):
            view.loaded = False
        self._run(self._load_everything, "load the task")

    def action_toggle_time_zone(self) -> None:
        self.settings.times.toggle()
        for previous in (False, True):
            self.view(previous).show_local_time(self.settings.times.local)
        self._show_fields()
        self.notify(self.settings.times.describe())

    def action_xray_task(self) -> None:
        self.app.push_screen(XrayScreen(self.service, self.message_id, self.settings))

    def action_help(self) -> None:
        self.app.push_screen(
            HelpScreen(
                self.access.read_only,
                detail_first=True,
                connection=self.settings.connection,
                installations=self.settings.installations > 1,
            )
        )
