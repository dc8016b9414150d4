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
            self._heal_height()
            return
        lines = (text.plain if isinstance(text, Text) else text).count("\n") + 1
        self.update(text, layout=lines != self._shown_lines)
        self._shown_text, self._shown_lines = text, lines

    def _heal_height(self) -> None:
        """A layout asked for while the screen is being laid out (at start, as the feed's first
        events come) can be lost, and the widget keeps its old height, cutting its last lines; the
        next show of the same text finds the height on screen short of the text's and asks again.
        The text's height is cached by Textual for the width, so this costs nothing when right."""
        height = self.styles.height
        if height is not None and not height.is_auto:
            return  # a fixed height: the text's own height never changes the layout
        width = self.content_region.width
        if width and self.content_region.height != self.get_content_height(self.size, self.size, width):
            self.refresh(layout=True)
