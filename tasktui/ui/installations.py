"""The installations a console watches (`tasktui --dsn A --dsn B`, `--profile A --profile B`): each
with its own console service — feed, health, sessions — its settings (label, read-only), write
access and main screen, and the summary row the console shows for it
(tasktui.core.incidents.summary, refreshed by the App on a timer).

One installation going down touches nothing of another's: each service reconnects on its own,
each summary is read by a worker of its own, and a row says why its installation is unreadable.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tasktui.core.console import ConsoleService
from tasktui.core.incidents.summary import InstallationSummary
from tasktui.ui.settings import ConsoleSettings, WriteAccess


@dataclass
class Installation:
    service: ConsoleService
    settings: ConsoleSettings
    number: int  # 1, 2, …: its key and its mode's name
    access: WriteAccess = field(init=False)
    summary: InstallationSummary | None = None  # the last one read
    summary_error: str = ""  # why the last read failed ("" when it did not)

    def __post_init__(self) -> None:
        self.access = WriteAccess.from_settings(self.settings)

    @property
    def name(self) -> str:
        return self.settings.label or f"installation {self.number}"

    @property
    def mode(self) -> str:
        """Its Textual mode: every installation has a screen stack of its own."""
        return f"installation-{self.number}"
