"""One line that says what the row colours mean (authentik's labels)."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tasktui.ui.widgets.task_table import TaskRows

LEGEND = (
    ("queued", "Waiting to run"),
    ("active", "Running"),  # also Consumed, Pre-/Post-processing: authentik's "Running" group
    ("success", "Successful"),
    ("warning", "Warning"),
    ("error", "Error"),
    ("unknown", "Unknown"),
)


class Legend(Static):
    DEFAULT_CSS = """
    Legend { height: auto; max-height: 2; background: $panel; padding: 0 1; }
    """

    def on_mount(self) -> None:
        self.call_after_refresh(self.draw)

    def draw(self) -> None:
        rows = self.screen.query_one(TaskRows)
        line = Text()
        for style_name, label in LEGEND:
            line.append("■ ", rows.get_component_rich_style(f"task-table--{style_name}"))
            line.append(label + " ")
        line.append("* worse in logs")
        self.update(line)
