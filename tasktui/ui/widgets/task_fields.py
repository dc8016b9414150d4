"""A task's title line and its fields (the task's own, its decoded message and result), as the
task detail shows them above the logs: a few lines each, or all of a value with `full`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from rich.console import Group
from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Static

from tasktui.core.detail import TaskDetail
from tasktui.core.status import status_of
from tasktui.core.text import cut
from tasktui.core.timefmt import relative
from tasktui.render import detail as rendered
from tasktui.render import styles
from tasktui.render.text import NAME_CHARS, VALUE_CHARS, assemble
from tasktui.ui.styles import semantic_classes, semantic_css, semantic_styles, themed

TIME_LABELS = ("eta", "last change", "result expiry")
SUMMARY_CHARS = 300  # of a field's value above the logs (the count of the rest stays in view)
PREFIX = "task-fields"


def relative_times(detail: TaskDetail, now: datetime) -> tuple[str, ...]:
    """How long ago (or until) the task's times are, as the fields show them next to each."""
    return tuple(relative(moment, now) for moment in (detail.eta, detail.last_change, detail.result_expiry))


class DetailTitle(Static):
    """The status as a badge in its colour, the actor and uid, and the exception if it failed."""

    COMPONENT_CLASSES = semantic_classes(PREFIX)
    DEFAULT_CSS = semantic_css("DetailTitle", PREFIX)

    def show(self, detail: TaskDetail) -> None:
        task = detail.task
        status = status_of(task.effective_status)
        title = themed(
            assemble(
                (f" {status.label} ", styles.status(status.style)),
                "  ",
                (cut(task.display_uid, NAME_CHARS), styles.LABEL),
                ("  " + detail.result.summary(), styles.BAD) if detail.result.is_exception else "",
            ),
            semantic_styles(self, PREFIX),
        )
        title.stylize("reverse", 0, len(status.label) + 2)  # a badge in the status's colour
        self.update(title)


class TaskFields(VerticalScroll):
    """The task's fields beside its decoded message and result (one above the other when narrow)."""

    COMPONENT_CLASSES = {f"{PREFIX}--label", *semantic_classes(PREFIX)}
    DEFAULT_CSS = """
    TaskFields > .task-fields--label { text-style: bold; }
    """ + semantic_css("TaskFields", PREFIX)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._shown: tuple[TaskDetail, tuple[str, ...], bool, bool] | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="fields-row"):
            yield Static(id="fields-task")
            yield Static(id="fields-blobs")

    def show(self, detail: TaskDetail, now: datetime, *, full: bool, local: bool = False) -> None:
        """Draw the fields (`local`: times in local time, else UTC), unless nothing on them
        changed (the relative times tick every second)."""
        times = relative_times(detail, now)
        if self._shown is not None and self._shown[0] is detail and self._shown[1:] == (times, full, local):
            return
        self._shown = (detail, times, full, local)
        by_name = semantic_styles(self, PREFIX)
        limit = VALUE_CHARS if full else SUMMARY_CHARS
        self.query_one("#fields-task", Static).update(self._task_table(detail, times, by_name, limit, local))
        self.query_one("#fields-blobs", Static).update(self._blob_fields(detail, by_name, limit, local))

    def _label(self, text: str) -> Text:
        return Text(text, style=self.get_component_rich_style(f"{PREFIX}--label", partial=True))

    def _task_table(
        self, detail: TaskDetail, times: tuple[str, ...], by_name: Mapping[str, Style], limit: int, local: bool
    ) -> Table:
        table = _fields_table()
        relative_to = dict(zip(TIME_LABELS, times, strict=True))
        for label, value in rendered.task_rows(detail, limit=limit, local=local):
            value = themed(value, by_name)
            if relative_to.get(label):
                value.append(f"  ({relative_to[label]})", by_name[styles.MUTED])
            table.add_row(self._label(label), value)
            if label == "status" and detail.task.status_differs:
                stored = status_of(detail.aggregated_status).label
                note = (
                    f"authentik shows {stored} (it stores '{detail.aggregated_status}' for finished tasks whatever"
                    f" they logged); this attempt's logs say {detail.task.status.label}"
                )
                table.add_row(Text(""), themed(assemble((note, styles.WARN)), by_name))
        return table

    def _blob_fields(self, detail: TaskDetail, by_name: Mapping[str, Style], limit: int, local: bool) -> Group:
        """The decoded message and result, each under its title (with its size)."""
        message, result = detail.message, detail.result
        sections = (
            (
                rendered.blob_title("Message", message.decoded),
                rendered.message_rows(message, limit=limit, local=local),
            ),
            (rendered.blob_title("Result", result.decoded), rendered.result_rows(result, limit=limit)),
        )
        parts: list[Text | Table] = []
        for title, rows in sections:
            if parts:
                parts.append(Text(""))
            heading = self._label(title)
            heading.stylize(by_name[styles.ACCENT])
            parts.append(heading)
            table = _fields_table()
            for label, value in rows:
                table.add_row(self._label(label), themed(value, by_name))
            parts.append(table)
        return Group(*parts)


def _fields_table() -> Table:
    table = Table(box=None, show_header=False, padding=(0, 1, 0, 0), expand=True)
    table.add_column(no_wrap=True, width=14)
    table.add_column(overflow="fold", ratio=1)
    return table
