"""What the incident views share (errors grouped, queues draining, schedules): a title, a line
saying when the answer was read and what it cost, a table of rows, the selected row in full
below it, and a footer of the view's keys from the one registry (tasktui.ui.keys).

A view reads its answer from the console service on open, on `r`, and on a timer (REFRESH_SECONDS,
10–30 s) — never per feed event: each read is a few bounded statements, up to a second on a
million tasks. While another screen covers the view (a task's detail), the timer skips its turn;
the view reads again when it is shown again. A failed read is said on the status line and the last
answer stays on screen, marked as such.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from tasktui.core.console import ConsoleService
from tasktui.core.text import cut
from tasktui.core.timefmt import elapsed
from tasktui.errors import UserFacingError
from tasktui.render import styles
from tasktui.render.text import VALUE_CHARS, safe_text
from tasktui.ui import keys
from tasktui.ui.failures import ReportsWorkerFailures
from tasktui.ui.screens.help import HelpScreen
from tasktui.ui.screens.task_detail import TaskDetailScreen
from tasktui.ui.settings import ConsoleSettings, WriteAccess
from tasktui.ui.styles import semantic_classes, semantic_css, semantic_styles, themed

PREFIX = "incident"


class ViewTable(DataTable[Text], inherit_bindings=False):
    """The view's rows: moved through by the arrows and pages; Enter is the view's (the registry's
    "open the task", in the footer), not the table's own select."""

    BINDINGS = [
        Binding("up", "cursor_up", show=False),
        Binding("down", "cursor_down", show=False),
        Binding("pageup", "page_up", show=False),
        Binding("pagedown", "page_down", show=False),
        Binding("home", "scroll_top", show=False),
        Binding("end", "scroll_bottom", show=False),
    ]


def lines(*parts: Text) -> Text:
    """Lines of rendered text as one (each line built by `assemble`, which escapes newlines)."""
    return Text("\n").join(parts)


@dataclass(frozen=True)
class ViewColumn:
    label: str
    width: int  # cells; 0: the rest of the line (one column per view)


@dataclass(frozen=True)
class ViewRow:
    key: str
    cells: list[Text]


def tail(text: str, width: int) -> str:
    """The end of `text` in `width` cells: actor paths differ at their end
    ('…ldap.tasks.ldap_sync')."""
    text = cut(text, VALUE_CHARS)
    return text if len(text) <= width else "…" + text[-(width - 1) :]


class IncidentView(ReportsWorkerFailures, Screen[None]):
    """One incident question's view (see the module docstring). Subclasses read (`fetch`), lay
    out (`columns`, `rows`) and explain the selected row (`detail`)."""

    VIEW_TITLE: ClassVar[str] = ""
    REFRESH_SECONDS: ClassVar[float] = 30.0
    # Whether a row leads to a task (Enter opens it): else the footer does not offer it.
    OPENS_TASKS: ClassVar[bool] = True
    KEY_ACTIONS: ClassVar[tuple[keys.KeyAction, ...]] = keys.incident_keys("retry_group")
    BINDINGS = keys.bindings(keys.incident_keys("retry_group"))

    COMPONENT_CLASSES = semantic_classes(PREFIX)
    DEFAULT_CSS = (
        semantic_css("IncidentView", PREFIX)
        + """
    IncidentView #view-title { height: 1; background: $boost; text-style: bold; padding: 0 1; }
    IncidentView #view-status { height: auto; color: $text-muted; padding: 0 1; }
    IncidentView DataTable { height: 1fr; }
    IncidentView #view-detail-box {
        height: auto; max-height: 45%; border-top: solid $accent; background: $panel; padding: 0 1;
    }
    IncidentView #view-empty { height: auto; padding: 1 1; }
    """
    )

    def __init__(self, service: ConsoleService, settings: ConsoleSettings, access: WriteAccess) -> None:
        super().__init__()
        self.service = service
        self.settings = settings
        self.access = access
        self.report: Any = None
        self.error = ""  # the last read's failure, while the answer shown is an older one
        self.loads = 0  # answers read so far
        self._laid_out_for = -1

    def compose(self) -> ComposeResult:
        yield Static(Text(self.VIEW_TITLE), id="view-title")
        yield Static(Text("reading…"), id="view-status")
        yield Static(Text(""), id="view-empty")
        yield ViewTable(id="view-table", cursor_type="row", zebra_stripes=False, show_cursor=True)
        with VerticalScroll(id="view-detail-box"):
            yield Static(Text(""), id="view-detail")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one("#view-empty").display = False
        self.table.focus()
        self.load()
        self.set_interval(self.REFRESH_SECONDS, self._timer)

    @property
    def table(self) -> DataTable[Text]:
        return self.query_one(DataTable)

    # -- reading ---------------------------------------------------------------------------------

    async def fetch(self) -> Any:
        """The view's answer from the service. Each view defines it (errors, queues, schedules),
        as it defines columns, rows and detail: the base class draws and refreshes them."""
        raise NotImplementedError

    def _timer(self) -> None:
        if self.is_active:  # covered by a task's detail: read again when shown
            self.load()

    def on_screen_resume(self) -> None:
        if self.loads:
            self.load()

    @work(group="incident-view", exclusive=True, exit_on_error=False, name="incident-view", description="read the view")
    async def load(self) -> None:
        try:
            report = await self.fetch()
        except UserFacingError as exc:
            if not self.failed(exc):
                self.error = str(exc)
                self._show_status()
            return
        self.report, self.error = report, ""
        self.loads += 1
        self.draw()

    def failed(self, exc: UserFacingError) -> bool:
        """A subclass's chance to show a failure as the answer (no schedule table); True if so."""
        return False

    # -- drawing ---------------------------------------------------------------------------------

    def columns(self, width: int) -> list[ViewColumn]:
        """The table's columns at this width (each view's own)."""
        raise NotImplementedError

    def rows(self, width: int) -> list[ViewRow]:
        """The answer's rows, cut to the columns (each view's own)."""
        raise NotImplementedError

    def summary(self) -> str:
        """What the answer says in a few words, before when it was read."""
        return ""

    def detail(self, key: str) -> Text:
        """The selected row in full, below the table (each view's own)."""
        raise NotImplementedError

    def empty(self) -> Text | None:
        """A line in place of the table when the answer has no rows (None: the table)."""
        return None

    def themed(self, text: Text) -> Text:
        return themed(text, semantic_styles(self, PREFIX))

    def show_empty(self, text: Text | None) -> None:
        """A line in place of the table (None: the table)."""
        empty = self.query_one("#view-empty", Static)
        empty.display = text is not None
        self.table.display = text is None
        self.query_one("#view-detail-box").display = text is None
        if text is not None:
            empty.update(self.themed(text))

    def draw(self) -> None:
        if self.report is None or not self.is_mounted:
            return
        table = self.table
        width = max(40, self.size.width - 2)
        selected = self.selected_key
        table.clear(columns=self._laid_out_for != width)
        if self._laid_out_for != width:
            self._laid_out_for = width
            columns = self.columns(width)
            fixed = sum(c.width for c in columns) + 2 * len(columns)
            for column in columns:
                label = Text(column.label, style="bold")
                table.add_column(label, width=column.width or max(10, width - fixed), key=column.label)
        rows = self.rows(width)
        for row in rows:
            table.add_row(*(self.themed(cell) for cell in row.cells), key=row.key)
        if rows:
            keys_ = [row.key for row in rows]
            table.move_cursor(row=keys_.index(selected) if selected in keys_ else 0)
        self._show_status()
        self.show_detail()
        self.show_empty(self.empty())

    def on_resize(self, event: events.Resize) -> None:
        self.draw()

    def _show_status(self) -> None:
        report = self.report
        status = self.query_one("#view-status", Static)
        every = f"every {self.REFRESH_SECONDS:.0f}s"
        if report is None:
            text = safe_text(f"could not read: {self.error}", styles.BAD) if self.error else Text(f"reading… · {every}")
            status.update(self.themed(text))
            return
        checked = report.checked_at
        when = checked.strftime("%H:%M:%S UTC") if isinstance(checked, datetime) else ""
        line = Text.assemble(self.summary(), f" · {when}, took {elapsed(report.elapsed)} · {every}")
        if self.error:
            line = Text.assemble(
                (f"could not read again: {cut(self.error, VALUE_CHARS)}", styles.BAD), " · shown: ", line
            )
        status.update(self.themed(line))

    @property
    def selected_key(self) -> str | None:
        table = self.table
        if not table.row_count:
            return None
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return str(row_key.value) if row_key.value is not None else None

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_detail()

    def show_detail(self) -> None:
        key = self.selected_key
        text = self.detail(key) if key is not None else Text("")
        self.query_one("#view-detail", Static).update(self.themed(text))

    # -- keys ------------------------------------------------------------------------------------

    @on(DataTable.RowSelected)
    def _selected(self, event: DataTable.RowSelected) -> None:
        self.action_open_task()

    def task_to_open(self, key: str) -> str | None:
        """The message id Enter opens for this row (None: the row has none)."""
        return None

    def action_open_task(self) -> None:
        key = self.selected_key
        message_id = self.task_to_open(key) if key is not None else None
        if message_id is None:
            self.notify("this row has no task to open")
            return
        self.app.push_screen(TaskDetailScreen(self.service, message_id, self.settings, self.access))

    def action_reload(self) -> None:
        self.load()

    def action_cursor_down(self) -> None:
        self.table.action_cursor_down()

    def action_cursor_up(self) -> None:
        self.table.action_cursor_up()

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(self.access.read_only, connection=self.settings.connection))

    def action_back(self) -> None:
        self.dismiss(None)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "open_task" and not self.OPENS_TASKS:
            return False
        return not keys.forbidden(action, self.access.read_only, self.KEY_ACTIONS)
