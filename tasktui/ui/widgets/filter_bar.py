"""The line under the header: the search box (shown while searching or while a search applies)
and what the table shows — how many rows, the sort, the filters, read-only."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Input

from tasktui.ui.widgets.quiet_static import QuietStatic

PLACEHOLDER = "search actor, uid or message id — Enter keeps, Esc clears"


class FilterBar(Horizontal):
    class SearchChanged(Message):
        """The search text changed (stripped)."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class SearchClosed(Message):
        """The box gave up focus (Enter or Esc): the table takes it back."""

    def compose(self) -> ComposeResult:
        yield Input(placeholder=PLACEHOLDER, id="search")
        yield QuietStatic(id="filter-info")

    def on_mount(self) -> None:
        self._show_search(False)

    @property
    def search(self) -> Input:
        return self.query_one("#search", Input)

    @property
    def searching(self) -> bool:
        """The box has the focus."""
        return self.screen.focused is self.search

    def _show_search(self, shown: bool) -> None:
        """Show or hide the search box. A hidden box is also disabled: Textual can hand focus to a
        hidden widget (closing a modal when nothing was focused), and every key would then be
        typed into a search the user cannot see."""
        search = self.search
        search.display = shown
        search.disabled = not shown

    def open_search(self, text: str) -> None:
        self._show_search(True)
        self.search.value = text
        # Focus after this key is fully handled: focusing at once lets a real terminal's "/"
        # land in the box as the first character of the search.
        self.call_after_refresh(self.search.focus)

    @on(Input.Changed, "#search")
    def _changed(self, event: Input.Changed) -> None:
        event.stop()
        self.post_message(self.SearchChanged(event.value.strip()))

    @on(Input.Submitted, "#search")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.close_search(keep=True)

    def close_search(self, *, keep: bool) -> None:
        """Leave the box; without `keep`, the search is cleared. A search that applies stays in view."""
        if not keep:
            self.search.value = ""
            self.post_message(self.SearchChanged(""))
        self._show_search(bool(self.search.value.strip()))
        self.post_message(self.SearchClosed())

    def clear(self) -> None:
        """No search any more, and no box."""
        self.search.value = ""
        self._show_search(False)

    def show_info(self, text: str) -> None:
        self.query_one("#filter-info", QuietStatic).show_text(text)
