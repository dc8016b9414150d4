"""The console: a live task table over a TaskFeed, with search, facets, pause and help.

The feed runs as one named async worker and reports through messages; the screen is redrawn
from the store on a fixed tick (at most 20 times a second), never once per notification, so a
burst of thousands of changes costs a handful of frames.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any, TypeVar

from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.containers import Horizontal
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Input, Static

from tasktui.core import db
from tasktui.core.bulk_retry import BulkSummary
from tasktui.core.counts import StatusCounts
from tasktui.core.events import FeedMode, FeedStatus, FeedUpdate
from tasktui.core.feed import RECONCILE_INTERVAL, TaskFeed
from tasktui.core.filters import TaskFilter
from tasktui.core.health import FeedHealth
from tasktui.core.listener import LINK_TIMEOUT
from tasktui.core.models import TaskRow
from tasktui.core.retry import retry_capability, retry_selected
from tasktui.core.session import Session, open_session
from tasktui.core.status import RETRYABLE_STATE
from tasktui.core.store import DEFAULT_SORT, SortKey, TaskStore
from tasktui.core.text import cut
from tasktui.core.timefmt import utc_now
from tasktui.core.workers import WorkerReport, load_workers
from tasktui.ui import keys
from tasktui.ui.messages import (
    CountsUpdated,
    FeedHealthChanged,
    FeedStatusChanged,
    FeedUpdated,
    SideChangesArrived,
)
from tasktui.ui.screens.facets import FacetScreen
from tasktui.ui.screens.help import HelpScreen
from tasktui.ui.screens.retry import BulkRetryScreen, ConfirmRetryModal
from tasktui.ui.screens.task_detail import TaskDetailScreen
from tasktui.ui.widgets.legend import Legend
from tasktui.ui.widgets.status_header import HeaderState, StatusHeader
from tasktui.ui.widgets.task_table import TaskRows, TaskTable, sort_label
from tasktui.ui.widgets.worker_panel import WorkerPanel

WidgetType = TypeVar("WidgetType", bound=Widget)
REDRAW_INTERVAL = 0.05  # at most 20 screen updates a second
WORKER_REFRESH_SECONDS = 10.0
NOTICE_SECONDS = 30.0
NOTICE_CHARS = 1_000  # of one notice: a toast is a few lines, whatever the text it quotes
# Quit like `q` on these (Ctrl-C is a key in the console; a SIGINT comes only from outside).
EXIT_SIGNALS = (signal.SIGTERM, signal.SIGINT)  # an opening notice stays long enough to be read and copied


class _MessageSink:
    """FeedSink → Textual messages (the feed runs on the app's loop, in a worker)."""

    def __init__(self, app: TaskTuiApp) -> None:
        self.app = app

    def feed_status(self, status: FeedStatus) -> None:
        self.app.post_message(FeedStatusChanged(status))

    def feed_updated(self, update: FeedUpdate) -> None:
        self.app.post_message(FeedUpdated(update))

    def feed_counts(self, counts: StatusCounts) -> None:
        self.app.post_message(CountsUpdated(counts))

    def feed_side_changes(self, tasklog_task_ids: frozenset[str], workers_changed: bool) -> None:
        self.app.post_message(SideChangesArrived(tasklog_task_ids, workers_changed))

    def feed_health(self, health: FeedHealth) -> None:
        self.app.post_message(FeedHealthChanged(health))


class TaskTuiApp(App[int]):
    TITLE = "tasktui"
    CSS_PATH = "app.tcss"
    BINDINGS = keys.bindings()

    def __init__(
        self,
        target: db.Target,
        *,
        read_only: bool = False,
        channel: str = "tasktui",
        window: int = 2_000,
        use_trigger: bool = True,
        poll_interval: float = 2.0,
        clock: Callable[[], datetime] = utc_now,
        label: str | None = None,
        notice: str | None = None,
        link_timeout: float = LINK_TIMEOUT,
        reconcile_interval: float = RECONCILE_INTERVAL,
    ) -> None:
        super().__init__()
        # Said once when the console opens (the demo tells where its database is).
        self.notice = notice
        # Set by run_console: a real run quits on SIGTERM (tests leave the process's signals alone).
        self.exit_on_signals = False
        self._previous_handlers: dict[int, object] = {}
        # Injected so that snapshot tests can freeze every relative time on screen.
        self.clock = clock
        # How the header names the database (default: the connection's user@host:port/db).
        self.label = label
        self.target = target
        self.read_only = read_only
        self.read_only_reason = "--read-only" if read_only else ""
        self.store = TaskStore()
        self.feed = TaskFeed(
            target,
            self.store,
            _MessageSink(self),
            channel=channel,
            window=window,
            use_trigger=use_trigger,
            poll_interval=poll_interval,
            link_timeout=link_timeout,
            reconcile_interval=reconcile_interval,
        )
        self.task_filter = TaskFilter()
        self.sort: SortKey = DEFAULT_SORT
        self.paused = False
        self.header_state = HeaderState(status=FeedStatus(FeedMode.CONNECTING, label=label or target.label))
        self._shown: tuple[int, TaskFilter, SortKey] | None = None
        self._sessions: dict[str, Session] = {}
        self.worker_report: WorkerReport | None = None
        self._last_redraw = 0.0
        self._redraw_due = False
        # At most this many redraws a second (run_console sets it from the config file's fps).
        self.redraw_interval = REDRAW_INTERVAL
        self._lookups_noticed = False

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
        super().notify(
            cut(message, NOTICE_CHARS, multiline=True),
            title=cut(title, NOTICE_CHARS),
            severity=severity,
            timeout=timeout,
            markup=False,
        )

    # -- signals ---------------------------------------------------------------------------------

    def _quit_on_signals(self) -> None:
        """SIGTERM quits as `q` does, through the event loop. A Python-level handler raising in the
        middle of the loop lands in whatever task runs (the feed, say) and leaves a console that
        says LIVE while nothing reads the database any more, and that no longer quits."""
        loop = asyncio.get_running_loop()
        for signum in EXIT_SIGNALS:
            self._previous_handlers[signum] = signal.getsignal(signum)
            loop.add_signal_handler(signum, self.exit)

    def on_unmount(self) -> None:
        # Back to the caller's handlers (the demo's: a signal while it stops the server waits).
        loop = asyncio.get_running_loop()
        for signum, handler in self._previous_handlers.items():
            loop.remove_signal_handler(signum)
            signal.signal(signum, handler)  # type: ignore[arg-type]
        self._previous_handlers.clear()

    # -- layout ----------------------------------------------------------------------------------

    def main_query(self, selector: str | type[WidgetType], expect_type: type[WidgetType] | None = None) -> WidgetType:
        """query_one on the console's own screen, whatever screen (detail, modal) is on top:
        App.query_one would search the active screen, where the table is not."""
        main = self.screen_stack[0] if self.screen_stack else self.screen
        return main.query_one(selector, expect_type)  # type: ignore[arg-type, return-value]

    def compose(self) -> ComposeResult:
        yield StatusHeader(id="status-header")
        with Horizontal(id="filter-bar"):
            yield Input(placeholder="search actor, uid or message id — Enter keeps, Esc clears", id="search")
            yield Static(id="filter-info")
        yield TaskTable(id="task-table")
        yield WorkerPanel(id="worker-panel")
        yield Legend(id="legend")
        # The palette is on ctrl+p and listed in help; the footer keeps room for the keys.
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        if self.exit_on_signals:
            self._quit_on_signals()
        self._show_search(False)
        self.main_query(WorkerPanel).display = False
        self.main_query(TaskRows).focus()
        if self.notice:
            self.notify(self.notice, timeout=NOTICE_SECONDS)
        self.run_feed()
        self.refresh_workers()
        if not self.read_only:
            self.check_write_access()
        # Worker ages and liveness change with time alone, not only with rows.
        self.set_interval(WORKER_REFRESH_SECONDS, self.refresh_workers)
        self.set_interval(1.0, self.tick)
        self.set_interval(self.redraw_interval, self._redraw_tick)
        self.redraw(force=True)

    @work(group="feed", exclusive=True, exit_on_error=False, name="task-feed", description="Following task changes")
    async def run_feed(self) -> None:
        await self.feed.run()

    # -- feed messages ---------------------------------------------------------------------------

    @on(FeedStatusChanged)
    def _feed_status(self, message: FeedStatusChanged) -> None:
        status = message.status
        if self.label:
            status = replace(status, label=self.label)
        self.header_state.status = status
        self.show_header()

    @on(FeedUpdated)
    def _feed_updated(self, message: FeedUpdated) -> None:
        if self.paused:
            self.header_state.buffered += message.update.changed
        self.header_state.last_event_at = self.feed.last_event_at
        self.schedule_redraw()

    def schedule_redraw(self) -> None:
        """Redraw now if the last redraw is old enough; otherwise the redraw tick picks it up
        (at most 20 redraws a second). A steady interval, not one-shot timers: Textual drops a
        one-shot timer whose deadline passed while the loop was busy, which froze the table."""
        if time.monotonic() - self._last_redraw >= self.redraw_interval:
            self.redraw()
        else:
            self._redraw_due = True

    def _redraw_tick(self) -> None:
        if self._redraw_due:
            self._redraw_due = False
            self.redraw()

    @on(SideChangesArrived)
    def _side_changes(self, message: SideChangesArrived) -> None:
        if message.workers_changed:
            self.refresh_workers()
        # An open detail screen (even under help) appends its task's new log lines.
        for screen in self.screen_stack:
            if isinstance(screen, TaskDetailScreen) and screen.message_id in message.tasklog_task_ids:
                screen.logs_changed()

    # -- the side session: workers, details, retries (never the feed's connections) --------------

    async def side_session(self) -> Session:
        """A session for on-demand reads (workers, task details), opened lazily, reopened
        after a drop."""
        return await self._session("side")

    async def retry_session(self) -> Session:
        """Retries run transactions: they get a session of their own, so that no read of the
        console ever runs inside one."""
        return await self._session("retry")

    async def _session(self, purpose: str) -> Session:
        session = self._sessions.get(purpose)
        if session is None or session.conn.closed:
            session = self._sessions[purpose] = await open_session(self.target)
            if session.shape.lookup_notice and not self._lookups_noticed:
                # Once per console, not once per (re)connection: it is a fact about the role.
                self._lookups_noticed = True
                self.notify(session.shape.lookup_notice, timeout=NOTICE_SECONDS)
        return session

    async def forget_side_session(self) -> None:
        await self._forget("side")

    async def _forget(self, purpose: str) -> None:
        session = self._sessions.pop(purpose, None)
        if session is not None:
            with contextlib.suppress(Exception):
                await session.close()

    @work(group="workers", exclusive=True, exit_on_error=False, name="workers", description="Checking workers")
    async def refresh_workers(self) -> None:
        panel = self.main_query(WorkerPanel)
        try:
            report = await load_workers(await self.side_session())
        except Exception as exc:  # the panel says what failed; the feed reports drops itself
            await self.forget_side_session()
            panel.show(None, str(db.user_error(exc, self.target)))
            return
        self.worker_report = report
        self.header_state.alarms = [a.message for a in report.alarms if a.severity == "error"]
        self.show_header()
        panel.show(report)

    @on(CountsUpdated)
    def _counts(self, message: CountsUpdated) -> None:
        # Taken from the store as the table last drew it (redraw), or now if nothing is pending:
        # header and table count the same rows. While paused both stay as they were.
        if not self.paused:
            self.header_state.counts = self.feed.counts()
            self.show_header()

    @on(FeedHealthChanged)
    def _health(self, message: FeedHealthChanged) -> None:
        self.header_state.health = message.health
        self.show_header()

    # -- drawing ---------------------------------------------------------------------------------

    @property
    def drawable(self) -> bool:
        """False once shutting down: a feed message or a timer that arrives after the screens, or
        their widgets, are gone must not draw (and raise) on the way out."""
        return self.is_running and bool(self.screen_stack)

    def redraw(self, force: bool = False) -> None:
        """Redraw the table if the rows, filter or sort changed (never while paused)."""
        if (self.paused and not force) or not self.drawable:
            return
        key = (self.store.version, self.task_filter, self.sort)
        if key == self._shown and not force:
            return
        self._shown = key
        self._last_redraw = time.monotonic()
        rows = self.store.view(self.task_filter, self.sort)
        self.main_query(TaskTable).show(rows, self.sort, self.clock())
        self.show_filter_info(len(rows))
        # The header counts the rows just drawn: the two never disagree on what is in flight.
        self.header_state.counts = self.feed.counts()
        self.show_header()

    def tick(self) -> None:
        """Once a second: ages in the header and the relative times in the table."""
        if not self.drawable:
            return
        self.header_state.rate = self.feed.rate_snapshot()
        self.header_state.last_event_at = self.feed.last_event_at
        self.show_header()
        if not self.paused:
            self.main_query(TaskTable).body.now = self.clock()
            self.main_query(TaskRows).refresh()

    def show_header(self) -> None:
        if not self.drawable:
            return
        self.header_state.paused = self.paused
        self.main_query(StatusHeader).show(self.header_state, self.clock().timestamp())

    def show_filter_info(self, shown: int) -> None:
        # The sort comes before the filters, which can be long: it is the only place that names a
        # sort column the current width does not show.
        sort = f"sorted by {sort_label(self.sort.column)} {'↓' if self.sort.descending else '↑'}"
        text = f"{shown:,} shown of {len(self.store):,} loaded · {sort} · {self.task_filter.describe()}"
        if self.read_only:
            text += f" · READ-ONLY ({self.read_only_reason})"
        self.main_query("#filter-info", Static).update(text)

    # -- actions: navigation ---------------------------------------------------------------------

    def action_cursor_down(self) -> None:
        self.main_query(TaskRows).move(1)

    def action_cursor_up(self) -> None:
        self.main_query(TaskRows).move(-1)

    def action_page_down(self) -> None:
        rows = self.main_query(TaskRows)
        rows.move(rows.page)

    def action_page_up(self) -> None:
        rows = self.main_query(TaskRows)
        rows.move(-rows.page)

    def action_cursor_first(self) -> None:
        self.main_query(TaskRows).move_to(0)

    def action_cursor_last(self) -> None:
        rows = self.main_query(TaskRows)
        rows.move_to(len(rows.rows) - 1)

    def action_open_task(self) -> None:
        task = self.main_query(TaskRows).current
        if task is not None:
            self.open_task(task.message_id)

    @on(TaskRows.Chosen)
    def _chosen(self, message: TaskRows.Chosen) -> None:
        self.open_task(message.task.message_id)

    def open_task(self, message_id: str) -> None:
        self.push_screen(TaskDetailScreen(self.target, message_id))

    # -- actions: what is shown ------------------------------------------------------------------

    def _show_search(self, shown: bool) -> Input:
        """Show or hide the search box. A hidden box is also disabled: Textual can hand focus to a
        hidden widget (closing a modal when nothing was focused), and every key would then be
        typed into a search the user cannot see."""
        search = self.main_query("#search", Input)
        search.display = shown
        search.disabled = not shown
        return search

    def action_search(self) -> None:
        search = self._show_search(True)
        search.value = self.task_filter.text
        # Focus after this key is fully handled: focusing at once lets a real terminal's "/"
        # land in the box as the first character of the search.
        self.call_after_refresh(search.focus)

    @on(Input.Changed, "#search")
    def _search_changed(self, event: Input.Changed) -> None:
        self.task_filter = self.task_filter.with_(text=event.value.strip())
        self.redraw(force=True)

    @on(Input.Submitted, "#search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        self._close_search(keep=True)

    def _close_search(self, *, keep: bool) -> None:
        search = self.main_query("#search", Input)
        if not keep:
            self.task_filter = self.task_filter.with_(text="")
            search.value = ""
        self._show_search(bool(self.task_filter.text))
        self.main_query(TaskRows).focus()
        self.redraw(force=True)

    def key_escape(self) -> None:
        # Esc clears the search, from the box or from the table (k9s-style).
        if self.task_filter.text or self.focused is self.main_query("#search", Input):
            self._close_search(keep=False)

    def action_facets(self) -> None:
        def chosen(result: TaskFilter | None) -> None:
            if result is not None:
                self.task_filter = result
                self.redraw(force=True)

        queues = self.store.facet_values(lambda t: t.queue_name)
        tenants = self.store.facet_values(lambda t: t.tenant_name or t.tenant_id)
        actors = self.store.facet_counts(lambda t: t.actor_name)
        self.push_screen(FacetScreen(self.task_filter, queues, tenants, actors), chosen)

    def action_toggle_successful(self) -> None:
        self.task_filter = self.task_filter.with_(hide_successful=not self.task_filter.hide_successful)
        self.notify("hiding successful tasks" if self.task_filter.hide_successful else "showing successful tasks")
        self.redraw(force=True)

    def action_clear_filters(self) -> None:
        self.task_filter = TaskFilter(hide_successful=self.task_filter.hide_successful)
        search = self.main_query("#search", Input)
        search.value = ""
        self._show_search(False)
        self.redraw(force=True)

    def action_cycle_sort(self) -> None:
        # Like k9s, only the columns on screen: a sort by a hidden column would look random.
        shown = self.main_query(TaskRows).sortable_keys
        index = (shown.index(self.sort.column) + 1) % len(shown) if self.sort.column in shown else 0
        column = shown[index]
        # Times and retries read best newest/highest first; names alphabetically.
        self.sort = SortKey(column, descending=column in ("mtime", "eta", "retries"))
        self.redraw(force=True)

    def action_invert_sort(self) -> None:
        self.sort = SortKey(self.sort.column, not self.sort.descending)
        self.redraw(force=True)

    def action_toggle_pause(self) -> None:
        self.paused = not self.paused
        if self.paused:
            self.header_state.buffered = 0
        else:
            self.redraw(force=True)
        self.show_header()

    def action_feed_health(self) -> None:
        health = self.feed.health()
        drifted = ""
        if health.last_drift_ids:
            drifted = f"; last healed: {', '.join(i[:8] for i in health.last_drift_ids)}"
        self.notify(f"feed health: {health.describe()}{drifted}", timeout=15)

    def action_toggle_legend(self) -> None:
        legend = self.main_query(Legend)
        legend.display = not legend.display

    def action_toggle_workers(self) -> None:
        panel = self.main_query(WorkerPanel)
        panel.display = not panel.display
        if panel.display:
            self.refresh_workers()
        else:
            # Hiding the focused panel would leave focus nowhere, and the next screen to close
            # would hand it to whatever Textual finds first.
            self.main_query(TaskRows).focus()

    @work(group="paging", exclusive=True, exit_on_error=False, name="load-older")
    async def action_load_older(self) -> None:
        try:
            loaded = await self.feed.load_older()
        except Exception as exc:  # a dropped connection: the feed reconnects on its own
            self.notify(f"could not load older tasks: {db.user_error(exc, self.target)}", severity="error")
            return
        self.notify(f"loaded {loaded:,} older finished tasks" if loaded else "no older finished tasks")

    # -- actions: acting -------------------------------------------------------------------------

    @work(group="write-access", exclusive=True, exit_on_error=False, name="write-access")
    async def check_write_access(self) -> None:
        """Switch to read-only up front when this role may not retry, and say why."""
        try:
            allowed, reason = await retry_capability(await self.retry_session())
        except Exception as exc:
            await self._forget("retry")
            allowed, reason = False, f"could not check privileges: {db.user_error(exc, self.target)}"
        if not allowed:
            self.read_only, self.read_only_reason = True, reason
            self.refresh_bindings()
            self.redraw(force=True)
            self.notify(f"read-only: {reason}", severity="warning", timeout=8)

    def action_retry_task(self) -> None:
        task = self.main_query(TaskRows).current
        if task is not None:
            self.confirm_retry(task)

    def confirm_retry(self, task: TaskRow) -> None:
        """R, from the table or a task's detail: say what a retry does, then do it if confirmed."""
        if self.read_only:
            return
        if task.state != RETRYABLE_STATE:
            self.notify(f"only rejected tasks can be retried; this one is {task.state}", severity="warning")
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.retry_one(task)

        self.push_screen(ConfirmRetryModal(task), confirmed)

    @work(group="retry", exit_on_error=False, name="retry-one", description="Retrying a task")
    async def retry_one(self, task: TaskRow) -> None:
        try:
            result = await retry_selected(await self.retry_session(), [task.message_id])
        except Exception as exc:
            await self._forget("retry")
            self.notify(f"retry failed: {db.user_error(exc, self.target)}", severity="error")
            return
        outcome = result.outcomes[0]
        self.notify(outcome.describe(), severity="information" if outcome.retried else "warning")
        if result.journal_error:
            self.notify(f"audit journal: {result.journal_error}", severity="error")

    def action_bulk_retry(self) -> None:
        if self.read_only:
            return

        def finished(summary: BulkSummary | None) -> None:
            if summary is not None:
                self.notify(summary.describe(), timeout=10)

        # Rejected tasks are the target whatever the "hide successful" toggle says.
        task_filter = self.task_filter.with_(hide_successful=False)
        self.push_screen(BulkRetryScreen(task_filter, self.retry_session), finished)

    def action_copy_message_id(self) -> None:
        task = self.main_query(TaskRows).current
        if task is not None:
            self.copy_to_clipboard(task.message_id)
            self.notify(f"sent {task.message_id} to the clipboard (OSC 52; the terminal must allow it)")

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.read_only))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        key = keys.ACTIONS_BY_NAME.get(action)
        # Write actions are hidden from the footer and refused in read-only mode.
        return not (key is not None and key.write and self.read_only)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for key in keys.available(self.read_only):
            if key.action in ("command_palette", "cursor_down", "cursor_up", "page_down", "page_up"):
                continue
            callback = getattr(self, f"action_{key.action}", None)
            if callback is not None:
                yield SystemCommand(key.description, f"key: {key.shown_keys}", callback)


def preflight(target: db.Target) -> None:
    """Fail before the screen opens on a bad DSN, a server that is down, or missing tables."""

    async def check() -> None:
        session = await open_session(target)
        await session.close()

    asyncio.run(check())


def run_console(target: db.Target, **options: Any) -> int:
    """Check the database, then run the console (options: see console_app) until it quits."""
    preflight(target)
    app = console_app(target, **options)
    app.exit_on_signals = True
    result = app.run()
    return result or 0


def console_app(
    target: db.Target,
    *,
    read_only: bool,
    channel: str,
    label: str | None = None,
    notice: str | None = None,
    link_timeout: float = LINK_TIMEOUT,
    reconcile_interval: float = RECONCILE_INTERVAL,
    poll_interval: float = 2.0,
    fps: float = 1 / REDRAW_INTERVAL,
    theme: str | None = None,
    keymap: dict[str, str] | None = None,
    task_filter: TaskFilter | None = None,
) -> TaskTuiApp:
    """The console as run_console runs it, with the settings of the command line, environment
    and config file (tasktui.config, which validated them)."""
    app = TaskTuiApp(
        target,
        read_only=read_only,
        channel=channel,
        label=label,
        notice=notice,
        link_timeout=link_timeout,
        reconcile_interval=reconcile_interval,
        poll_interval=poll_interval,
    )
    # The config file's console settings (tasktui.config), validated there.
    app.redraw_interval = 1 / fps
    if theme:
        app.theme = theme
    if keymap:
        app.set_keymap(keymap)
    if task_filter is not None:
        app.task_filter = task_filter
    return app
