"""A Static that sends nothing to the terminal when it is given what it already shows.

The header, the column titles and the filter line are set on every redraw (up to 20 times a
second) and rarely change. Static.update repaints, and by default lays the whole screen out again,
every time; this one compares first, and lays out only when the number of lines changed (its
height is the only thing about it that could move other widgets).
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class QuietStatic(Static):
    _shown_text: Text | str | None = None
    _shown_lines = 0

    def show_text(self, text: Text | str) -> None:
        if text == self._shown_text:
            return
        lines = (text.plain if isinstance(text, Text) else text).count("\n") + 1
        self.update(text, layout=lines != self._shown_lines)
        self._shown_text, self._shown_lines = text, lines
