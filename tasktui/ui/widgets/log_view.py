"""One attempt group's log lines (current or previous attempts) as a Line-API scroll view.

A task may have 100,000 log lines; this view holds a bounded window of them (at most MAX_LINES,
a few pages fetched with keyset cursors) and draws only the rows on screen. As the view nears
either end of the window it asks for the next page (`NearEdge`); when the window grows past
MAX_LINES, the far end is dropped and the view keeps showing the same lines.

Each log line is a *block* of rows (tasktui.ui.widgets.log_blocks): the line itself, its
structlog exception as a traceback (always shown: that is what a reader came for), and when
expanded its full event and attributes (large attributes are fetched on demand by the screen).
Blocks are rendered once per width and cached, their bodies a page at a time (`more()` renders
the next page); plain lines cost one row and no rendering until they are on screen.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Literal

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tasktui.core.logs import LogCursor
from tasktui.ui.styles import semantic_classes, semantic_css, semantic_styles
from tasktui.ui.widgets.log_blocks import LogBlock, LogEntry, extend, new_block

PAGE = 200  # lines per fetch: a few screens, one query
MAX_LINES = 2_000  # lines held at once; pages beyond drop the far end

Edge = Literal["before", "after"]


class LogView(ScrollView, can_focus=True, inherit_bindings=False):
    """The screen owns the keys (one registry); this widget owns drawing and the window."""

    COMPONENT_CLASSES = {"log-view--cursor", "log-view--placeholder", *semantic_classes("log-view")}

    DEFAULT_CSS = """
    LogView { height: 1fr; background: $surface; overflow-x: hidden; scrollbar-gutter: stable; }
    LogView > .log-view--cursor { background: $primary 30%; }
    LogView:focus > .log-view--cursor { background: $primary 50%; }
    LogView > .log-view--placeholder { color: $text-muted; text-style: italic; }
    """ + semantic_css("LogView", "log-view")

    class NearEdge(Message):
        """The view is within a screen of the start or end of its window, and more lines lie
        beyond it: the screen should fetch a page (the edge stays in pending_edges until it does)."""

        def __init__(self, view: LogView, edge: Edge) -> None:
            super().__init__()
            self.view = view
            self.edge = edge

    class Toggled(Message):
        """A line was expanded with a click; the screen fetches large attributes."""

        def __init__(self, view: LogView, entry: LogEntry) -> None:
            super().__init__()
            self.view = view
            self.entry = entry

    def __init__(self, *, previous: bool, id: str | None = None) -> None:
        super().__init__(id=id)
        self.previous = previous
        self.entries: list[LogEntry] = []
        self.has_before = False  # lines exist before the window
        self.has_after = False  # lines exist after the window (False: the window is the tail)
        self.total: int | None = None  # lines in this attempt group, when counted
        self.total_capped = False
        self.cursor = 0
        self.loaded = False  # a first page was shown
        self.placeholder = "loading…"
        self.local_time = False  # times in the local zone, else UTC (the console's `z`)
        # Edges a page was asked for and has not come yet (not `loading`: that is Textual's own
        # Widget.loading, which would make the view unfocusable while a page loads).
        self.pending_edges: set[Edge] = set()
        self.generation = 0  # bumped by reset(): pages asked for before it are dropped
        self._starts: list[int] = []  # first row of each entry
        self._rows = 0
        self._width = 0
        self._laid_out_for = -1  # the width the window was last laid out at
        self._blocks: dict[LogCursor, LogBlock] = {}  # a line's rows at self._width
        # (entry, prefer its end, centre it) to reveal once there is a size
        self._reveal: tuple[int, bool, bool] | None = None

    # -- the window ------------------------------------------------------------------------------

    def reset(
        self,
        entries: list[LogEntry],
        *,
        has_before: bool,
        has_after: bool,
        select: Literal["start", "end"] | int = "end",
    ) -> None:
        """Show a fresh window. `select`: "end" puts the cursor on the last error line (else the
        last line) with its traceback in view; "start" on the first line; an index on that entry,
        in the middle of the view (a jump's target, with the lines around it)."""
        self.generation += 1
        self.pending_edges.clear()
        self.entries = entries
        self.has_before, self.has_after = has_before, has_after
        self.loaded = True
        self._blocks.clear()
        if select == "start" or not entries:
            index, prefer_end = 0, False
        elif isinstance(select, int):
            index, prefer_end = max(0, min(select, len(entries) - 1)), False
        else:
            errors = [i for i, entry in enumerate(entries) if entry.is_error]
            index, prefer_end = (errors[-1], True) if errors else (len(entries) - 1, False)
        self.cursor = index
        self._relayout()
        centre = isinstance(select, int)
        self._reveal = (index, prefer_end, centre)
        if centre:
            # Straight to the target's row in the middle: a detour via the top would ask for the
            # page before the window (NearEdge) that the user never scrolls to.
            self._scroll(self._starts[index] - self._view_height() // 2)
        else:
            self._scroll(self.max_scroll_y if select == "end" else 0)
        self._apply_reveal()
        # New lines at the same size and offset as the old ones (one jump's window to the next)
        # change neither, and so would not repaint by themselves.
        self.refresh()

    def prepend(self, entries: list[LogEntry], *, has_more: bool) -> None:
        """Older lines before the window; the lines on screen stay where they are."""
        if not entries:
            self.has_before = has_more
            return
        added = sum(self._height(entry) for entry in entries)
        self.entries[0:0] = entries
        self.cursor += len(entries)
        self.has_before = has_more
        top = self.scroll_offset.y + added
        if len(self.entries) > MAX_LINES:
            self._forget(self.entries[MAX_LINES:])
            del self.entries[MAX_LINES:]
            self.has_after = True
            self.cursor = min(self.cursor, len(self.entries) - 1)
        self._relayout()
        self._scroll(top)
        self.refresh()

    def append(self, entries: list[LogEntry], *, has_more: bool, follow: bool = False) -> None:
        """Newer lines after the window. With `follow` (live lines), a cursor on the last line
        moves on to the new last line, like `tail -f`."""
        self.has_after = has_more
        if not entries:
            return
        following = follow and self.entries and self.cursor == len(self.entries) - 1
        self.entries.extend(entries)
        top = self.scroll_offset.y
        excess = len(self.entries) - MAX_LINES
        if excess > 0:
            top -= sum(self._height(entry) for entry in self.entries[:excess])
            self._forget(self.entries[:excess])
            del self.entries[:excess]
            self.cursor = max(0, self.cursor - excess)
            self.has_before = True
        self._relayout()
        self._scroll(max(0, top))
        if following or (follow and len(self.entries) == len(entries)):
            self.cursor = len(self.entries) - 1
            self._scroll(self.max_scroll_y)
        self.refresh()
        self._check_edges()

    def _forget(self, entries: list[LogEntry]) -> None:
        for entry in entries:
            self._blocks.pop(entry.line.cursor, None)

    def entry_changed(self, entry: LogEntry) -> None:
        """Its expansion, attributes or exception changed: re-render (its first page) and re-measure."""
        entry.pages = 1
        self._blocks.pop(entry.line.cursor, None)
        self._relayout()
        if self.current is entry:
            self.reveal(self.cursor)
        self.refresh()

    def more(self) -> bool:
        """The next page of the current line's body, rendered onto what is shown; False when
        there is no more of it. The rows already on screen stay where they are."""
        entry = self.current
        block = self._block(entry) if entry is not None and self._width > 0 else None
        if entry is None or block is None or block.shown >= block.total:
            return False
        entry.pages += 1
        extend(block, self.app.console)
        self._relayout()
        self.refresh()
        self._check_edges()
        return True

    @property
    def current(self) -> LogEntry | None:
        return self.entries[self.cursor] if 0 <= self.cursor < len(self.entries) else None

    def describe(self) -> str:
        """'200 of 100,002 lines loaded' (or '3 lines')."""
        loaded = len(self.entries)
        if not (self.has_before or self.has_after):  # the window is the whole group
            return f"{loaded:,} line{'s' if loaded != 1 else ''}"
        at_least = "≥" if self.total_capped else ""
        return f"{loaded:,} of {at_least}{max(self.total or 0, loaded):,} lines loaded"

    # -- moving ----------------------------------------------------------------------------------

    def select(self, index: int) -> None:
        if not self.entries:
            return
        self.cursor = max(0, min(index, len(self.entries) - 1))
        self.reveal(self.cursor)
        self.refresh()
        self._check_edges()

    def problem_index(self, *, backward: bool = False) -> int | None:
        """The nearest error or warning entry after the cursor (before it, with `backward`) in
        the window, or None: the window is searched first, so most jumps cost no query."""
        indices = range(self.cursor - 1, -1, -1) if backward else range(self.cursor + 1, len(self.entries))
        return next((i for i in indices if self.entries[i].is_problem), None)

    def jump(self, index: int) -> None:
        """The cursor on entry `index`; a line out of view is scrolled to the middle of it, as
        vim's n does, so that what led to it shows too."""
        if not 0 <= index < len(self.entries):
            return
        self.cursor = index
        self.reveal(index, center=True)
        self.refresh()
        self._check_edges()

    def move(self, delta: int) -> None:
        """Next / previous line; inside a block taller than the view, scroll through it first."""
        if not self.entries:
            return
        top, height = int(self.scroll_offset.y), self._view_height()
        start = self._starts[self.cursor] if self._starts else 0
        end = start + self._height(self.entries[self.cursor])
        if delta > 0 and end > top + height and start < top + height:
            self._scroll(top + 1)
        elif delta < 0 and start < top and end > top:
            self._scroll(top - 1)
        else:
            self.select(self.cursor + delta)
            return
        self._check_edges()

    def page(self, direction: int) -> None:
        """A screen up or down; a cursor that leaves the view goes to the first line in view."""
        if not self.entries:
            return
        height = max(1, self._view_height())
        top = max(0, min(int(self.scroll_offset.y) + direction * max(1, height - 1), self.max_scroll_y))
        self._scroll(top)
        if direction > 0 and top >= self.max_scroll_y:
            self.cursor = len(self.entries) - 1
        elif direction < 0 and top <= 0:
            self.cursor = 0
        else:
            first = self._entry_at(top)
            if self._starts[first] < top and first + 1 < len(self.entries) and self._starts[first + 1] < top + height:
                first += 1
            last = self._entry_at(top + height - 1)
            if not first <= self.cursor <= last:
                self.cursor = first
        self.refresh()
        self._check_edges()

    def reveal(self, index: int, *, prefer_end: bool = False, center: bool = False) -> None:
        """Scroll so that the block of entry `index` is in view (its end when it is taller than
        the view and `prefer_end`: the exception at the bottom of a long traceback). With
        `center`, a block that is not wholly in view is brought to the middle of it."""
        if not self._starts or not (0 <= index < len(self.entries)):
            return
        height = self._view_height()
        if height <= 0:
            self._reveal = (index, prefer_end, center)
            return
        top = int(self.scroll_offset.y)
        start = self._starts[index]
        end = start + self._height(self.entries[index])
        if end - start > height:
            top = end - height if prefer_end else start
        elif center and (start < top or end > top + height):
            top = start - (height - (end - start)) // 2
        elif start < top:
            top = start
        elif end > top + height:
            top = end - height
        self._scroll(top)

    def _apply_reveal(self) -> None:
        # Not before the window is laid out at this width: the scroll would be clamped to a
        # virtual size of the old width (the top of a long traceback instead of its end).
        if self._reveal is None or self._view_height() <= 0 or self._width <= 0 or self._laid_out_for != self._width:
            return
        index, prefer_end, center = self._reveal
        self._reveal = None
        self.reveal(index, prefer_end=prefer_end, center=center)
        self._check_edges()

    def _scroll(self, y: float) -> None:
        # Forced: right after the window changed, Textual has not yet decided whether a
        # scrollbar is needed and would refuse an unforced scroll.
        self.scroll_to(y=max(0, y), animate=False, force=True)

    def _view_height(self) -> int:
        return self.scrollable_content_region.height

    def _entry_at(self, row: int) -> int:
        return max(0, bisect_right(self._starts, row) - 1)

    def _check_edges(self) -> None:
        if not self.entries or not self.display:
            return
        top, height = int(self.scroll_offset.y), max(1, self._view_height())
        if self.has_before and "before" not in self.pending_edges and top < height:
            self.pending_edges.add("before")
            self.post_message(self.NearEdge(self, "before"))
        if self.has_after and "after" not in self.pending_edges and top + 2 * height >= self._rows:
            self.pending_edges.add("after")
            self.post_message(self.NearEdge(self, "after"))

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if round(old_value) != round(new_value):
            self._check_edges()

    # -- layout and drawing ----------------------------------------------------------------------

    def on_resize(self, event: events.Resize) -> None:
        width = self.scrollable_content_region.width
        if width != self._width:
            self._width = width
            self._forget_renders()
            self._relayout()
        if self._reveal is None and self.current is not None:
            # Smaller (the fields above filled in, the terminal shrank): keep the cursor's line,
            # and an error's traceback, in view.
            self._reveal = (self.cursor, self.current.is_error, False)
        self._apply_reveal()
        self._check_edges()

    def show_local_time(self, local: bool) -> None:
        """Times in local time (else UTC): every line is drawn again."""
        if local != self.local_time:
            self.local_time = local
            self._forget_renders()
            self._refit()
            self.refresh()

    def notify_style_update(self) -> None:
        # A theme change: cached rows carry the old colours.
        super().notify_style_update()
        self._forget_renders()

    def _forget_renders(self) -> None:
        """Every block is rendered again, from its first page: the pages a reader asked for at
        the old width would otherwise all be rendered at once."""
        self._blocks.clear()
        for entry in self.entries:
            entry.pages = 1

    def _relayout(self) -> None:
        starts = []
        row = 0
        for entry in self.entries:
            starts.append(row)
            row += self._height(entry)
        self._starts, self._rows = starts, row
        self._laid_out_for = self._width
        self.virtual_size = Size(self._width, max(row, 1))

    def _refit(self) -> None:
        """Lay the window out at the width it is drawn at, then reveal what waited for it."""
        self._relayout()
        self._apply_reveal()
        self._check_edges()

    def _height(self, entry: LogEntry) -> int:
        # Most lines are one row: measured without rendering anything.
        if not entry.expanded and not entry.exception:
            return 1
        return self._block(entry).height if self._width > 0 else 1

    def _block(self, entry: LogEntry) -> LogBlock:
        block = self._blocks.get(entry.line.cursor)
        if block is None:
            by_name = semantic_styles(self, "log-view")
            block = self._blocks[entry.line.cursor] = new_block(
                entry, max(1, self._width), by_name, self.app.console, local=self.local_time
            )
            for _ in range(entry.pages):
                extend(block, self.app.console)
        return block

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.rich_style
        if width != self._width:
            # Sized before the first Resize event reached us: measure at this width from now on.
            self._width = width
            self._blocks.clear()
            self.call_after_refresh(self._refit)
        if not self.entries:
            if y != 0:
                return Strip.blank(width, base)
            style = base + self.get_component_rich_style("log-view--placeholder", partial=True)
            return Strip([Segment(self.placeholder, style)]).crop_extend(0, width, base)
        row = int(self.scroll_offset.y) + y
        if row >= self._rows:
            return Strip.blank(width, base)
        index = self._entry_at(row)
        offset = row - self._starts[index]
        strip = self._block(self.entries[index]).row(offset).crop_extend(0, width, None).apply_style(base)
        if index == self.cursor and offset == 0:
            strip = Strip(Segment.apply_style(strip, post_style=self._cursor_style()), width)
        return strip

    def _cursor_style(self) -> Style:
        style = self.get_component_rich_style("log-view--cursor")
        return Style(bgcolor=style.bgcolor)

    # -- mouse -----------------------------------------------------------------------------------

    def on_click(self, event: events.Click) -> None:
        if not self.entries:
            return
        row = int(self.scroll_offset.y) + event.y
        if row >= self._rows:
            return
        index = self._entry_at(row)
        if event.chain >= 2 and index == self.cursor:
            entry = self.entries[index]
            entry.expanded = not entry.expanded
            self.entry_changed(entry)
            self.post_message(self.Toggled(self, entry))
        else:
            self.cursor = index
            self.refresh()
