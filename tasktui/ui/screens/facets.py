"""`f`: filter by status, queue, tenant and related object (k9s-style facets)."""

from __future__ import annotations

from rich.segment import Segment
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.strip import Strip
from textual.widgets import Checkbox, Input, Label, SelectionList
from textual.widgets.option_list import OptionDoesNotExist

from tasktui.core.filters import TaskFilter
from tasktui.core.status import STATUSES

SELECTED_MARK = "✓"


class MarkedSelectionList(SelectionList[str]):
    """A SelectionList whose toggle shows a tick when selected and nothing when not: Textual's
    draws the same "X" in both states and tells them apart by colour only, which a monochrome
    terminal, NO_COLOR or a colour-blind reader loses. (The toggle's glyphs are Checkbox's: both
    come from Textual's ToggleButton.)"""

    def render_line(self, y: int) -> Strip:
        strip = super().render_line(y)
        try:
            selection = self.get_option_at_index(int(self.scroll_offset.y) + y)
        except OptionDoesNotExist:
            return strip
        segments = list(strip)
        if len(segments) < 2 or segments[1].text != Checkbox.BUTTON_INNER:
            return strip  # not a line with a toggle (Textual drew something else)
        _, style, control = segments[1]
        mark = SELECTED_MARK if selection.value in self.selected else " "
        segments[1] = Segment(mark, style, control)
        return Strip(segments, strip.cell_length)


class FacetScreen(ModalScreen[TaskFilter | None]):
    """Pick facets; ctrl+s applies, Esc cancels."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "apply", "Apply"),
    ]

    DEFAULT_CSS = """
    FacetScreen { align: center middle; }
    FacetScreen > Vertical {
        width: 96%; max-width: 120; height: auto; max-height: 90%;
        background: $panel; border: round $accent; padding: 0 1;
    }
    FacetScreen Horizontal { height: auto; max-height: 16; }
    FacetScreen SelectionList { width: 1fr; height: auto; max-height: 14; }
    FacetScreen Label { color: $text-muted; }
    """

    def __init__(self, current: TaskFilter, queues: list[str], tenants: list[str]) -> None:
        super().__init__()
        self.current = current
        self.queues = queues
        self.tenants = tenants

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Filter — Space toggles · Tab moves · ctrl+s (or Enter in the text box) applies · Esc cancels")
            with Horizontal():
                yield MarkedSelectionList(
                    *[
                        (f"{s.label} ({key})", key, key in self.current.statuses)
                        for key, s in sorted(STATUSES.items(), key=lambda kv: kv[1].order)
                    ],
                    id="facet-status",
                )
                yield MarkedSelectionList(*[(q, q, q in self.current.queues) for q in self.queues], id="facet-queue")
                yield MarkedSelectionList(*[(t, t, t in self.current.tenants) for t in self.tenants], id="facet-tenant")
            yield Label("Related object (app.model or app.model:id, substring)")
            yield Input(self.current.related, placeholder="e.g. authentik_sources_ldap.ldapsource", id="facet-related")

    def on_mount(self) -> None:
        self.query_one("#facet-status", SelectionList).border_title = "Status"
        self.query_one("#facet-queue", SelectionList).border_title = "Queue"
        self.query_one("#facet-tenant", SelectionList).border_title = "Tenant"

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_apply()

    def action_apply(self) -> None:
        def selected(selector: str) -> frozenset[str]:
            return frozenset(self.query_one(selector, SelectionList).selected)

        self.dismiss(
            self.current.with_(
                statuses=selected("#facet-status"),
                queues=selected("#facet-queue"),
                tenants=selected("#facet-tenant"),
                related=self.query_one("#facet-related", Input).value.strip(),
                # Picking successful statuses explicitly means the user wants to see them.
                hide_successful=self.current.hide_successful and not (selected("#facet-status") & {"done", "info"}),
            )
        )

    def action_cancel(self) -> None:
        self.dismiss(None)
