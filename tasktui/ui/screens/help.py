"""`?`: every key of the console, generated from the key registry."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tasktui.core.text import escape_control
from tasktui.ui.keys import DETAIL_KEYS, INCIDENT_KEYS, INSTALLATION_KEYS, XRAY_KEYS, available


def help_table(read_only: bool, *, detail_first: bool = False, installations: bool = False) -> Table:
    table = Table(box=None, show_header=False, padding=(0, 2, 0, 0), expand=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    group = None
    # The detail screen's own keys (its BINDINGS come from the same list); first when asked
    # from that screen.
    detail = available(read_only, DETAIL_KEYS)
    keys = [*detail, *available(read_only)] if detail_first else [*available(read_only), *detail]
    keys += available(read_only, INCIDENT_KEYS)
    keys += XRAY_KEYS
    if installations:  # bound only when the console watches several
        keys += INSTALLATION_KEYS
    for key in keys:
        if key.group != group:
            if group is not None:
                table.add_row("", "")
            group = key.group
            table.add_row(Text(group, style="underline"), "")
        table.add_row(key.shown_keys, key.description)
    if read_only:
        table.add_row("", "")
        table.add_row(Text("read-only", style="bold"), "write actions (retry) are hidden and refused")
    return table


def connection_text(dsn: str) -> Text:
    """The connection string on a line of its own, bare (the widest room it can get: a DSN
    broken across lines copies as broken text), then how to use it."""
    text = Text()
    text.append("Connection string", style="underline")
    text.append(" (the demo's database goes when the demo exits):\n")
    text.append(escape_control(dsn), style="bold")
    text.append("\nuse it with: tasktui --dsn '…', or export DATABASE_URL='…'")
    return text


class ConnectionScreen(ModalScreen[None]):
    """The palette's "Connection string": the DSN in a dialog, whole, to copy (`y` copies it
    with OSC 52)."""

    BINDINGS = [
        Binding("escape,q", "dismiss", "Close"),
        Binding("y", "copy", "Copy"),
    ]

    DEFAULT_CSS = """
    ConnectionScreen { align: center middle; }
    /* The whole width, no side borders: the DSN gets every column there is. */
    ConnectionScreen > VerticalScroll {
        width: 100%; height: auto; max-height: 90%;
        background: $panel; border-top: tall $accent; border-bottom: tall $accent; padding: 0;
    }
    ConnectionScreen #hint { color: $text-muted; }
    """

    def __init__(self, connection: str) -> None:
        super().__init__()
        self.connection = connection

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(connection_text(self.connection), id="connection-text")
            yield Static("y copies it (OSC 52; the terminal must allow it) · Esc closes", id="hint", markup=False)

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self.connection)
        # Said in the dialog: a notice would cover it.
        self.query_one("#hint", Static).update("sent to the clipboard (OSC 52) · Esc closes")


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,q,question_mark", "dismiss", "Close"),
    ]

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 100; max-width: 100%; height: 90%;
        background: $panel; border: round $accent; padding: 0 1;
    }
    """

    def __init__(
        self,
        read_only: bool,
        *,
        detail_first: bool = False,
        connection: str | None = None,
        installations: bool = False,
    ) -> None:
        super().__init__()
        self.read_only = read_only
        self.detail_first = detail_first
        self.connection = connection
        self.installations = installations

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(Text("tasktui — keys   (Esc to close)", style="bold"))
            if self.connection:
                yield Static(connection_text(self.connection), id="help-connection")
            yield Static(help_table(self.read_only, detail_first=self.detail_first, installations=self.installations))
