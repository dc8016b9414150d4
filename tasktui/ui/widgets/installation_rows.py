"""The summary rows of a console that watches several installations, one line each, above the
header of every installation's main screen: its number (the key that switches to it), its name,
its feed's state and its summary — workers alive, queued, running, errors in the last hour — or
why it cannot be read. The screen's own installation is marked and bold.

Redrawn once a second from what the installations hold (the App refreshes their summaries), and
only when the text changed.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

from tasktui.core.events import FeedMode
from tasktui.core.incidents.summary import COUNT_CAP, InstallationSummary
from tasktui.core.text import cut
from tasktui.render import styles
from tasktui.render.text import assemble
from tasktui.ui.installations import Installation
from tasktui.ui.styles import semantic_classes, semantic_css, semantic_styles, themed
from tasktui.ui.widgets.quiet_static import QuietStatic

NAME_CHARS = 20  # of a name: the summary's first numbers still fit at 80 columns

_MODE_STYLE = {
    FeedMode.LIVE: styles.GOOD,
    FeedMode.POLLING: styles.WARN,
    FeedMode.CONNECTING: styles.MUTED,
    FeedMode.RECONNECTING: styles.BAD,
}


def _count(value: int) -> str:
    return f"{value:,}+" if value >= COUNT_CAP else f"{value:,}"


def _summary(summary: InstallationSummary) -> Text:
    # What the brief asks first (alive workers, queued, errors) fits 80 columns; the rest follows.
    delayed = f" · delayed {_count(summary.delayed)}" if summary.delayed else ""
    return assemble(
        "workers ",
        (f"{summary.workers_alive}/{summary.workers}", styles.GOOD if summary.workers_alive else styles.BAD),
        f" · queued {_count(summary.queued)} · errors 1h ",
        (_count(summary.errors_last_hour), styles.FAILURE if summary.errors_last_hour else ""),
        f" · running {_count(summary.running)}{delayed}",
    )


def installation_line(installation: Installation, own: bool, name_width: int, mode_width: int) -> Text:
    mode = installation.service.mode
    line = assemble(
        ("▶ " if own else "  "),
        (f"{installation.number} ", styles.LABEL),
        (cut(installation.name, NAME_CHARS).ljust(name_width), styles.LABEL if own else ""),
        " ",
        (mode.value.ljust(mode_width), _MODE_STYLE.get(mode, "")),
        " ",
    )
    if installation.summary_error:
        line.append_text(assemble(("unreadable: ", styles.BAD), (installation.summary_error, styles.FAILURE)))
    elif installation.summary is not None:
        line.append_text(_summary(installation.summary))
    else:
        line.append("reading…", styles.MUTED)
    return line


class InstallationRows(QuietStatic):
    """One summary row per installation (see the module docstring)."""

    COMPONENT_CLASSES = semantic_classes("installation-rows")
    DEFAULT_CSS = """
    /* A row is one line: what does not fit ends in an ellipsis (the first numbers fit 80 columns). */
    InstallationRows { height: auto; background: $boost; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    """ + semantic_css("InstallationRows", "installation-rows")

    def __init__(self, installations: Sequence[Installation], own: Installation, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.installations = installations
        self.own = own

    def on_mount(self) -> None:
        self.redraw()
        self.set_interval(1.0, self.redraw)

    def redraw(self) -> None:
        by_name = semantic_styles(self, "installation-rows")
        # Columns as wide as what they hold now, so that the numbers line up and come early.
        name_width = max(len(cut(i.name, NAME_CHARS)) for i in self.installations)
        mode_width = max(len(i.service.mode.value) for i in self.installations)
        lines = [
            themed(installation_line(i, i is self.own, name_width, mode_width), by_name) for i in self.installations
        ]
        self.show_text(Text("\n").join(lines))
