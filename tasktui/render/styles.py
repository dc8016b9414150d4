"""The semantic style names of styled output, and the CLI's colours for them.

A span says what it is (`status.error`, `level.warning`, `muted`), never how it looks: the CLI
maps the names through CLI_THEME, the console through its Textual theme (tasktui.ui.styles), so a
theme switch recolours statuses and log levels like everything else and NO_COLOR-style themes
need no special case. Every name used anywhere is listed in NAMES (a test checks both maps cover it).
"""

from __future__ import annotations

from rich.theme import Theme

MUTED = "muted"  # what matters less: times, sizes, hints
LABEL = "label"  # a field's label, a heading, a name to find
ACCENT = "accent"  # a logger, a section title
ID = "id"  # an identifier to copy (an error group's id)
GOOD = "good"  # all is well
WARN = "warn"  # worth a look
BAD = "bad"  # needs action now
FAILURE = "failure"  # the text of a failure: an exception, a traceback, why something failed
EMPHASIS = "emphasis"  # the event of an error line


def status(style: str) -> str:
    """By a status's style class (tasktui.core.status.Status.style): queued | active | success |
    warning | error | unknown."""
    return f"status.{style}"


def level(name: str) -> str:
    """By a log level (tasktui.core.status.LEVEL_SEVERITY's keys); "" for levels shown plain."""
    return LEVELS.get(name.lower(), "")


def liveness(name: str) -> str:
    """By a worker's liveness: alive | stale | dead."""
    return f"liveness.{name}"


def severity(name: str) -> str:
    """By an alarm's severity: error | warning."""
    return f"severity.{name}"


LEVELS = {
    "debug": "level.debug",
    "warning": "level.warning",
    "warn": "level.warning",
    "error": "level.error",
    "critical": "level.error",
    "exception": "level.error",
    "fatal": "level.error",
}

# The CLI's colours (a terminal's 16 colours: they read on dark and light backgrounds alike).
CLI_THEME = Theme(
    {
        MUTED: "dim",
        LABEL: "bold",
        ACCENT: "cyan",
        ID: "bold cyan",
        GOOD: "green",
        WARN: "yellow",
        BAD: "bold red",
        FAILURE: "red",
        EMPHASIS: "bold",
        status("error"): "bold red",
        status("warning"): "yellow",
        status("active"): "cyan",
        status("queued"): "blue",
        status("success"): "green",
        status("unknown"): "magenta",  # a state or status tasktui does not know: look at it, it is new
        "level.debug": "dim",
        "level.warning": "yellow",
        "level.error": "bold red",
        liveness("alive"): "green",
        liveness("stale"): "yellow",
        liveness("dead"): "dim",
        severity("error"): "bold red",
        severity("warning"): "yellow",
    },
    inherit=False,
)

NAMES: frozenset[str] = frozenset(CLI_THEME.styles)
