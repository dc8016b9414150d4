"""What the console was asked to be (ConsoleSettings: the command line, environment and config
file, resolved by tasktui.config) and whether it may write (WriteAccess, which a role without the
privileges turns off while the console runs)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from tasktui.core.filters import TaskFilter
from tasktui.core.timefmt import utc_now, zone_name

REDRAW_INTERVAL = 0.05  # at most 20 screen updates a second, unless the config file's fps says otherwise


@dataclass
class TimeZoneChoice:
    """Whether absolute times are shown in local time or in UTC (the default): the table, the
    detail and the header share one, which `z` flips on any of them."""

    local: bool = False

    def toggle(self) -> None:
        self.local = not self.local

    @property
    def name(self) -> str:
        """'UTC', or the local zone's ('CET')."""
        return zone_name(self.local)

    def describe(self) -> str:
        return f"times in local time ({self.name})" if self.local else "times in UTC"


@dataclass(frozen=True)
class ConsoleSettings:
    read_only: bool = False  # --read-only
    label: str | None = None  # how the header names the database (default: user@host:port/db)
    # How to reach this database from another terminal (the demo's DSN): in help and the palette.
    connection: str | None = None
    redraw_interval: float = REDRAW_INTERVAL  # 1 / the config file's console.fps
    theme: str | None = None  # a Textual theme (--theme, console.theme)
    keymap: Mapping[str, str] = field(default_factory=dict)  # binding id -> keys (the config file's [keys])
    task_filter: TaskFilter = field(default_factory=TaskFilter)  # what the table shows first (console.filter)
    # UTC or local time (console.time in the config file, then `z`): one for every screen.
    times: TimeZoneChoice = field(default_factory=TimeZoneChoice)
    # How many installations the console watches (tasktui --dsn A --dsn B): help lists the keys
    # that switch between them when there are several.
    installations: int = 1
    # Injected so that snapshot tests can freeze every relative time on screen.
    clock: Callable[[], datetime] = field(default=utc_now)


@dataclass
class WriteAccess:
    """Shared by the screens: the main screen learns at start whether this role may retry; a
    screen pushed before it knew sees the answer when the user acts."""

    read_only: bool
    reason: str = ""

    @classmethod
    def from_settings(cls, settings: ConsoleSettings) -> WriteAccess:
        return cls(settings.read_only, "--read-only" if settings.read_only else "")

    def revoke(self, reason: str) -> None:
        self.read_only, self.reason = True, reason
