"""What the row colours and symbols mean, in authentik's labels (tasktui.core.status)."""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.widgets import Static

from tasktui.core.status import STATUSES, SYMBOLS, UNKNOWN
from tasktui.render.text import flow
from tasktui.ui.widgets.task_table import TaskRows

# The table's colour classes, in the order a task goes through them.
STYLE_ORDER = ("queued", "active", "success", "warning", "error", "unknown")
WORSE_IN_LOGS = "* worse in logs"


def legend_entries() -> list[tuple[str, str]]:
    """(style class, text) per colour. A colour several statuses share names the first and lists
    the others — Consumed, Pre- and Post-processing are drawn like Running."""
    labels: dict[str, list[str]] = {style: [] for style in STYLE_ORDER}
    for status in (*STATUSES.values(), UNKNOWN):
        if status.label not in labels[status.style]:
            labels[status.style].append(status.label)
    entries = []
    for style in STYLE_ORDER:
        first, *others = labels[style]
        entries.append((style, f"{first} (also {', '.join(others)})" if others else first))
    return entries


class Legend(Static):
    DEFAULT_CSS = """
    Legend { height: auto; max-height: 3; background: $panel; padding: 0 1; }
    """

    def on_mount(self) -> None:
        self.call_after_refresh(self.draw)

    def on_resize(self, event: events.Resize) -> None:
        self.draw()

    def draw(self) -> None:
        rows = self.screen.query_one(TaskRows)
        pieces = [
            Text.assemble((f"{SYMBOLS[style]} ", rows.get_component_rich_style(f"task-table--{style}")), label)
            for style, label in legend_entries()
        ]
        pieces.append(Text(WORSE_IN_LOGS))
        width = self.content_region.width or max(20, self.app.size.width - 2)
        # Broken between entries, never inside one (a note split over two lines reads as two).
        self.update(Text("\n").join(flow(pieces, width)))
