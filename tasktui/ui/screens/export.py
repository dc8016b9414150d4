"""The export dialog: where to write (a folder, where a new file is named, or a file; the current
folder by default) and, for the tasks shown, CSV or JSON. The screen that opens it says what is
written (`write`); the dialog runs it and stays open on a problem — a file that exists, a folder
that cannot be written — saying it in one line, so that the person fixes the path and tries again.
It closes with the path written, for the screen to announce."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, RadioButton, RadioSet, Static

from tasktui.core.text import cut
from tasktui.errors import UserFacingError
from tasktui.ui.failures import ReportsWorkerFailures

PATH_CHARS = 4_096  # of a path typed into the dialog (PATH_MAX on Linux)
TEXT_CHARS = 1_000  # of what the dialog says it writes (it names a task: database text)


@dataclass(frozen=True)
class ExportRequest:
    where: str  # a folder or a file; "" for the current folder
    file_format: str  # "csv", "json", or "md" for a bundle


Writer = Callable[[ExportRequest], Awaitable[Path]]


class ExportDialog(ReportsWorkerFailures, ModalScreen[Path | None]):
    """Ask where (and in which format), write, and close with the path (None: cancelled)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="export-cancel")]

    DEFAULT_CSS = """
    ExportDialog { align: center middle; }
    ExportDialog > Vertical {
        width: 90%; max-width: 100; height: auto; background: $panel; border: thick $accent; padding: 1 2;
    }
    ExportDialog .title { text-style: bold; color: $text-accent; }
    ExportDialog #export-what { color: $text-muted; margin-bottom: 1; }
    ExportDialog RadioSet { layout: horizontal; height: auto; margin-bottom: 1; }
    ExportDialog #export-where { margin-bottom: 0; }
    ExportDialog #export-problem { color: $text-error; text-style: bold; height: auto; }
    ExportDialog Horizontal { height: auto; margin-top: 1; }
    ExportDialog Button { margin-right: 2; }
    """

    def __init__(
        self, title: str, what: str, write: Writer, *, formats: tuple[str, ...] = (), folder: Path | None = None
    ) -> None:
        super().__init__()
        self.title_text = title
        self.what = what
        self.write = write
        self.formats = formats
        self.folder = folder or Path.cwd()
        self.writing = False

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(cut(self.title_text, TEXT_CHARS), classes="title", markup=False)
            yield Static(cut(self.what, TEXT_CHARS, multiline=True), id="export-what", markup=False)
            if self.formats:
                with RadioSet(id="export-format"):
                    for index, name in enumerate(self.formats):
                        yield RadioButton(name.upper(), value=index == 0, name=name)
            yield Label("Folder (a new file is named in it) or file:", markup=False)
            yield Input(str(self.folder), id="export-where", max_length=PATH_CHARS, select_on_focus=False)
            yield Static("", id="export-problem", markup=False)
            with Horizontal():
                yield Button("Write (Enter)", id="export-write", variant="primary")
                yield Button("Cancel (Esc)", id="export-cancel")

    def on_mount(self) -> None:
        self.query_one("#export-where", Input).focus()

    @property
    def file_format(self) -> str:
        if not self.formats:
            return "md"
        pressed = self.query_one(RadioSet).pressed_button
        return (pressed.name if pressed is not None else None) or self.formats[0]

    @on(Input.Submitted, "#export-where")
    @on(Button.Pressed, "#export-write")
    def action_write(self) -> None:
        if self.writing:
            return
        self.writing = True
        self.query_one("#export-problem", Static).update("writing…")
        self.run_write(ExportRequest(self.query_one("#export-where", Input).value.strip(), self.file_format))

    @on(Button.Pressed, "#export-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)  # a write under way goes with the dialog: a file is written whole or not at all

    @work(group="export", exclusive=True, exit_on_error=False, name="export", description="write the export")
    async def run_write(self, request: ExportRequest) -> None:
        try:
            path = await self.write(request)
        except UserFacingError as exc:
            # Said here, not in a notice: the dialog stays for another path.
            self.writing = False
            self.query_one("#export-problem", Static).update(cut(str(exc), PATH_CHARS, multiline=True))
            return
        self.dismiss(path)
