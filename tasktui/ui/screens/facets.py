"""`f`: filter by status, actor, queue, tenant and related object (k9s-style facets)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from rich.segment import Segment
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.strip import Strip
from textual.widgets import Checkbox, Input, SelectionList
from textual.widgets.option_list import OptionDoesNotExist

from tasktui.core.console import Facets
from tasktui.core.filters import TaskFilter
from tasktui.core.status import STATUSES
from tasktui.core.text import cut, fit_cells
from tasktui.render.text import NAME_CHARS

SELECTED_MARK = "✓"
HINT = "Space toggles · Tab moves · ctrl+s applies · Esc cancels"
WIDE_FROM = 100  # terminal columns from which the status list has room for "Label (key)"

# authentik gives two statuses the same label ("Error", "Successful"): those keep their key even
# where the list is narrow, or the two entries could not be told apart.
_SHARED_LABELS = {label for label, n in Counter(s.label for s in STATUSES.values()).items() if n > 1}


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


class FittedSelectionList(MarkedSelectionList):
    """A MarkedSelectionList whose prompts are made for the width the list is given (again after
    every resize): the list can say the most that fits instead of ending in an ellipsis."""

    def __init__(self, entries: list[tuple[str, bool]], prompt: Callable[[str, int], str], *, id: str) -> None:
        # Not `_values`: SelectionList keeps its own (value -> index) under that name.
        self._prompted = [value for value, _ in entries]
        self._prompt = prompt
        # Plain Content, never markup: values are names from the database. Until the list has a
        # width (its first resize), the prompts are the plain values.
        super().__init__(*[(Content(prompt(value, 0)), value, on) for value, on in entries], id=id)

    def on_resize(self, _event: events.Resize) -> None:
        width = self.scrollable_content_region.width - self._get_left_gutter_width()
        if width <= 0:
            return
        for index, value in enumerate(self._prompted):
            self.replace_option_prompt_at_index(index, Content(self._prompt(value, width)))


def status_prompt(key: str, width: int) -> str:
    """The label, with the key (what the filter line shows) where it says something the label
    does not and fits — and always where another status shares the label."""
    label = STATUSES[key].label
    full = f"{label} ({key})"
    if label in _SHARED_LABELS or (key != label.lower() and len(full) <= width):
        return full
    return label


def counted_prompt(counts: dict[str, int]) -> Callable[[str, int], str]:
    """Prompts "name … count", the count right-aligned; a long name loses its start, not its
    end (actor paths differ at their end, like in the table)."""

    def prompt(value: str, width: int) -> str:
        tally = f"{counts.get(value, 0):,}"
        room = width - len(tally) - 1
        if room < 8:
            return cut(value, NAME_CHARS)  # too narrow to line counts up: the list cuts the name
        return f"{fit_cells(value, room, keep_end=True)} {tally}"

    return prompt


class FacetScreen(ModalScreen[TaskFilter | None]):
    """Pick facets; ctrl+s applies, Esc cancels."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "apply", "Apply"),
    ]
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (WIDE_FROM, "-wide")]

    # Status and actor side by side (actor names need the width), queue and tenant below; the
    # box scrolls rather than cutting the related-object box off on a short terminal.
    DEFAULT_CSS = """
    FacetScreen { align: center middle; }
    FacetScreen > VerticalScroll {
        width: 96%; max-width: 120; height: auto; max-height: 90%;
        background: $panel; border: round $accent; padding: 0 1; border-title-color: $text-muted;
    }
    FacetScreen Horizontal { height: auto; }
    FacetScreen SelectionList { width: 1fr; height: auto; max-height: 12; border-title-color: $text-muted; }
    FacetScreen SelectionList:focus { border-title-color: $text-primary; }
    FacetScreen #facet-status { width: 38; }
    FacetScreen.-narrow #facet-status { width: 26; }
    FacetScreen #facet-queue, FacetScreen #facet-tenant { max-height: 7; }
    /* A box like the lists', not a compact strip: a new user did not see where to type. */
    FacetScreen #facet-related {
        height: 3; border: round $border-blurred; padding: 0 1;
        border-title-color: $text-muted; border-subtitle-color: $text-muted;
    }
    FacetScreen #facet-related:focus { border: round $border; border-title-color: $text-primary; }
    """

    def __init__(self, current: TaskFilter, facets: Facets) -> None:
        super().__init__()
        self.current = current
        self.queue_counts = dict(facets.queues)
        self.tenant_counts = dict(facets.tenants)
        self.actor_counts = dict(facets.actors)
        # A value the filter holds but the window no longer has stays listed (with a count of
        # 0), or applying would silently drop it.
        self.queues = sorted(set(self.queue_counts) | current.queues)
        self.tenants = sorted(set(self.tenant_counts) | current.tenants)
        self.actors = sorted(set(self.actor_counts) | current.actors)

    def compose(self) -> ComposeResult:
        current = self.current
        # The keys go on the box's border, not a line of their own: at 80×24 every list and the
        # related-object box fit without scrolling.
        with VerticalScroll() as box:
            box.border_title = HINT
            with Horizontal():
                yield FittedSelectionList(
                    [(key, key in current.statuses) for key, _ in sorted(STATUSES.items(), key=lambda kv: kv[1].order)],
                    status_prompt,
                    id="facet-status",
                )
                yield FittedSelectionList(
                    [(a, a in current.actors) for a in self.actors], counted_prompt(self.actor_counts), id="facet-actor"
                )
            with Horizontal():
                yield FittedSelectionList(
                    [(q, q in current.queues) for q in self.queues], counted_prompt(self.queue_counts), id="facet-queue"
                )
                yield FittedSelectionList(
                    [(t, t in current.tenants) for t in self.tenants],
                    counted_prompt(self.tenant_counts),
                    id="facet-tenant",
                )
            yield Input(current.related, placeholder="e.g. authentik_sources_ldap.ldapsource", id="facet-related")

    def on_mount(self) -> None:
        for name in ("status", "actor", "queue", "tenant"):
            self.query_one(f"#facet-{name}", SelectionList).border_title = name.capitalize()
        related = self.query_one("#facet-related", Input)
        related.border_title = "Related object"
        related.border_subtitle = "app.model or app.model:id, substring · Enter applies"
        # "Space toggles" from the first key: the status list has focus and its first entry the cursor
        # (the scrollable box around the lists would otherwise take focus, with nothing to toggle).
        status = self.query_one("#facet-status", SelectionList)
        status.highlighted = 0
        status.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_apply()

    def action_apply(self) -> None:
        def selected(selector: str) -> frozenset[str]:
            return frozenset(self.query_one(selector, SelectionList).selected)

        self.dismiss(
            self.current.with_(
                statuses=selected("#facet-status"),
                actors=selected("#facet-actor"),
                queues=selected("#facet-queue"),
                tenants=selected("#facet-tenant"),
                related=self.query_one("#facet-related", Input).value.strip(),
                # Picking successful statuses explicitly means the user wants to see them.
                hide_successful=self.current.hide_successful and not (selected("#facet-status") & {"done", "info"}),
            )
        )

    def action_cancel(self) -> None:
        self.dismiss(None)
