"""The main screen: the live task table with its header, filter bar, worker panel and legend, and
every key of the table (search, facets, sort, pause, retry, …).

It reads the window from the console service and redraws on a tick (at most 20 times a second,
or `--max-fps`; less while frames are slow, see tasktui.ui.pacing), never once per notification,
so a burst of thousands of changes costs a handful of frames; the header's counts and health wait
for the same tick. A redraw waits while a key press is queued: keys are answered first.

Screens it opens get the service and what they need through their constructors, and say what they
chose by the result they close with.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer

from tasktui.core import export
from tasktui.core.bulk_retry import BulkSummary
from tasktui.core.console import ConsoleService
from tasktui.core.events import FeedMode, FeedStatus
from tasktui.core.filters import TaskFilter
from tasktui.core.store import DEFAULT_SORT, SortKey
from tasktui.core.text import cut
from tasktui.core.workers import WorkerReport
from tasktui.errors import MissingPrivilege, MissingTables, UserFacingError
from tasktui.render.report import bundle_markdown
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
from tasktui.ui.pacing import MAX_POSTPONED, RedrawPacer, input_waiting
from tasktui.ui.screens.errors_view import ErrorsView
from tasktui.ui.screens.export import ExportDialog, ExportRequest
from tasktui.ui.screens.facets import FacetScreen
from tasktui.ui.screens.help import HelpScreen
from tasktui.ui.screens.queues_view import QueuesView
from tasktui.ui.screens.retry import BulkRetryScreen, confirm_retry
from tasktui.ui.screens.schedules_view import SchedulesView
from tasktui.ui.screens.task_detail import TaskDetailScreen
from tasktui.ui.screens.xray import XrayScreen
from tasktui.ui.settings import ConsoleSettings, WriteAccess
from tasktui.ui.widgets.filter_bar import FilterBar
from tasktui.ui.widgets.installation_rows import InstallationRows
from tasktui.ui.widgets.legend import Legend
from tasktui.ui.widgets.status_header import DETAIL_CHARS, HeaderState, StatusHeader
from tasktui.ui.widgets.task_table import TaskRows, TaskTable, sort_label
from tasktui.ui.widgets.worker_panel import WorkerPanel

WORKER_REFRESH_SECONDS = 10.0
HEALTH_SECONDS = 15.0
# The header's schedule alarm ("1 schedule blocked"): one read of the schedules (0.6–0.9 s on 100
# schedules with 2,000 tasks each) this often, never per event.
SCHEDULE_CHECK_SECONDS = 60.0


class MainScreen(ReportsWorkerFailures, Screen[None]):
    """The task table and everything around it (see the module docstring)."""

    BINDINGS = keys.bindings()
    KEY_ACTIONS = keys.KEY_ACTIONS

    def __init__(
        self,
        service: ConsoleService,
        settings: ConsoleSettings,
        access: WriteAccess,
        *,
        installations: Sequence[Installation] = (),
    ) -> None:
        """`installations`: every installation of a console that watches several (their summary
        rows go above the header), this screen's among them."""
        super().__init__()
        self.service = service
        self.installations = installations
        self.settings = settings
        self.access = access
        self.task_filter = settings.task_filter
        self.sort: SortKey = DEFAULT_SORT
        self.paused = False
        self.header_state = HeaderState(status=FeedStatus(FeedMode.CONNECTING, label=settings.label or ""))
        self.worker_report: WorkerReport | None = None
        self.worker_alarms: list[str] = []
        self.schedule_alarms: list[str] = []
        self._shown: tuple[int, TaskFilter, SortKey] | None = None
        self._last_redraw = 0.0
        self._redraw_due = False
        self._due_since = 0.0
        self._header_due = False
        self.pacer = RedrawPacer(settings.redraw_interval)

    # -- layout ----------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        if self.installations:
            own = next(i for i in self.installations if i.service is self.service)
            yield InstallationRows(self.installations, own, id="installation-rows")
        yield StatusHeader(id="status-header")
        yield FilterBar(id="filter-bar")
        yield TaskTable(id="task-table")
        yield WorkerPanel(id="worker-panel")
        yield Legend(id="legend")
        # The palette is on ctrl+p and listed in help; the footer keeps room for the keys.
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one(WorkerPanel).display = False
        self.rows.focus()
        self.refresh_workers()
        if not self.access.read_only:
            self.check_write_access()
        # Worker ages and liveness change with time alone, not only with rows.
        self.set_interval(WORKER_REFRESH_SECONDS, self.refresh_workers)
        self.check_schedules()
        self._schedule_timer = self.set_interval(SCHEDULE_CHECK_SECONDS, self.check_schedules)
        # Ages tick once a second, or at the redraw rate when --max-fps asks for less.
        self.set_interval(max(1.0, self.settings.redraw_interval), self.tick)
        self.set_interval(self.settings.redraw_interval, self._redraw_tick)
        self.redraw(force=True)
        self.tick()  # the rate and ages from the first frame, not a second later

    @property
    def rows(self) -> TaskRows:
        return self.query_one(TaskRows)

    @property
    def filter_bar(self) -> FilterBar:
        return self.query_one(FilterBar)

    # -- the service's events --------------------------------------------------------------------

    @on(FeedStatusChanged)
    def _feed_status(self, message: FeedStatusChanged) -> None:
        status = message.status
        if self.settings.label:
            status = replace(status, label=self.settings.label)
        self.header_state.status = status
        self.show_header()

    @on(FeedUpdated)
    def _feed_updated(self, message: FeedUpdated) -> None:
        self.header_state.last_event_at = self.service.last_event_at
        if self.paused:
            # Nothing is redrawn while paused but the count of what waits (at the next tick).
            self.header_state.buffered += message.update.changed
            self._header_due = True
        self.schedule_redraw()

    @on(CountsUpdated)
    def _counts(self, message: CountsUpdated) -> None:
        # Taken from the window as the table last drew it (redraw), or now if nothing is pending:
        # header and table count the same rows. While paused both stay as they were.
        if not self.paused:
            self.header_state.counts = self.service.counts()
            self._header_due = True

    @on(FeedHealthChanged)
    def _health(self, message: FeedHealthChanged) -> None:
        self.header_state.health = message.health
        self._header_due = True

    @on(SideChangesArrived)
    def _side_changes(self, message: SideChangesArrived) -> None:
        if message.workers_changed:
            self.refresh_workers()

    # -- drawing ---------------------------------------------------------------------------------

    def schedule_redraw(self) -> None:
        """Redraw now if the last redraw is old enough; otherwise the redraw tick picks it up
        (at most 20 redraws a second). A steady interval, not one-shot timers: Textual drops a
        one-shot timer whose deadline passed while the loop was busy, which froze the table."""
        if not self._redraw_due:
            self._redraw_due, self._due_since = True, time.monotonic()
        self._redraw_if_due()

    def _redraw_tick(self) -> None:
        if self._redraw_due:
            self._redraw_if_due()
        if self._header_due:
            self.show_header()

    def _redraw_if_due(self) -> None:
        now = time.monotonic()
        if now - self._last_redraw < self.pacer.interval:
            return
        if input_waiting(self.app) and now - self._due_since < MAX_POSTPONED:
            return  # the key first; the next tick redraws
        self._redraw_due = False
        self.redraw()

    def redraw(self, force: bool = False, *, to_top: bool = False) -> None:
        """Redraw the table if the rows, filter or sort changed (never while paused); `to_top`
        puts the cursor on the first row, as a new filter does."""
        if (self.paused and not force) or not self.is_mounted:
            return
        key = (self.service.version, self.task_filter, self.sort)
        if key == self._shown and not force:
            return
        # Another filter is another list: its cursor starts on the first row, the newest.
        new_selection = to_top or (self._shown is not None and self._shown[1] != self.task_filter)
        self._shown = key
        self._last_redraw = started = time.monotonic()
        rows = self.service.view(self.task_filter, self.sort)
        empty = ""
        if not rows and self.service.loaded:
            empty = f"no task matches {self.task_filter.describe()} — c clears the search and filters"
        self.query_one(TaskTable).show(
            rows, self.sort, self.settings.clock(), local=self.settings.times.local, to_top=new_selection, empty=empty
        )
        self.show_filter_info(len(rows))
        # The header counts the rows just drawn: the two never disagree on what is in flight.
        self.header_state.counts = self.service.counts()
        self.show_header()
        # A frame's cost: this work, the wait in the queue and the paint that puts it on screen.
        self.call_after_refresh(self._frame_done(started))

    def _frame_done(self, started: float) -> Callable[[], None]:
        return lambda: self.pacer.frame_took(time.monotonic() - started)

    def tick(self) -> None:
        """Once a second: ages in the header and the relative times in the table."""
        self.header_state.rate = self.service.rate()
        self.header_state.last_event_at = self.service.last_event_at
        self.show_header()
        if not self.paused:
            self.rows.set_now(self.settings.clock())

    def show_header(self) -> None:
        if not self.is_mounted:
            return
        self._header_due = False
        self.header_state.paused = self.paused
        self.header_state.zone = self.settings.times.name
        self.query_one(StatusHeader).show(self.header_state, self.settings.clock().timestamp())

    def show_filter_info(self, shown: int) -> None:
        # The sort comes before the filters, which can be long: it is the only place that names a
        # sort column the current width does not show.
        sort = f"sorted by {sort_label(self.sort.column)} {'↓' if self.sort.descending else '↑'}"
        text = f"{shown:,} shown of {self.service.loaded:,} loaded · {sort} · {self.task_filter.describe()}"
        if self.access.read_only:
            text += f" · READ-ONLY ({self.access.reason})"
        self.filter_bar.show_info(text)

    # -- the worker panel ------------------------------------------------------------------------

    @work(group="workers", exclusive=True, exit_on_error=False, name="workers", description="check the workers")
    async def refresh_workers(self) -> None:
        panel = self.query_one(WorkerPanel)
        try:
            report = await self.service.workers()
        except UserFacingError as exc:  # the panel says what failed; the feed reports drops itself
            panel.show(None, str(exc))
            return
        self.worker_report = report
        # Errors first; every alarm stays in the header for as long as it holds.
        ordered = sorted(report.alarms, key=lambda a: a.severity != "error")
        self.worker_alarms = [cut(a.headline, DETAIL_CHARS) for a in ordered]
        self.show_alarms()
        panel.show(report)

    @work(group="schedules", exclusive=True, exit_on_error=False, name="schedules", description="check the schedules")
    async def check_schedules(self) -> None:
        """The header's alarm on blocked schedules (the schedules view, S, has them in full)."""
        try:
            report = await self.service.schedules()
        except (MissingTables, MissingPrivilege):
            self._schedule_timer.stop()  # no schedule table to watch (an older authentik)
            return
        except UserFacingError:
            return  # the feed says when the database is gone; the view says the rest
        blocked = sum(alarm.code == "blocked" for alarm in report.alarms)
        self.schedule_alarms = [f"{blocked} schedule{'s' if blocked != 1 else ''} blocked"] if blocked else []
        self.show_alarms()

    def show_alarms(self) -> None:
        # A blocked schedule first: it stays blocked until someone acts, and it is one short line.
        self.header_state.alarms = [*self.schedule_alarms, *self.worker_alarms]
        where = ["S: schedules"] if self.schedule_alarms else []
        self.header_state.alarm_hint = ", ".join([*where, *(["w: details"] if self.worker_alarms else [])])
        self.show_header()

    def action_toggle_workers(self) -> None:
        panel = self.query_one(WorkerPanel)
        panel.display = not panel.display
        if panel.display:
            self.refresh_workers()
        else:
            # Hiding the focused panel would leave focus nowhere, and the next screen to close
            # would hand it to whatever Textual finds first.
            self.rows.focus()

    # -- actions: navigation ---------------------------------------------------------------------

    def action_cursor_down(self) -> None:
        self.rows.move(1)

    def action_cursor_up(self) -> None:
        self.rows.move(-1)

    def action_page_down(self) -> None:
        self.rows.move(self.rows.page)

    def action_page_up(self) -> None:
        self.rows.move(-self.rows.page)

    def action_cursor_first(self) -> None:
        self.rows.move_to(0)

    def action_cursor_last(self) -> None:
        self.rows.move_to(len(self.rows.rows) - 1)

    def action_open_task(self) -> None:
        task = self.rows.current
        if task is not None:
            self.open_task(task.message_id)

    @on(TaskRows.Chosen)
    def _chosen(self, message: TaskRows.Chosen) -> None:
        self.open_task(message.task.message_id)

    def open_task(self, message_id: str) -> None:
        def closed(selected: str | None) -> None:
            # The detail says which task to select: the one it showed, even if new tasks arrived
            # above it meanwhile (the table follows the head of the list from its first row).
            if selected is not None:
                self.select(selected)

        self.app.push_screen(TaskDetailScreen(self.service, message_id, self.settings, self.access), closed)

    def select(self, message_id: str) -> None:
        """Put the cursor on this task, if the table shows it."""
        for index, row in enumerate(self.rows.rows):
            if row.message_id == message_id:
                self.rows.move_to(index)
                return

    # -- actions: what is shown ------------------------------------------------------------------

    def action_search(self) -> None:
        self.filter_bar.open_search(self.task_filter.text)

    @on(FilterBar.SearchChanged)
    def _search_changed(self, message: FilterBar.SearchChanged) -> None:
        self.task_filter = self.task_filter.with_(text=message.text)
        self.redraw(force=True)

    @on(FilterBar.SearchClosed)
    def _search_closed(self, message: FilterBar.SearchClosed) -> None:
        self.rows.focus()

    def key_escape(self) -> None:
        # Esc clears the search, from the box or from the table (k9s-style).
        if self.task_filter.text or self.filter_bar.searching:
            self.filter_bar.close_search(keep=False)

    def action_facets(self) -> None:
        def chosen(result: TaskFilter | None) -> None:
            if result is not None:
                self.task_filter = result
                self.redraw(force=True)

        facets = self.service.facets()
        self.app.push_screen(FacetScreen(self.task_filter, facets), chosen)

    def action_toggle_successful(self) -> None:
        self.task_filter = self.task_filter.with_(hide_successful=not self.task_filter.hide_successful)
        self.notify("hiding successful tasks" if self.task_filter.hide_successful else "showing successful tasks")
        self.redraw(force=True)

    def action_clear_filters(self) -> None:
        self.task_filter = TaskFilter(hide_successful=self.task_filter.hide_successful)
        self.filter_bar.clear()
        self.redraw(force=True, to_top=True)

    def action_cycle_sort(self) -> None:
        # Like k9s, only the columns on screen: a sort by a hidden column would look random.
        shown = self.rows.sortable_keys
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
        health = self.service.health()
        drifted = ""
        if health.last_drift_ids:
            drifted = f"; last healed: {', '.join(i[:8] for i in health.last_drift_ids)}"
        self.notify(f"feed health: {health.describe()}{drifted}", timeout=HEALTH_SECONDS)

    def action_toggle_time_zone(self) -> None:
        self.settings.times.toggle()
        self.redraw(force=True)
        self.notify(self.settings.times.describe())

    def on_screen_resume(self) -> None:
        # `z` on the detail changed the zone for this screen too.
        if self.rows.local_time != self.settings.times.local:
            self.redraw(force=True)

    def action_toggle_legend(self) -> None:
        legend = self.query_one(Legend)
        legend.display = not legend.display

    @work(group="paging", exclusive=True, exit_on_error=False, name="load-older", description="load older tasks")
    async def action_load_older(self) -> None:
        try:
            loaded = await self.service.load_older()
        except UserFacingError as exc:  # a dropped connection: the feed reconnects on its own
            self.notify(f"could not load older tasks: {exc}", severity="error")
            return
        self.notify(f"loaded {loaded:,} older finished tasks" if loaded else "no older finished tasks")

    # -- actions: acting -------------------------------------------------------------------------

    @work(
        group="write-access",
        exclusive=True,
        exit_on_error=False,
        name="write-access",
        description="check this role's right to retry",
    )
    async def check_write_access(self) -> None:
        """Switch to read-only up front when this role may not retry, and say why."""
        try:
            allowed, reason = await self.service.retry_capability()
        except UserFacingError as exc:
            allowed, reason = False, f"could not check privileges: {exc}"
        if not allowed:
            self.access.revoke(reason)
            self.refresh_bindings()
            self.redraw(force=True)
            self.notify(f"read-only: {reason}", severity="warning", timeout=8)

    def action_retry_task(self) -> None:
        task = self.rows.current
        if task is not None and not self.access.read_only:
            confirm_retry(self, self.service, task)

    def action_bulk_retry(self) -> None:
        if self.access.read_only:
            return

        def finished(summary: BulkSummary | None) -> None:
            if summary is not None:
                self.notify(summary.describe(), timeout=10)

        # Rejected tasks are the target whatever the "hide successful" toggle says.
        task_filter = self.task_filter.with_(hide_successful=False)
        self.app.push_screen(BulkRetryScreen(self.service, task_filter), finished)

    def action_copy_message_id(self) -> None:
        task = self.rows.current
        if task is not None:
            self.app.copy_to_clipboard(task.message_id)
            self.notify(f"sent {task.message_id} to the clipboard (OSC 52; the terminal must allow it)")

    # -- actions: exports ------------------------------------------------------------------------

    def action_export_view(self) -> None:
        """The tasks the table shows now, in its order, to CSV or JSON (tasktui.core.export)."""
        rows = self.service.view(self.task_filter, self.sort)
        now = self.settings.clock()

        async def write(request: ExportRequest) -> Path:
            # A window of 100k rows takes a moment to format: off the event loop.
            text = await asyncio.to_thread(export.tasks_text, rows, request.file_format)
            return export.write_new_file(text, request.where, export.tasks_file_name(request.file_format, now))

        tasks = "task" if len(rows) == 1 else "tasks"
        what = f"The {len(rows):,} {tasks} shown ({self.task_filter.describe()}), in the table's order, every field."
        dialog = ExportDialog("Export the tasks shown", what, write, formats=export.FORMATS)
        self.app.push_screen(dialog, self._exported(f"{len(rows):,} {tasks}"))

    def action_export_bundle(self) -> None:
        """The selected task's incident bundle: one Markdown file for a ticket."""
        task = self.rows.current
        if task is None:
            self.notify("no task selected: the incident bundle is of the task under the cursor", severity="warning")
            return
        task_filter, now = self.task_filter, self.settings.clock()

        async def write(request: ExportRequest) -> Path:
            bundle = await self.service.incident_bundle(task.message_id, task_filter)
            text = bundle_markdown(bundle)
            return export.write_new_file(text, request.where, export.bundle_file_name(task.message_id, now))

        what = (
            f"{task.display_uid} ({task.status.label}): the task in full with its logs and traceback, the workers,"
            " the counts, the filter as SQL and the versions, as Markdown."
        )
        self.app.push_screen(ExportDialog("Incident bundle", what, write), self._exported("incident bundle"))

    def _exported(self, what: str) -> Callable[[Path | None], None]:
        def closed(path: Path | None) -> None:
            if path is not None:  # the path whole, long enough to copy it
                self.notify(f"{what} written to {path}", timeout=HEALTH_SECONDS)

        return closed

    # -- actions: the incident views -------------------------------------------------------------

    def action_errors_view(self) -> None:
        self.app.push_screen(ErrorsView(self.service, self.settings, self.access))

    def action_queues_view(self) -> None:
        self.app.push_screen(QueuesView(self.service, self.settings, self.access))

    def action_schedules_view(self) -> None:
        self.app.push_screen(SchedulesView(self.service, self.settings, self.access))

    def action_xray_task(self) -> None:
        task = self.rows.current
        if task is not None:
            self.app.push_screen(XrayScreen(self.service, task.message_id, self.settings))

    def action_help(self) -> None:
        self.app.push_screen(
            HelpScreen(
                self.access.read_only,
                connection=self.settings.connection,
                installations=self.settings.installations > 1,
            )
        )

    def action_quit(self) -> None:
        self.app.exit()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Write actions are hidden from the footer and refused in read-only mode.
        return not keys.forbidden(action, self.access.read_only)
