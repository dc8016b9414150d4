"""The task table: a Line-API scroll view that draws only the visible rows.

Textual's DataTable re-measures every cell of every row after each change (seconds at 10k rows);
this view keeps the rows as a plain list and renders the ~40 visible lines per frame, so a
window of 100k tasks scrolls and updates as fast as one of 100. It remembers what each visible line
showed and repaints only the lines whose text, colour or cursor changed: a change to one task costs
one line on the terminal, not a screen (over SSH that is most of the bytes). Columns have fixed
widths and a priority: on a narrow terminal the least important ones are dropped (the detail screen shows
everything), and the actor column takes the remaining width. The message id narrows to a prefix
before it is dropped, so that an id to paste into `tasktui show` is on screen at 80 columns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tasktui.core.models import TaskRow
from tasktui.core.store import DEFAULT_SORT, SORT_KEYS, SortKey
from tasktui.core.text import fit_cells
from tasktui.core.timefmt import absolute, relative, utc_now, zone_name
from tasktui.render import styles
from tasktui.ui.styles import RULES
from tasktui.ui.widgets.quiet_static import QuietStatic

STATUS_STYLES = ("queued", "active", "success", "warning", "error", "unknown")
SHORT_ID_LENGTH = 8  # the shortest message id prefix `tasktui show` accepts


# A cell's text from its task, the clock, and whether times are shown in local time (else UTC).
Render = Callable[[TaskRow, datetime, bool], str]


@dataclass(frozen=True)
class Narrow:
    """A narrower form of a column, shown before the column is dropped altogether."""

    title: str
    width: int
    priority: int  # when the narrow form is dropped (the full form narrows at the column's priority)
    render: Render


@dataclass(frozen=True)
class Column:
    key: str  # also the sort key (tasktui.core.store.SORT_KEYS)
    title: str
    width: int  # 0 = flexible (takes what is left, at least `min_width`)
    priority: int  # lower stays longer when the terminal is narrow
    render: Render
    min_width: int = 0
    right: bool = False
    keep_end: bool = False  # cut the start, not the end (actor paths differ at their end)
    name: str = ""  # how the status line names the column as a sort (default: the title)
    narrow: Narrow | None = None  # if set, `priority` is when the column narrows to this form
    zoned: bool = False  # absolute times: the title names the zone they are in

    def heading(self, local: bool) -> str:
        return f"{self.title} ({zone_name(local)})" if self.zoned else self.title

    def narrowed(self) -> Column:
        assert self.narrow is not None
        narrow = self.narrow
        return replace(
            self, title=narrow.title, width=narrow.width, priority=narrow.priority, render=narrow.render, narrow=None
        )


def _status_cell(task: TaskRow, _now: datetime, _local: bool) -> str:
    # The symbol says the status without colour; a trailing * marks a task whose effective
    # status differs from authentik's stored one.
    return f"{task.status.symbol} {task.status.label}" + ("*" if task.status_differs else "")


COLUMNS: tuple[Column, ...] = (
    Column("status", "Status", 18, 0, _status_cell),
    Column("actor", "Actor:uid", 0, 0, lambda t, *_: t.display_uid, min_width=36, keep_end=True),
    Column("mtime", "Changed", 9, 1, lambda t, now, _: relative(t.mtime, now)),
    Column(
        "retries", "Try", 3, 2, lambda t, *_: "" if t.retries is None else str(t.retries), right=True, name="retries"
    ),
    Column("tenant", "Tenant", 12, 4, lambda t, *_: t.tenant_name or t.tenant_id or ""),
    Column("eta", "ETA", 8, 5, lambda t, now, _: relative(t.eta, now)),
    Column("queue", "Queue", 9, 6, lambda t, *_: t.queue_name),
    # Room for a zone of five letters ('+0530', 'AKDT') after the time.
    Column("changed_utc", "Changed", 25, 7, lambda t, _, local: absolute(t.mtime, local=local), zoned=True),
    Column(
        "message_id",
        "Message id",
        36,
        8,
        lambda t, *_: t.message_id,
        # Ranked above the tenant, ETA and queue, so that it is there at 80 columns: without an
        # id on screen there is nothing to copy into `tasktui show`, and a prefix of 8 is what
        # it accepts (random UUIDs rarely share one).
        narrow=Narrow("Msg id", SHORT_ID_LENGTH, 3, lambda t, *_: t.message_id[:SHORT_ID_LENGTH]),
    ),
)

ARROWS = {False: "▲", True: "▼"}  # by SortKey.descending


def sort_label(key: str) -> str:
    """How the status line names a sort column ("changed", "retries", "message id")."""
    column = next((c for c in COLUMNS if c.key == key), None)
    return (column.name or column.title).lower() if column else key


def layout_columns(width: int, sort_column: str | None = None) -> list[tuple[Column, int]]:
    """The columns that fit in `width` cells, in display order, with their widths. The sorted
    column gets room for its arrow (from the flexible column), so that the sort is never cut."""
    chosen = list(COLUMNS)
    while True:
        fixed = sum(c.width for c in chosen if c.width) + len(chosen)  # one space after each
        flexible = [c for c in chosen if not c.width]
        spare = width - fixed
        if all(spare >= c.min_width for c in flexible) or len(chosen) <= 2:
            break
        index = max(range(len(chosen)), key=lambda i: chosen[i].priority)
        if chosen[index].narrow is not None:
            chosen[index] = chosen[index].narrowed()
        else:
            del chosen[index]
    flex_width = max(max((c.min_width for c in chosen if not c.width), default=0), width - fixed)
    widths = [c.width or flex_width for c in chosen]
    sorted_index = next((i for i, c in enumerate(chosen) if c.key == sort_column), None)
    flex_index = next((i for i, c in enumerate(chosen) if not c.width), None)
    if sorted_index is not None and flex_index is not None and sorted_index != flex_index:
        # Two cells at most (only "Try" is narrower than its title and arrow): taken even from an
        # actor column at its minimum, as a cut actor still reads and a cut arrow does not.
        missing = len(chosen[sorted_index].title) + 2 - widths[sorted_index]
        borrowed = max(0, min(missing, widths[flex_index] - 1))
        widths[sorted_index] += borrowed
        widths[flex_index] -= borrowed
    return list(zip(chosen, widths, strict=True))


class TaskTableHeader(QuietStatic):
    """Column titles, with the sort column marked."""

    DEFAULT_CSS = """
    TaskTableHeader { height: 1; background: $panel; color: $text; text-style: bold; }
    """

    def show(self, columns: list[tuple[Column, int]], sort: SortKey, local: bool) -> None:
        line = Text(no_wrap=True, overflow="crop")
        for column, width in columns:
            title = column.heading(local)
            if column.key == sort.column:
                # Cut the title, never the arrow: the arrow is what says the table is sorted.
                arrow = ARROWS[sort.descending]
                title = (fit_cells(title, width - 2).rstrip() + " " + arrow) if width > 2 else arrow
            line.append(fit_cells(title, width, right=column.right) + " ")
        self.show_text(line)


# What a visible line shows: its status colour, whether the cursor is on it, and its cells' text
# (None past the last row).
LineKey = tuple[str, bool, tuple[str, ...]] | None


class TaskRows(ScrollView, can_focus=True, inherit_bindings=False):
    """The rows themselves. The cursor follows a task, not a position: when live updates move
    the selected task, the cursor moves with it — except on the first row, where the view keeps
    showing the head of the list as new tasks arrive.

    No bindings of its own: ScrollView's (↓, PgDn, Home, End…) would scroll the view and leave
    the cursor behind; the main screen's keys move the cursor, and the view follows it."""

    COMPONENT_CLASSES = {
        *(f"task-table--{name}" for name in STATUS_STYLES),
        "task-table--cursor",
    }

    # A row's colour is its status's, as everywhere else (tasktui.ui.styles).
    DEFAULT_CSS = """
    TaskRows {
        height: 1fr; background: $surface; overflow-x: hidden;
        scrollbar-size-vertical: 1; scrollbar-background: $surface; scrollbar-color: $panel-lighten-2;
    }
    TaskRows > .task-table--cursor { background: $primary 40%; }
    TaskRows:focus > .task-table--cursor { background: $primary 60%; }
    """ + "\n".join(f"TaskRows > .task-table--{name} {{ {RULES[styles.status(name)]} }}" for name in STATUS_STYLES)

    class Highlighted(Message):
        def __init__(self, task: TaskRow | None) -> None:
            super().__init__()
            self.task = task

    class ColumnsChanged(Message):
        """The terminal width changed which columns fit."""

    class Chosen(Message):
        """Enter or double click on a task."""

        def __init__(self, task: TaskRow) -> None:
            super().__init__()
            self.task = task

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rows: list[TaskRow] = []
        self.columns: list[tuple[Column, int]] = layout_columns(80)
        self._layout_width = 80
        self._sort_column = DEFAULT_SORT.column
        self.selected_id: str | None = None
        self.cursor = 0
        self.now = utc_now()
        self.local_time = False  # absolute times in the local zone (else UTC): the console's `z`
        self.empty_text = ""  # drawn on the first line when there are no rows (why the table is empty)
        # What each visible line showed at the last sync, by row index, and the frame (scroll
        # position, size, columns) it was drawn in: a new frame repaints everything.
        self._drawn: dict[int, LineKey] = {}
        self._drawn_frame: tuple[object, ...] | None = None

    # -- data ------------------------------------------------------------------------------------

    def set_rows(self, rows: list[TaskRow], *, to_top: bool = False) -> None:
        """Show new rows, keeping the cursor on the same task when it is still there — or, for
        a new selection of rows (`to_top`: another filter), on the first row, the newest."""
        self.rows = rows
        position = self.cursor
        if to_top:
            position = 0
            self.scroll_to(y=0, animate=False, immediate=True)
        # At the top the view follows the head of the list (newest first, like `tail -f`);
        # anywhere else the cursor stays on the task the user selected.
        following_head = to_top or (self.cursor == 0 and int(self.scroll_offset.y) == 0)
        if self.selected_id is not None and not following_head:
            for index, row in enumerate(rows):
                if row.message_id == self.selected_id:
                    position = index
                    break
        self.virtual_size = Size(self.size.width, len(rows))
        self._move_to(min(position, max(0, len(rows) - 1)), announce=False)

    def set_now(self, now: datetime) -> None:
        """The clock the relative ages are computed on: only lines whose age text changed are
        repainted (most ages change once a minute)."""
        self.now = now
        self.sync()

    def sync(self) -> None:
        """Repaint the visible lines whose content changed since the last sync (all of them when
        the view scrolled, resized or changed columns)."""
        height = self.scrollable_content_region.height
        top = int(self.scroll_offset.y)
        frame = (top, self.scrollable_content_region.width, height, tuple(self.columns), self.local_time)
        drawn = {index: self._line_key(index) for index in range(top, top + height)}
        if frame != self._drawn_frame:
            self.refresh()
        else:
            for index, key in drawn.items():
                if self._drawn.get(index) != key:
                    self.refresh_line(index)
        self._drawn, self._drawn_frame = drawn, frame

    def _line_key(self, index: int) -> LineKey:
        if index >= len(self.rows):
            # The first line of an empty table says why it is empty.
            return ("empty", False, (self.empty_text,)) if index == 0 and self.empty_text else None
        task = self.rows[index]
        return (task.status.style, index == self.cursor, self._cells(task))

    def _cells(self, task: TaskRow) -> tuple[str, ...]:
        # Everything in a row is data from the database: shown literally, escapes visible, cut to
        # the column's width in terminal cells (a CJK character or an emoji takes two). A column
        # cut at its start for its distinctive end is cut at its end when it is the sort: rows
        # sorted by actor must read sorted, and they sort by their start.
        return tuple(
            fit_cells(
                column.render(task, self.now, self.local_time),
                width,
                keep_end=column.keep_end and column.key != self._sort_column,
                right=column.right,
            )
            for column, width in self.columns
        )

    @property
    def current(self) -> TaskRow | None:
        return self.rows[self.cursor] if 0 <= self.cursor < len(self.rows) else None

    def _move_to(self, index: int, *, announce: bool = True) -> None:
        index = max(0, min(index, len(self.rows) - 1)) if self.rows else 0
        self.cursor = index
        task = self.current
        self.selected_id = task.message_id if task else None
        height = self.scrollable_content_region.height or 1
        top = int(self.scroll_offset.y)
        if index < top:
            self.scroll_to(y=index, animate=False)
        elif index >= top + height:
            self.scroll_to(y=index - height + 1, animate=False)
        self.sync()
        if announce:
            self.post_message(self.Highlighted(task))

    def move(self, delta: int) -> None:
        self._move_to(self.cursor + delta)

    def move_to(self, index: int) -> None:
        self._move_to(index)

    def sort_by(self, column: str) -> None:
        """Lay the columns out again for a new sort column (it gets room for its arrow)."""
        if column != self._sort_column:
            self._sort_column = column
            self._relayout(self._layout_width)
            self.sync()

    @property
    def sortable_keys(self) -> list[str]:
        """The sort keys of the columns shown at the current width, in display order."""
        return [column.key for column, _ in self.columns if column.key in SORT_KEYS]

    @property
    def page(self) -> int:
        return max(1, (self.scrollable_content_region.height or 2) - 1)

    # -- drawing ---------------------------------------------------------------------------------

    def on_resize(self, event: events.Resize) -> None:
        self.virtual_size = Size(event.size.width, len(self.rows))
        self.sync()  # a new frame: everything is repainted, and remembered at its new size

    def render_line(self, y: int) -> Strip:
        index = int(self.scroll_offset.y) + y
        width = self.scrollable_content_region.width
        if width != self._layout_width:
            # Lay columns out for the width rows are really drawn at (without the scrollbar).
            self._relayout(width)
        if index >= len(self.rows):
            if index == 0 and self.empty_text:
                muted = self.get_component_rich_style("task-table--unknown")
                return Strip([Segment(fit_cells(self.empty_text, width), muted)]).crop(0, width)
            return Strip.blank(width, self.rich_style)
        task = self.rows[index]
        style = self.get_component_rich_style(f"task-table--{task.status.style}")
        if index == self.cursor:
            style += self.get_component_rich_style("task-table--cursor")
        segments = []
        for (column, _), cell in zip(self.columns, self._cells(task), strict=True):
            cell_style = style + Style(bold=True) if column.key == "status" else style
            segments.append(Segment(cell + " ", cell_style))
        # One segment per run of one style, not per cell: each segment costs its own escape
        # sequences on the terminal (~30 bytes in truecolor), so a row goes out in two.
        return Strip(segments).crop(0, width).extend_cell_length(width, style).simplify()

    def _relayout(self, width: int) -> None:
        self._layout_width = width
        columns = layout_columns(width, self._sort_column)
        if columns != self.columns:
            self.columns = columns
            self.post_message(self.ColumnsChanged())

    # -- input -----------------------------------------------------------------------------------

    def on_click(self, event: events.Click) -> None:
        index = int(self.scroll_offset.y) + event.y
        if 0 <= index < len(self.rows):
            self._move_to(index)
            if event.chain >= 2:
                self.post_message(self.Chosen(self.rows[index]))


class TaskTable(Vertical):
    """Header plus rows."""

    DEFAULT_CSS = """
    TaskTable { height: 1fr; }
    """

    def compose(self) -> ComposeResult:
        yield TaskTableHeader(id="task-header")
        yield TaskRows(id="task-rows")

    @property
    def body(self) -> TaskRows:
        return self.query_one(TaskRows)

    _sort: SortKey = DEFAULT_SORT

    def show(
        self,
        rows: list[TaskRow],
        sort: SortKey,
        now: datetime,
        *,
        local: bool = False,
        to_top: bool = False,
        empty: str = "",
    ) -> None:
        """Show these rows (`local`: absolute times in local time, else UTC; `to_top`: a new
        selection, the cursor goes to the first row; `empty`: what the table says when there are
        none)."""
        self._sort = sort
        body = self.body
        body.now = now
        body.local_time = local
        body.empty_text = empty
        body.sort_by(sort.column)
        body.set_rows(rows, to_top=to_top)
        self.query_one(TaskTableHeader).show(body.columns, sort, local)

    def on_task_rows_columns_changed(self, message: TaskRows.ColumnsChanged) -> None:
        message.stop()
        self.query_one(TaskTableHeader).show(self.body.columns, self._sort, self.body.local_time)
