"""Retrying from the console: `R` on a rejected task, `B` for everything matching the filter.

Both say what will happen before anything changes, do it through the console service (authentik's
own retry, guarded: only a task still rejected at that moment changes; the audit journal records
it), and say how it went. The single retry's modal runs the retry itself and closes when it is
done; the bulk screen previews first (counts by actor and by error, a sample, the duplicates it
will skip), then runs throttled with a progress bar that can be aborted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Label, ProgressBar, Static

from tasktui.core.bulk_retry import DEFAULT_RATE, BulkPreview, BulkProgress, BulkSummary
from tasktui.core.console import ConsoleService
from tasktui.core.filters import TaskFilter
from tasktui.core.models import TaskRow
from tasktui.core.retry import SelectionResult
from tasktui.core.status import RETRYABLE_STATE
from tasktui.core.text import cut
from tasktui.core.timefmt import duration
from tasktui.errors import UserFacingError
from tasktui.render import styles
from tasktui.render.bulk import bulk_preview_text, bulk_summary_text
from tasktui.render.text import VALUE_CHARS, safe_text
from tasktui.ui.failures import ReportsWorkerFailures
from tasktui.ui.styles import semantic_classes, semantic_css, semantic_styles, themed

SINGLE_RETRY_EXPLAINED = (
    "In one transaction, as authentik's own retry does: its logs so far become a previous attempt, a "
    "'Task will be retried' log is added, and the task goes back to queued with no eta (retries as its "
    "message counts them), so "
    "authentik's enqueue notification wakes a worker at commit. Nothing changes unless the task is still "
    "rejected at that moment (another console may have retried it)."
)


def retry_question(task: TaskRow) -> Text:
    """Which task a single retry is about: its actor and uid (bounded, escaped), id and retries."""
    return Text.assemble(
        (cut(task.display_uid, VALUE_CHARS), styles.LABEL),
        "\n",
        ("message id ", styles.MUTED),
        cut(task.message_id, VALUE_CHARS),
        "  ",
        ("retries so far ", styles.MUTED),
        str(task.retries if task.retries is not None else "?"),
    )


def confirm_retry(screen: Screen[Any], service: ConsoleService, task: TaskRow) -> None:
    """R, from the table or a task's detail: a rejected task gets the confirmation (which
    retries); any other is refused with why."""
    if task.state != RETRYABLE_STATE:
        screen.notify(f"only rejected tasks can be retried; this one is {task.state}", severity="warning")
        return
    screen.app.push_screen(ConfirmRetryModal(service, task))


class ConfirmRetryModal(ReportsWorkerFailures, ModalScreen[SelectionResult | None]):
    """Say what a single retry does; `y` or the button retries (the modal stays until the retry
    is done, so that nothing cancels it mid-commit), anything else cancels."""

    BINDINGS = [
        Binding("y", "confirm", "Retry", id="retry-confirm"),
        Binding("escape,n,q", "cancel", "Cancel", id="retry-cancel"),
    ]

    COMPONENT_CLASSES = semantic_classes("retry")
    DEFAULT_CSS = (
        semantic_css("ConfirmRetryModal", "retry")
        + """
    ConfirmRetryModal { align: center middle; }
    ConfirmRetryModal > Vertical {
        width: 90%; max-width: 100; height: auto; background: $panel; border: thick $error; padding: 1 2;
    }
    ConfirmRetryModal .title { text-style: bold; color: $error; }
    ConfirmRetryModal Horizontal { height: auto; margin-top: 1; }
    ConfirmRetryModal Button { margin-right: 2; }
    """
    )

    def __init__(self, service: ConsoleService, task: TaskRow) -> None:
        super().__init__()
        self.service = service
        self.task_row = task
        self.retrying = False

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Retry this rejected task?", classes="title")
            yield Static(id="retry-question")
            yield Static(SINGLE_RETRY_EXPLAINED, id="retry-explained")
            with Horizontal():
                yield Button("Retry (y)", id="confirm", variant="error")
                yield Button("Cancel (Esc)", id="cancel")

    def on_mount(self) -> None:
        question = themed(retry_question(self.task_row), semantic_styles(self, "retry"))
        self.query_one("#retry-question", Static).update(question)
        self.query_one("#cancel", Button).focus()  # a stray Enter must not retry

    @on(Button.Pressed, "#confirm")
    def action_confirm(self) -> None:
        if self.retrying:
            return
        self.retrying = True
        for button in self.query(Button):
            button.disabled = True
        self.query_one("#retry-explained", Static).update("retrying…")
        self.retry()

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        if not self.retrying:
            self.dismiss(None)

    @work(group="retry-one", exclusive=True, exit_on_error=False, name="retry-one", description="retry the task")
    async def retry(self) -> None:
        try:
            result = await self.service.retry_selected([self.task_row.message_id])
        except UserFacingError as exc:
            self.notify(f"retry failed: {exc}", severity="error")
            self.dismiss(None)
            return
        outcome = result.outcomes[0]
        self.notify(outcome.describe(), severity="information" if outcome.retried else "warning")
        if result.journal_error:
            self.notify(f"audit journal: {result.journal_error}", severity="error")
        self.dismiss(result)


class BulkRetryScreen(ReportsWorkerFailures, ModalScreen[BulkSummary | None]):
    """Preview, confirm, run (throttled, abortable), summarise.

    The buttons (and the keys the footer offers) follow the state: Start and Close while
    previewing (Start enabled once there is something to retry), Abort alone while running
    (Esc aborts too), and Close alone once the run is over or when there is nothing to retry —
    a run is never started twice."""

    BINDINGS = [
        Binding("y", "start", "Start", id="bulk-start"),
        Binding("a", "abort", "Abort", id="bulk-abort"),
        Binding("escape,q", "close", "Close / abort", id="bulk-close"),
        # The preview scrolls from the first key, whichever button has focus: at 80x24 the "By
        # error" breakdown and the newest tasks are below the box's fold.
        Binding("down,j", "scroll_preview('down')", "Scroll", show=False, id="bulk-scroll-down"),
        Binding("up,k", "scroll_preview('up')", "Scroll", show=False, id="bulk-scroll-up"),
        Binding("pagedown", "scroll_preview('page_down')", "Page", show=False, id="bulk-page-down"),
        Binding("pageup", "scroll_preview('page_up')", "Page", show=False, id="bulk-page-up"),
        Binding("home,g", "scroll_preview('home')", "Top", show=False, id="bulk-top"),
        Binding("end,G", "scroll_preview('end')", "End", show=False, id="bulk-end"),
    ]

    COMPONENT_CLASSES = semantic_classes("retry")
    DEFAULT_CSS = (
        semantic_css("BulkRetryScreen", "retry")
        + """
    BulkRetryScreen { align: center middle; }
    BulkRetryScreen > Vertical {
        width: 96%; height: 90%; background: $panel; border: thick $error; padding: 0 1;
    }
    BulkRetryScreen .title { text-style: bold; color: $error; }
    BulkRetryScreen VerticalScroll { height: 1fr; }
    BulkRetryScreen ProgressBar { margin: 1 0 0 0; }
    BulkRetryScreen #bulk-status { height: auto; }
    BulkRetryScreen Horizontal { height: auto; }
    BulkRetryScreen Button { margin-right: 2; }
    """
    )

    def __init__(self, service: ConsoleService, task_filter: TaskFilter, *, rate: float = DEFAULT_RATE) -> None:
        super().__init__()
        self.task_filter = task_filter
        self.service = service
        self.rate = rate
        self.preview: BulkPreview | None = None
        self.summary: BulkSummary | None = None
        self.abort_event = asyncio.Event()
        self.running = False
        self.run_failed = False  # the run raised: the status line says why
        self._preview_text: Callable[[int | None], str] | None = None  # the box's text, for a width

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"Bulk retry of rejected tasks matching: {self.task_filter.describe()}", classes="title")
            with VerticalScroll():
                yield Static("previewing… (nothing changes until you press y)", id="bulk-preview")
            yield ProgressBar(total=None, show_eta=False, id="bulk-progress")
            yield Static("", id="bulk-status")
            with Horizontal():
                yield Button("Start (y)", id="start", variant="error", disabled=True)
                yield Button("Abort (a / Esc)", id="abort")
                yield Button("Close (Esc)", id="close")

    def on_mount(self) -> None:
        self._show_buttons()
        self.load_preview()

    def action_scroll_preview(self, how: str) -> None:
        box = self.query_one(VerticalScroll)
        {
            "down": box.scroll_down,
            "up": box.scroll_up,
            "page_down": box.scroll_page_down,
            "page_up": box.scroll_page_up,
            "home": box.scroll_home,
            "end": box.scroll_end,
        }[how](animate=False)

    def _show_preview(self, text: Callable[[int | None], str]) -> None:
        """Show the box's text wrapped at its width (continuation lines under their text), and
        again at each new width."""
        self._preview_text = text
        self._rewrap()
        # A preview that comes before the box is laid out has no width to wrap at yet (and the
        # screen's resize has come and gone): wrap it again once the layout is done.
        self.call_after_refresh(self._rewrap)

    def _rewrap(self) -> None:
        if self._preview_text is None:
            return
        box = self.query_one(VerticalScroll)
        # Always leave the room of the scrollbar a long preview gets: a line wrapped for the
        # width without it would be wrapped again by the box, at column 0, once the bar comes.
        width = box.content_region.width - box.styles.scrollbar_size_vertical
        text = self._preview_text(width if width > 20 else None)
        self.query_one("#bulk-preview", Static).update(safe_text(text, multiline=True))

    def on_resize(self) -> None:
        self.call_after_refresh(self._rewrap)

    def _failed(self, text: str) -> Text:
        return themed(safe_text(text, styles.BAD), semantic_styles(self, "retry"))

    @property
    def finished(self) -> bool:
        """A run happened (or failed to): nothing is left to start."""
        return self.summary is not None or self.run_failed

    def _startable(self) -> bool:
        return self.preview is not None and bool(self.preview.to_retry) and not self.running and not self.finished

    def _show_buttons(self) -> None:
        """Buttons and footer keys for the current state; focus on the one that is safe."""
        start = self.query_one("#start", Button)
        abort = self.query_one("#abort", Button)
        close = self.query_one("#close", Button)
        # Shown (disabled) while previewing; gone when there is nothing to retry or it has run.
        nothing = self.preview is not None and not self.preview.to_retry
        start.display = not self.running and not self.finished and not nothing
        start.disabled = not self._startable()
        abort.display = self.running
        close.display = not self.running
        (abort if self.running else close).focus()  # never Start: a stray Enter must not start a run
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "start":
            return self._startable()
        if action == "abort":
            return self.running
        return True

    @work(
        group="bulk-preview",
        exclusive=True,
        exit_on_error=False,
        name="bulk-preview",
        description="preview the bulk retry",
    )
    async def load_preview(self) -> None:
        status = self.query_one("#bulk-status", Static)
        try:
            self.preview = await self.service.preview_bulk_retry(self.task_filter)
        except UserFacingError as exc:
            self.query_one("#bulk-progress", ProgressBar).display = False
            # Said once, where "previewing…" was: the two must not be on screen together.
            self.query_one("#bulk-preview", Static).update(self._failed(f"preview failed: {exc}"))
            status.update("nothing was changed")
            return
        preview, rate = self.preview, self.rate
        self._show_preview(lambda width: bulk_preview_text(preview, rate, width))
        count = len(self.preview.to_retry)
        # The bar stops its "working…" animation: it shows the run's progress from here on.
        bar = self.query_one("#bulk-progress", ProgressBar)
        bar.update(total=max(1, count), progress=0)
        bar.display = count > 0
        self._show_buttons()
        if count:
            took = duration(count / self.rate)
            status.update(f"{count:,} task(s) to retry at {self.rate:g}/s (about {took}) — press y to start")
        else:
            status.update("nothing to retry")

    def action_start(self) -> None:
        if not self._startable():
            return
        assert self.preview is not None
        self.running = True
        self._show_buttons()
        self.query_one("#bulk-progress", ProgressBar).update(total=len(self.preview.to_retry), progress=0)
        self.run_retries()

    @on(Button.Pressed, "#start")
    def _start_pressed(self) -> None:
        self.action_start()

    @work(group="bulk-run", exclusive=True, exit_on_error=False, name="bulk-run", description="run the bulk retry")
    async def run_retries(self) -> None:
        assert self.preview is not None
        status = self.query_one("#bulk-status", Static)
        bar = self.query_one("#bulk-progress", ProgressBar)

        def progress(update: BulkProgress) -> None:
            bar.update(progress=update.attempted)
            remaining = update.remaining_seconds
            eta = f", about {duration(remaining)} left" if remaining is not None else ""
            status.update(f"{update.attempted:,} of {update.total:,} tried ({update.rate:.1f}/s{eta}) — a aborts")

        try:
            self.summary = await self.service.run_bulk_retry(
                self.preview, rate=self.rate, abort=self.abort_event, on_progress=progress
            )
        except UserFacingError as exc:
            status.update(self._failed(f"bulk retry failed: {exc}"))
        else:
            # The status line keeps the headline and the sum; the whole summary (skips by
            # reason, tasks that changed or failed) goes on top of the scrollable preview, which
            # has room for it even at 80x24.
            status.update(safe_text(self.summary.describe()))
            summary, preview, rate = self.summary, self.preview, self.rate
            self._show_preview(
                lambda width: "\n\n".join(
                    (
                        bulk_summary_text(summary, width),
                        "The preview, before the run:",
                        bulk_preview_text(preview, rate, width),
                    )
                )
            )
            self.query_one(VerticalScroll).scroll_home(animate=False)
            if self.summary.journal_error:
                self.notify(f"audit journal: {self.summary.journal_error}", severity="error")
        finally:
            # Failed, however (a bug is logged by the app): never offer to start it again.
            self.run_failed = self.summary is None
            self.running = False
            self._show_buttons()

    def action_abort(self) -> None:
        if self.running:
            self.abort_event.set()
            self.query_one("#bulk-status", Static).update("aborting after the task in flight…")

    @on(Button.Pressed, "#abort")
    def _abort_pressed(self) -> None:
        self.action_abort()

    @on(Button.Pressed, "#close")
    def action_close(self) -> None:
        if self.running:
            self.action_abort()  # first Esc stops the run; the summary stays on screen
            return
        self.dismiss(self.summary)
