"""The task detail's log views filled from the console service, a page at a time: the last page
(where a task's outcome is) or the first, the page past either edge of a view's window, the lines
written since the last one shown, the window around the next error or warning line, and a line's
attributes. Nothing here loads a whole log: pages follow keyset cursors (tasktui.core.logs).

Every answer is checked against the view's generation: a view reset meanwhile (a jump, a retry
that moved the lines) keeps what it shows now. The screen runs one of these at a time (its lock)
and says what failed; `shown` is called whenever what a view holds changed (the attempt bar).
"""

from __future__ import annotations

from collections.abc import Callable

from tasktui.core.console import ConsoleService
from tasktui.core.logs import LogLine, wants_exception
from tasktui.errors import UserFacingError
from tasktui.ui.widgets.log_blocks import LogEntry
from tasktui.ui.widgets.log_view import PAGE, Edge, LogView

LIVE_PAGES = 5  # a live refresh appends at most this many pages; beyond, End shows the rest
EXCEPTIONS_PER_PAGE = 20  # error lines with large attributes whose exception is fetched per page


class LogPager:
    def __init__(self, service: ConsoleService, message_id: str, shown: Callable[[], None]) -> None:
        self.service = service
        self.message_id = message_id
        self.shown = shown

    async def page(
        self,
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
        page = await self.service.log_page(
            self.message_id, previous=view.previous, cursor=cursor, backward=backward, limit=PAGE
        )
        return await self.entries(page.lines), page.has_more

    async def entries(self, lines: list[LogLine]) -> list[LogEntry]:
        entries = [LogEntry(line, exception=line.exception) for line in lines]
        # Error lines whose attributes were too large to come with the page: fetch just their
        # exception (a bounded number per page, nearest the end), so their traceback shows too.
        wanted = [e for e in entries if not e.line.attributes_inline and wants_exception(e.line)]
        for entry in wanted[-EXCEPTIONS_PER_PAGE:]:
            entry.exception = await self.service.exception_of(entry.line)
        return entries

    async def tail(self, view: LogView) -> None:
        generation = view.generation
        entries, has_more = await self.page(view)
        if view.generation != generation:
            return
        view.placeholder = "no previous attempts" if view.previous else "no log lines in this attempt yet"
        view.reset(entries, has_before=has_more, has_after=False, select="end")
        self.shown()

    async def head(self, view: LogView) -> None:
        generation = view.generation
        entries, has_more = await self.page(view, head=True)
        if view.generation != generation:
            return
        view.reset(entries, has_before=False, has_after=has_more, select="start")
        self.shown()

    async def edge(self, view: LogView, edge: Edge) -> None:
        generation = view.generation
        try:
            if not view.entries:
                return
            if edge == "before":
                entries, has_more = await self.page(view, before=view.entries[0])
                if view.generation == generation:
                    view.prepend(entries, has_more=has_more)
            else:
                entries, has_more = await self.page(view, after=view.entries[-1])
                if view.generation == generation:
                    view.append(entries, has_more=has_more)
        finally:
            if view.generation == generation:
                view.pending_edges.discard(edge)
            self.shown()

    async def follow(self, view: LogView) -> None:
        """The lines written after the last one shown, up to LIVE_PAGES pages (for a view showing
        its tail: one where the user reads older lines only learns that more arrived)."""
        generation = view.generation
        for _ in range(LIVE_PAGES):
            last = view.entries[-1] if view.entries else None
            entries, has_more = await self.page(view, after=last, head=last is None)
            if view.generation != generation:
                break
            view.append(entries, has_more=has_more, follow=True)
            self.shown()
            if not has_more:
                break

    async def jump(self, view: LogView, backward: bool) -> str | None:
        """The next error or warning line past the window's edge, and the pages around it. The
        window is searched again first: pages or live lines may have arrived while this waited
        its turn. Past the last one (the first, with E) it goes round from the other end, as vim's
        search does: the detail opens on the last line, so the first e lands on the attempt's
        first error rather than saying there is none. Returns what to tell the user, if anything."""
        index = view.problem_index(backward=backward)
        if index is not None:
            view.jump(index)
            return None
        # The window is contiguous and was searched from the cursor to its edge: ask past it.
        edge = (view.entries[0] if backward else view.entries[-1]) if view.entries else None
        line = await self.service.problem_line(
            self.message_id, previous=view.previous, cursor=edge.line.cursor if edge else None, backward=backward
        )
        notice = None
        if line is None:
            line = await self.service.problem_line(
                self.message_id, previous=view.previous, cursor=None, backward=backward
            )
            if line is None:
                return "no error or warning in this attempt's log"
            here = view.entries[view.cursor] if 0 <= view.cursor < len(view.entries) else None
            if here is not None and here.line.cursor == line.cursor:
                return "this is the only error or warning in this attempt's log"
            where = "the last, from the end" if backward else "the first, from the start"
            notice = f"no {'earlier' if backward else 'later'} error or warning: {where}"
        window = await self.service.log_window(self.message_id, line, previous=view.previous, limit=PAGE)
        view.reset(
            await self.entries(window.lines),
            has_before=window.has_before,
            has_after=window.has_after,
            select=window.index,
        )
        self.shown()
        return notice

    async def attributes(self, view: LogView, entry: LogEntry) -> None:
        try:
            # Up to logs.ATTRIBUTES_ON_DEMAND characters: the view renders them a page at a time.
            value = await self.service.attributes(entry.line)
        except UserFacingError as exc:  # shown on the line; the screen says it in one line too
            entry.attributes_error = str(exc)
            view.entry_changed(entry)
            raise
        entry.attributes, entry.attributes_error = value, ""
        if entry.exception is None and value.complete and isinstance(value.value, dict):
            entry.exception = value.value.get("exception")
        view.entry_changed(entry)
