"""The one registry of key bindings: the main screen's (KEY_ACTIONS), the task detail's
(DETAIL_KEYS) and the incident views' (INCIDENT_KEYS). It feeds each screen's BINDINGS, the
footers, the help screen, the detail's help line and the command palette, and read-only mode
removes every write action from all of them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from textual.binding import Binding, BindingType


@dataclass(frozen=True)
class KeyAction:
    id: str
    keys: str  # Textual key names, comma-separated
    action: str
    description: str
    group: str
    footer: bool = False  # shown in the footer
    write: bool = False  # changes the database: hidden and refused in read-only mode
    display: str = ""  # how help shows the keys (defaults to `keys`)
    short: str = ""  # the footer's label (defaults to `description`)

    @property
    def shown_keys(self) -> str:
        return self.display or self.keys.replace(",", " / ")


KEY_ACTIONS: tuple[KeyAction, ...] = (
    # Moving around
    KeyAction("cursor-down", "down,j", "cursor_down", "Next task", "Navigate", display="↓ / j"),
    KeyAction("cursor-up", "up,k", "cursor_up", "Previous task", "Navigate", display="↑ / k"),
    KeyAction("page-down", "pagedown,ctrl+d", "page_down", "Page down", "Navigate", display="PgDn / ctrl+d"),
    KeyAction("page-up", "pageup,ctrl+u", "page_up", "Page up", "Navigate", display="PgUp / ctrl+u"),
    KeyAction("first", "home,g", "cursor_first", "First task", "Navigate", display="Home / g"),
    KeyAction("last", "end,G", "cursor_last", "Last task", "Navigate", display="End / G"),
    KeyAction("open", "enter", "open_task", "Task details and logs", "Navigate", footer=True, short="Details"),
    # What is shown
    KeyAction(
        "search", "slash", "search", "Search actor, uid or message id", "View", footer=True, display="/", short="Search"
    ),
    KeyAction(
        "facets",
        "f",
        "facets",
        "Filter by status, actor, queue, tenant, related object",
        "View",
        footer=True,
        short="Filter",
    ),
    KeyAction(
        "hide-successful",
        "h",
        "toggle_successful",
        "Hide / show successful tasks",
        "View",
        short="Successful",
    ),
    KeyAction("clear-filters", "c", "clear_filters", "Clear search and filters", "View"),
    KeyAction("sort", "o", "cycle_sort", "Sort by the next column", "View", short="Sort"),
    KeyAction("sort-order", "i", "invert_sort", "Invert the sort order", "View"),
    KeyAction("pause", "space", "toggle_pause", "Pause / resume live updates", "View", footer=True, short="Pause"),
    KeyAction("older", "m", "load_older", "Load 1,000 older finished tasks", "View"),
    # The panel scrolls only once focused: help says how (problem workers are listed first).
    KeyAction(
        "workers",
        "w",
        "toggle_workers",
        "Show / hide the worker panel (Tab focuses it, then ↑ ↓ PgUp PgDn scroll it)",
        "View",
        footer=True,
        short="Workers",
    ),
    KeyAction("legend", "l", "toggle_legend", "Show / hide the status legend", "View"),
    KeyAction("time-zone", "z", "toggle_time_zone", "Times in UTC / in local time", "View"),
    KeyAction("health", "H", "feed_health", "Feed health: drift, re-checks, reconnects, ignored notifications", "View"),
    # The incident questions (tasktui.ui.screens.incidents): one view each, refreshed on a timer.
    KeyAction("errors-view", "E", "errors_view", "What is failing: errors grouped by signature and actor", "Incidents"),
    KeyAction("queues-view", "D", "queues_view", "Is it draining? Per queue: waiting, rates, forecast", "Incidents"),
    KeyAction("schedules-view", "S", "schedules_view", "Schedules: next run, latest task, blocked ones", "Incidents"),
    KeyAction(
        "xray", "W", "xray_task", "X-ray: the worker and sessions holding this task's lock", "View", short="X-ray"
    ),
    # Acting
    KeyAction("copy-id", "y", "copy_message_id", "Copy the message id (OSC 52)", "Act"),
    KeyAction("retry", "R", "retry_task", "Retry this rejected task", "Act", footer=True, write=True, short="Retry"),
    KeyAction("bulk-retry", "B", "bulk_retry", "Retry every rejected task matching the filter", "Act", write=True),
    KeyAction("export-view", "x", "export_view", "Export the tasks shown to a CSV or JSON file", "Act"),
    KeyAction("export-bundle", "X", "export_bundle", "Incident bundle of this task: a Markdown file", "Act"),
    # The app
    KeyAction("help", "question_mark", "help", "Help: every key", "App", footer=True, display="?", short="Help"),
    KeyAction("palette", "ctrl+p", "command_palette", "Command palette", "App"),
    KeyAction("quit", "q", "quit", "Quit", "App", footer=True),
)

ACTIONS_BY_NAME = {k.action: k for k in KEY_ACTIONS}

DETAIL_GROUP = "Task detail"

# The task detail's keys: its BINDINGS, footer and help line, and the help screen's "Task detail"
# group, are all generated from this list. Most useful first: the
# help line is cut at the terminal's width.
DETAIL_KEYS: tuple[KeyAction, ...] = (
    KeyAction(
        "detail-attempts",
        "p",
        "toggle_attempts",
        "Previous attempts' logs / back to the current attempt",
        DETAIL_GROUP,
        footer=True,
        short="Previous attempts",
    ),
    KeyAction(
        "detail-expand",
        "enter,space",
        "toggle_line",
        "Show / hide the selected line's attributes and full text",
        DETAIL_GROUP,
        footer=True,
        short="Attributes",
    ),
    KeyAction("detail-last", "end,G", "last_page", "Last page: the end of the log", DETAIL_GROUP, short="Last page"),
    KeyAction("detail-first", "home,g", "first_page", "First page: the start of the log", DETAIL_GROUP, short="First"),
    KeyAction(
        "detail-fields",
        "i",
        "toggle_fields",
        "All fields / back to the logs",
        DETAIL_GROUP,
        footer=True,
        short="Fields",
    ),
    KeyAction(
        "detail-copy-id",
        "y",
        "copy_message_id",
        "Copy the message id (OSC 52)",
        DETAIL_GROUP,
        footer=True,
        short="Copy id",
    ),
    KeyAction(
        "detail-next-problem",
        "e",
        "next_problem",
        "Next error or warning line after the cursor",
        DETAIL_GROUP,
        short="Next problem",
    ),
    KeyAction(
        "detail-previous-problem",
        "E",
        "previous_problem",
        "Previous error or warning line before the cursor",
        DETAIL_GROUP,
        short="Previous problem",
    ),
    KeyAction("detail-reload", "r", "reload", "Reload the task and its logs", DETAIL_GROUP, short="Reload"),
    KeyAction(
        "detail-time-zone", "z", "toggle_time_zone", "Times in UTC / in local time", DETAIL_GROUP, short="UTC/local"
    ),
    KeyAction(
        "detail-xray",
        "W",
        "xray_task",
        "X-ray: the worker and sessions holding this task's lock",
        DETAIL_GROUP,
        short="X-ray",
    ),
    KeyAction(
        "detail-retry",
        "R",
        "retry_task",
        "Retry this rejected task",
        DETAIL_GROUP,
        footer=True,
        write=True,
        short="Retry",
    ),
    KeyAction("detail-help", "question_mark", "help", "Help: every key", DETAIL_GROUP, display="?", short="Help"),
    KeyAction(
        "detail-back",
        "escape,q,backspace",
        "back",
        "Back to the task table",
        DETAIL_GROUP,
        footer=True,
        short="Back",
    ),
    KeyAction(
        "detail-more",
        "m",
        "more_of_line",
        "More of a long line: its next page",
        DETAIL_GROUP,
        short="More of the line",
    ),
    KeyAction("detail-down", "down,j", "line_down", "Next log line", DETAIL_GROUP, display="↓ / j"),
    KeyAction("detail-up", "up,k", "line_up", "Previous log line", DETAIL_GROUP, display="↑ / k"),
    KeyAction("detail-page-down", "pagedown,ctrl+d", "page_down", "Page down", DETAIL_GROUP, display="PgDn / ctrl+d"),
    KeyAction("detail-page-up", "pageup,ctrl+u", "page_up", "Page up", DETAIL_GROUP, display="PgUp / ctrl+u"),
)

XRAY_GROUP = "X-ray"

# The x-ray screen's keys (its BINDINGS, footer and the help screen's "X-ray" group).
XRAY_KEYS: tuple[KeyAction, ...] = (
    KeyAction("xray-refresh", "r", "refresh", "Refresh the x-ray now", XRAY_GROUP, footer=True, short="Refresh"),
    KeyAction("xray-help", "question_mark", "help", "Help: every key", XRAY_GROUP, display="?", short="Help"),
    KeyAction(
        "xray-back",
        "escape,q,backspace",
        "back",
        "Back to where the x-ray was opened",
        XRAY_GROUP,
        footer=True,
        short="Back",
    ),
)

INSTALLATIONS_GROUP = "Installations"

# Shown and bound only when the console watches several installations (tasktui --dsn A --dsn B):
# the App's own keys, so that they switch from any screen of any installation.
INSTALLATION_KEYS: tuple[KeyAction, ...] = (
    KeyAction(
        "installation-next",
        "right_square_bracket",
        "next_installation",
        "Next installation",
        INSTALLATIONS_GROUP,
        footer=True,
        display="]",
        short="Switch",
    ),
    KeyAction(
        "installation-previous",
        "left_square_bracket",
        "previous_installation",
        "Previous installation",
        INSTALLATIONS_GROUP,
        display="[",
    ),
    # One entry for help and the keymap's id; installation_bindings binds each digit.
    KeyAction(
        "installation-number",
        ",".join(str(n) for n in range(1, 10)),
        "switch_installation",
        "Switch to installation N (as numbered in the summary rows)",
        INSTALLATIONS_GROUP,
        display="1 … 9",
    ),
)


INCIDENT_GROUP = "Incident views (E, D, S)"

# The incident views' keys (each view binds those it has: `incident_keys`).
INCIDENT_KEYS: tuple[KeyAction, ...] = (
    KeyAction(
        "incident-open",
        "enter",
        "open_task",
        "Open the task: an error group's newest, a schedule's blocking or latest",
        INCIDENT_GROUP,
        footer=True,
        short="Task",
    ),
    KeyAction(
        "incident-retry-group",
        "R",
        "retry_group",
        "Retry the error group's rejected tasks (preview, confirm, throttled, journaled)",
        INCIDENT_GROUP,
        footer=True,
        write=True,
        short="Retry group",
    ),
    KeyAction(
        "incident-reload",
        "r",
        "reload",
        "Reload now (each view also reloads on a timer)",
        INCIDENT_GROUP,
        footer=True,
        short="Reload",
    ),
    KeyAction("incident-down", "down,j", "cursor_down", "Next row", INCIDENT_GROUP, display="↓ / j"),
    KeyAction("incident-up", "up,k", "cursor_up", "Previous row", INCIDENT_GROUP, display="↑ / k"),
    KeyAction("incident-help", "question_mark", "help", "Help: every key", INCIDENT_GROUP, display="?", short="Help"),
    KeyAction("incident-back", "escape,q", "back", "Back to the task table", INCIDENT_GROUP, footer=True, short="Back"),
)


def incident_keys(*actions: str) -> tuple[KeyAction, ...]:
    """The incident views' keys but the named actions' (`retry_group` is the errors view's)."""
    return tuple(k for k in INCIDENT_KEYS if k.action not in actions)


def bindings(actions: Iterable[KeyAction] = KEY_ACTIONS) -> list[BindingType]:
    """Textual bindings for the main screen's actions, or for a screen's own list of them."""
    return [
        Binding(k.keys, k.action, k.short or k.description, show=k.footer, id=k.id, key_display=k.display or None)
        for k in actions
    ]


def installation_bindings() -> list[BindingType]:
    """The App's bindings for switching installations: each digit switches to its own."""
    result = bindings(k for k in INSTALLATION_KEYS if k.action != "switch_installation")
    number_key = next(k for k in INSTALLATION_KEYS if k.action == "switch_installation")
    for number in number_key.keys.split(","):
        result.append(Binding(number, f"switch_installation({number})", f"Installation {number}", show=False))
    return result


def available(read_only: bool, actions: Iterable[KeyAction] = KEY_ACTIONS) -> list[KeyAction]:
    """The actions a user may take in this mode (what help and the palette list)."""
    return [k for k in actions if not (read_only and k.write)]


def forbidden(action: str, read_only: bool, actions: Iterable[KeyAction] = KEY_ACTIONS) -> bool:
    """A write action in read-only mode: hidden from the footer and refused."""
    return read_only and any(k.action == action and k.write for k in actions)
