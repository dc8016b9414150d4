"""Enter on a task: all of its fields, its decoded message and result, and the logs of its current
and previous attempts — live.

From a red row to why it failed in two keys: Enter opens this screen on the *end* of the current
attempt's log (where a task's outcome is) with the cursor on its last error line and that line's
traceback in view; `p` switches to the previous attempts, the failures that led to retries; `e` /
`E` jump to the next / previous error or warning line, however far away in a 100,000-line log.

Nothing here loads a whole log: each attempt group is a LogView holding a bounded window of pages
fetched with keyset cursors (tasktui.core.logs.fetch_logs), paged in as the user scrolls; large
attributes are fetched only when a line is expanded. A jump searches the window first, and only
past it asks the database for the one line it stops at (find_problem), then loads the pages around
that line in place of the window. Every query runs on the app's side session, one at a time (a
lock), so paging, live updates, jumps and expansions never interleave their results.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, cast

from rich.console import Group
from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from tasktui.core import db
from tasktui.core.detail import TaskDetail, load_detail
from tasktui.core.events import FeedMode
from tasktui.core.logs import (
    LogLine,
    exception_of,
    fetch_around,
    fetch_logs,
    find_problem,
    load_attributes,
    wants_exception,
)
from tasktui.core.models import TaskRow
from tasktui.core.session import Session
from tasktui.core.status import FINAL_STATES, status_of
from tasktui.core.text import cut
from tasktui.core.timefmt import relative
from tasktui.render import detail as rendered
from tasktui.render import styles
from tasktui.render.text import NAME_CHARS, VALUE_CHARS, assemble, safe_text
from tasktui.ui import keys
from tasktui.ui.keys import KeyAction
from tasktui.ui.styles import semantic_classes, semantic_css, semantic_styles, themed
from tasktui.ui.widgets.log_view import PAGE, Edge, LogEntry, LogView
from tasktui.ui.widgets.task_table import TaskRows

if TYPE_CHECKING:
    from tasktui.ui.app import TaskTuiApp

DETAIL_GROUP = "Task detail"

# The screen's keys, in the registry's shape: BINDINGS, the footer, the help line and the app's
# help screen (a "Task detail" group) are all generated from this list. Most useful first: the
# help line is cut at the terminal's width.
DETAIL_KEYS: tuple[KeyAction, ...] = (
    KeyAction(
        "detail-attempts",
        "p",
        "toggle_attempts",
        "Previous attempts' logs / back to the current attempt",
        DETAIL_GROUP,
        footer=True,
        short="Previous attempts",
    ),
    KeyAction(
        "detail-expand",
        "enter,space",
        "toggle_line",
        "Show / hide the selected line's attributes and full text",
        DETAIL_GROUP,
        footer=True,
        short="Attributes",
    ),
    KeyAction("detail-last", "end,G", "last_page", "Last page: the end of the log", DETAIL_GROUP, short="Last page"),
    KeyAction("detail-first", "home,g", "first_page", "First page: the start of the log", DETAIL_GROUP, short="First"),
    KeyAction(
        "detail-fields",
        "i",
        "toggle_fields",
        "All fields / back to the logs",
        DETAIL_GROUP,
        footer=True,
        short="Fields",
    ),
    KeyAction(
        "detail-copy-id",
        "y",
        "copy_message_id",
        "Copy the message id (OSC 52)",
        DETAIL_GROUP,
        footer=True,
        short="Copy id",
    ),
    KeyAction(
        "detail-next-problem",
        "e",
        "next_problem",
        "Next error or warning line after the cursor",
        DETAIL_GROUP,
        short="Next problem",
    ),
    KeyAction(
        "detail-previous-problem",
        "E",
        "previous_problem",
        "Previous error or warning line before the cursor",
        DETAIL_GROUP,
        short="Previous problem",
    ),
    KeyAction("detail-reload", "r", "reload", "Reload the task and its logs", DETAIL_GROUP, short="Reload"),
    KeyAction(
        "detail-retry",
        "R",
        "retry_task",
        "Retry this rejected task",
        DETAIL_GROUP,
        footer=True,
        write=True,
        short="Retry",
    ),
    KeyAction("detail-help", "question_mark", "help", "Help: every key", DETAIL_GROUP, display="?", short="Help"),
    KeyAction(
        "detail-back",
        "escape,q,backspace",
        "back",
        "Back to the task table",
        DETAIL_GROUP,
        footer=True,
        short="Back",
    ),
    KeyAction(
        "detail-more",
        "m",
        "more_of_line",
        "More of a long line: its next page",
        DETAIL_GROUP,
        short="More of the line",
    ),
    KeyAction("detail-down", "down,j", "line_down", "Next log line", DETAIL_GROUP, display="↓ / j"),
    KeyAction("detail-up", "up,k", "line_up", "Previous log line", DETAIL_GROUP, display="↑ / k"),
    KeyAction("detail-page-down", "pagedown,ctrl+d", "page_down", "Page down", DETAIL_GROUP, display="PgDn / ctrl+d"),
    KeyAction("detail-page-up", "pageup,ctrl+u", "page_up", "Page up", DETAIL_GROUP, display="PgUp / ctrl+u"),
)
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
LIVE_PAGES = 5  # a live refresh appends at most this many pages; beyond, End shows the rest
EXCEPTIONS_PER_PAGE = 20  # error lines with large attributes whose exception is fetched per page
TIME_LABELS = ("eta", "last change", "result expiry")
SUMMARY_CHARS = 300  # of a field's value above the logs (the count of the rest stays in view)


def help_line(read_only: bool) -> Text:
    """Every key of the screen on one line (cut at the width), from DETAIL_KEYS."""
    shown = [key for key in DETAIL_KEYS if not (read_only and key.write)]
    return Text("  ·  ".join(f"{key.shown_keys} {key.short or key.description}" for key in shown), end="")


class TaskDetailScreen(ModalScreen[None]):
    """A full-terminal screen (modal only so that the table's keys do not act behind it)."""

    BINDINGS = keys.bindings(DETAIL_KEYS)
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    COMPONENT_CLASSES = {"task-detail--label", *semantic_classes("task-detail")}

    DEFAULT_CSS = """
    TaskDetailScreen { layout: vertical; background: $background; overflow: hidden; }
    TaskDetailScreen > .task-detail--label { text-style: bold; }
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

    def __init__(self, target: db.Target, message_id: str) -> None:
        super().__init__()
        self.target = target
        self.message_id = message_id
        self.detail: TaskDetail | None = None
        self.showing_previous = False
        self.fields_full = False
        self._lock = asyncio.Lock()  # one query at a time on the shared side session
        self._refresh_wanted = False
        self._refreshing = False
        self._last_refresh = 0.0
        self._row_seen: TaskRow | None = None  # the table's row for this task, last we looked
        self._gone = ""  # the task was deleted
        self._failure = ""  # the last query failed (cleared by the next that succeeds)
        self._shown_times: tuple[str, ...] = ()

    @property
    def tui(self) -> TaskTuiApp:
        return cast("TaskTuiApp", self.app)

    # -- layout ----------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(Text(f"Task {self.message_id} — loading…", end=""), id="detail-title")
        with VerticalScroll(id="detail-fields"), Horizontal(id="fields-row"):
            yield Static(id="fields-task")
            yield Static(id="fields-blobs")
        yield Static(id="attempt-bar")
        yield LogView(previous=False, id="log-current")
        yield LogView(previous=True, id="log-previous")
        yield Static(id="detail-error")
        yield Static(help_line(getattr(self.app, "read_only", False)), id="detail-help")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        fields = self.query_one("#detail-fields", VerticalScroll)
        fields.can_focus = False  # the keys move through the logs; `i` gives the fields the screen
        self.query_one("#log-previous", LogView).display = False
        self.query_one("#detail-error", Static).display = False
        self.current_view.focus()
        self._show_bar()
        self.set_interval(REFRESH_INTERVAL, self._tick)
        self._run(self._load_everything, "load the task")

    @property
    def current_view(self) -> LogView:
        return self.query_one("#log-previous" if self.showing_previous else "#log-current", LogView)

    def view(self, previous: bool) -> LogView:
        return self.query_one("#log-previous" if previous else "#log-current", LogView)

    # -- queries ---------------------------------------------------------------------------------

    def _run(self, work: Callable[[Session], Awaitable[None]], what: str) -> None:
        self.run_worker(self._guarded(work, what), group="task-detail", exit_on_error=False)

    async def _guarded(self, work: Callable[[Session], Awaitable[None]], what: str) -> bool:
        """Run `work` on the side session, alone; a failure becomes one line on the screen (a
        dropped connection is forgotten, so the next key press reconnects)."""
        async with self._lock:
            try:
                await work(await self.tui.side_session())
            except Exception as exc:
                await self.tui.forget_side_session()
                self._failure = f"could not {what}: {db.user_error(exc, self.target)} — press r to retry"
                self._show_error()
                return False
        if self._failure:
            self._failure = ""
            self._show_error()
        return True

    async def _page(
        self,
        session: Session,
        view: LogView,
        *,
        after: LogEntry | None = None,
        before: LogEntry | None = None,
        head: bool = False,
    ) -> tuple[list[LogEntry], bool]:
        """One page of `view`'s attempt group: the last page (the default), the first (`head`),
        or the one after / before an entry; and whether more lines lie beyond it."""
        cursor = after.line.cursor if after else before.line.cursor if before else None
        backward = not (head or after)
        page = await fetch_logs(
            session, self.message_id, previous=view.previous, cursor=cursor, backward=backward, limit=PAGE
        )
        return await self._entries(session, page.lines), page.has_more

    async def _entries(self, session: Session, lines: list[LogLine]) -> list[LogEntry]:
        entries = [LogEntry(line, exception=line.exception) for line in lines]
        # Error lines whose attributes were too large to come with the page: fetch just their
        # exception (a bounded number per page, nearest the end), so their traceback shows too.
        wanted = [e for e in entries if not e.line.attributes_inline and wants_exception(e.line)]
        for entry in wanted[-EXCEPTIONS_PER_PAGE:]:
            entry.exception = await exception_of(session, entry.line)
        return entries

    async def _load_everything(self, session: Session) -> None:
        """The task, then the tail of the current attempt, then that of the previous ones."""
        if not await self._load_detail(session):
            return
        for previous in (self.showing_previous, not self.showing_previous):
            await self._load_tail(session, self.view(previous))

    async def _load_detail(self, session: Session) -> bool:
        detail = await load_detail(session, self.message_id)
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
        self._row_seen = self.tui.store.rows.get(self.message_id)
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

    async def _load_tail(self, session: Session, view: LogView) -> None:
        generation = view.generation
        entries, has_more = await self._page(session, view)
        if view.generation != generation:
            return
        view.placeholder = "no previous attempts" if view.previous else "no log lines in this attempt yet"
        view.reset(entries, has_before=has_more, has_after=False, select="end")
        self._show_bar()

    async def _load_head(self, session: Session, view: LogView) -> None:
        generation = view.generation
        entries, has_more = await self._page(session, view, head=True)
        if view.generation != generation:
            return
        view.reset(entries, has_before=False, has_after=has_more, select="start")
        self._show_bar()

    async def _load_edge(self, session: Session, view: LogView, edge: Edge) -> None:
        generation = view.generation
        try:
            if not view.entries:
                return
            if edge == "before":
                entries, has_more = await self._page(session, view, before=view.entries[0])
                if view.generation == generation:
                    view.prepend(entries, has_more=has_more)
            else:
                entries, has_more = await self._page(session, view, after=view.entries[-1])
                if view.generation == generation:
                    view.append(entries, has_more=has_more)
        finally:
            if view.generation == generation:
                view.loading.discard(edge)
            self._show_bar()

    async def _jump(self, session: Session, view: LogView, backward: bool) -> None:
        """The next error or warning line past the window's edge, and the pages around it. The
        window is searched again first: pages or live lines may have arrived while this waited
        for the session."""
        index = view.problem_index(backward=backward)
        if index is not None:
            view.jump(index)
            return
        # The window is contiguous and was searched from the cursor to its edge: ask past it.
        edge = (view.entries[0] if backward else view.entries[-1]) if view.entries else None
        line = await find_problem(
            session,
            self.message_id,
            previous=view.previous,
            cursor=edge.line.cursor if edge else None,
            backward=backward,
        )
        if line is None:
            self.notify(f"no {'earlier' if backward else 'later'} error or warning", timeout=3)
            return
        window = await fetch_around(session, self.message_id, line, previous=view.previous, limit=PAGE)
        view.reset(
            await self._entries(session, window.lines),
            has_before=window.has_before,
            has_after=window.has_after,
            select=window.index,
        )
        self._show_bar()

    async def _load_attributes(self, session: Session, view: LogView, entry: LogEntry) -> None:
        try:
            # Up to logs.ATTRIBUTES_ON_DEMAND characters: the view renders them a page at a time.
            value = await load_attributes(session, entry.line)
        except Exception as exc:
            entry.attributes_error = str(db.user_error(exc, self.target))
            view.entry_changed(entry)
            raise
        entry.attributes, entry.attributes_error = value, ""
        if entry.exception is None and value.complete and isinstance(value.value, dict):
            entry.exception = value.value.get("exception")
        view.entry_changed(entry)

    # -- live ------------------------------------------------------------------------------------

    def logs_changed(self) -> None:
        """New log lines for this task were committed (called by the app from the feed)."""
        self.request_refresh()

    def request_refresh(self) -> None:
        self._refresh_wanted = True
        if not self._refreshing:
            self._refreshing = True
            self.run_worker(self._refresh_loop(), group="task-detail-live", exit_on_error=False)

    async def _refresh_loop(self) -> None:
        """Coalesce: whatever arrives while a refresh runs makes one more refresh after it."""
        try:
            while self._refresh_wanted:
                self._refresh_wanted = False
                await self._guarded(self._refresh, "refresh the task")
                await asyncio.sleep(REFRESH_INTERVAL)
        finally:
            self._refreshing = False

    async def _refresh(self, session: Session) -> None:
        """Re-read the task's fields, and append the lines written after the last one shown in
        each attempt group that is showing its tail."""
        if not await self._load_detail(session):
            return
        for view in (self.view(self.showing_previous), self.view(not self.showing_previous)):
            if not view.loaded:
                await self._load_tail(session, view)
                continue
            if view.has_after or view.loading:
                continue  # the user is reading older lines; the count says more arrived
            generation = view.generation
            for _ in range(LIVE_PAGES):
                last = view.entries[-1] if view.entries else None
                entries, has_more = await self._page(session, view, after=last, head=last is None)
                if view.generation != generation:
                    break
                view.append(entries, has_more=has_more, follow=True)
                self._show_bar()
                if not has_more:
                    break

    def _tick(self) -> None:
        """Twice a second: the table's row for this task changed (state, status, retries: the
        feed re-reads it), polling without notifications, and the relative times."""
        if self.detail is None:
            return
        row = self.tui.store.rows.get(self.message_id)
        if row != self._row_seen:  # changed, or gone from the table (deleted)
            self._row_seen = row
            self.request_refresh()
        elif (
            self.tui.feed.mode != FeedMode.LIVE
            and self.detail.state not in FINAL_STATES
            and time.monotonic() - self._last_refresh >= POLL_SECONDS
        ):
            self.request_refresh()
        self._show_fields(only_if_times_changed=True)

    # -- drawing ---------------------------------------------------------------------------------

    def _show_fields(self, *, only_if_times_changed: bool = False) -> None:
        detail = self.detail
        if detail is None:
            return
        now = self.tui.clock()
        times = tuple(relative(moment, now) for moment in (detail.eta, detail.last_change, detail.result_expiry))
        if only_if_times_changed and times == self._shown_times:
            return
        self._shown_times = times
        by_name = semantic_styles(self, "task-detail")
        task = detail.task
        status = status_of(task.effective_status)
        title = themed(
            assemble(
                (f" {status.label} ", styles.status(status.style)),
                "  ",
                (cut(task.display_uid, NAME_CHARS), styles.LABEL),
                ("  " + detail.result.summary(), styles.BAD) if detail.result.is_exception else "",
            ),
            by_name,
        )
        title.stylize("reverse", 0, len(status.label) + 2)  # a badge in the status's colour
        self.query_one("#detail-title", Static).update(title)
        self.query_one("#fields-task", Static).update(self._task_table(detail, times, by_name))
        self.query_one("#fields-blobs", Static).update(self._blob_fields(detail, by_name))

    @property
    def _value_chars(self) -> int:
        """Characters of a field's value shown: a few lines above the logs, more with `i`."""
        return VALUE_CHARS if self.fields_full else SUMMARY_CHARS

    def _task_table(self, detail: TaskDetail, times: tuple[str, ...], by_name: Mapping[str, Style]) -> Table:
        table = _fields_table()
        label_style = self.get_component_rich_style("task-detail--label", partial=True)
        relative_times = dict(zip(TIME_LABELS, times, strict=True))
        for label, value in rendered.task_rows(detail, limit=self._value_chars):
            value = themed(value, by_name)
            if relative_times.get(label):
                value.append(f"  ({relative_times[label]})", by_name[styles.MUTED])
            table.add_row(Text(label, style=label_style), value)
            if label == "status" and detail.task.status_differs:
                stored = status_of(detail.aggregated_status).label
                note = (
                    f"authentik shows {stored} (it stores '{detail.aggregated_status}' for finished tasks whatever"
                    f" they logged); this attempt's logs say {detail.task.status.label}"
                )
                table.add_row(Text(""), themed(assemble((note, styles.WARN)), by_name))
        return table

    def _blob_fields(self, detail: TaskDetail, by_name: Mapping[str, Style]) -> Group:
        """The decoded message and result, each under its title (with its size)."""
        label_style = self.get_component_rich_style("task-detail--label", partial=True)
        sections = (
            (
                rendered.blob_title("Message", detail.message.decoded),
                rendered.message_rows(detail.message, limit=self._value_chars),
            ),
            (
                rendered.blob_title("Result", detail.result.decoded),
                rendered.result_rows(detail.result, limit=self._value_chars),
            ),
        )
        parts: list[Text | Table] = []
        for title, rows in sections:
            if parts:
                parts.append(Text(""))
            parts.append(Text(title, style=label_style + by_name[styles.ACCENT]))
            table = _fields_table()
            for label, value in rows:
                table.add_row(Text(label, style=label_style), themed(value, by_name))
            parts.append(table)
        return Group(*parts)

    def _show_bar(self) -> None:
        """Which attempt group is shown (highlighted), how much of each is loaded, and the key."""
        by_name = semantic_styles(self, "task-detail")
        bar = Text(end="")
        for previous, name in ((False, "Current attempt"), (True, "Previous attempts")):
            view = self.view(previous)
            count = view.describe() if view.loaded else "loading…"
            bar.append(f" {name}: {count} ", "bold reverse" if previous == self.showing_previous else "")
            if view.loading:
                bar.append("paging in… ", by_name[styles.MUTED])
            bar.append(" ")
        bar.append(" p switches", by_name[styles.MUTED])
        self.query_one("#attempt-bar", Static).update(bar)

    def _show_error(self) -> None:
        message = self._failure or self._gone
        error = self.query_one("#detail-error", Static)
        error.display = bool(message)
        error.update(safe_text(message))

    # -- actions ---------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "retry_task" and getattr(self.app, "read_only", False):
            return False  # hidden and refused in read-only mode, as on the table
        # With the fields maximised, the log keys would act on lines nobody sees.
        return not (self.fields_full and action in _LOG_ACTIONS)

    def action_retry_task(self) -> None:
        task = self.app.store.rows.get(self.message_id)  # type: ignore[attr-defined]
        if task is None:
            self.notify("this task is not in the console's window; retry it from the table", severity="warning")
            return
        self.app.confirm_retry(task)  # type: ignore[attr-defined]

    def action_back(self) -> None:
        self._select_in_table()
        self.dismiss(None)

    def _select_in_table(self) -> None:
        """Leave the table's cursor on this task, even if new tasks arrived above it (the table
        follows the head of the list while its cursor is on the first row)."""
        stack = self.app.screen_stack
        below = stack[stack.index(self) - 1] if self in stack and stack.index(self) > 0 else None
        if below is None:
            return
        for rows in below.query(TaskRows):
            for index, row in enumerate(rows.rows):
                if row.message_id == self.message_id:
                    rows.move_to(index)
                    return

    def action_toggle_attempts(self) -> None:
        if self.fields_full:
            self.action_toggle_fields()
        self.showing_previous = not self.showing_previous
        for previous in (False, True):
            self.view(previous).display = previous == self.showing_previous
        view = self.current_view
        view.focus()
        if not view.loaded and self.detail is not None:
            self._run(lambda session: self._load_tail(session, view), "load the logs")
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
            self._run(lambda session: self._load_attributes(session, view, entry), "load the attributes")

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
        self._run(lambda session: self._jump(session, view, backward), "find an error or warning line")

    def action_first_page(self) -> None:
        view = self.current_view
        if view.loaded and not view.has_before:
            view.select(0)
            return
        self._run(lambda session: self._load_head(session, view), "load the first page")

    def action_last_page(self) -> None:
        view = self.current_view
        if view.loaded and not view.has_after:
            view.select(len(view.entries) - 1)
            return
        self._run(lambda session: self._load_tail(session, view), "load the last page")

    @on(LogView.NearEdge)
    def _near_edge(self, message: LogView.NearEdge) -> None:
        self._show_bar()
        self.run_worker(self._edge_worker(message.view, message.edge), group="task-detail", exit_on_error=False)

    async def _edge_worker(self, view: LogView, edge: Edge) -> None:
        if not await self._guarded(lambda session: self._load_edge(session, view, edge), "load more lines"):
            # Leave the edge askable again: scrolling (or any key) retries.
            view.loading.discard(edge)
            self._show_bar()

    def action_toggle_fields(self) -> None:
        self.fields_full = not self.fields_full
        self._show_fields()
        fields = self.query_one("#detail-fields", VerticalScroll)
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

    def action_help(self) -> None:
        from tasktui.ui.screens.help import HelpScreen

        self.app.push_screen(HelpScreen(self.tui.read_only, detail_first=True))


def _fields_table() -> Table:
    table = Table(box=None, show_header=False, padding=(0, 1, 0, 0), expand=True)
    table.add_column(no_wrap=True, width=14)
    table.add_column(overflow="fold", ratio=1)
    return table
