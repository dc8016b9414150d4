"""Task states and statuses, with authentik's own labels and summary groups (reference §7).

`state` is where a message is in the broker's life cycle; `aggregated_status` is what authentik
stores for display (the state, or for done tasks the worst legacy log level). The *effective*
status is what the console shows: for a finished task the worst level among its current
attempt's task logs, because authentik 2025.10+ leaves every finished task at `done`.
"""

from __future__ import annotations

from dataclasses import dataclass

STATES = ("queued", "consumed", "preprocess", "running", "postprocess", "done", "rejected")
FINAL_STATES = ("done", "rejected")
UNFINISHED_STATES = tuple(state for state in STATES if state not in FINAL_STATES)
RETRYABLE_STATE = "rejected"

# Log levels by severity; structlog's `critical`/`exception` count as errors.
# Log levels as structlog and Python's logging spell them (lower case), ranked: 2 and up make a
# finished task show Warning, 3 Error. The SQL that ranks levels is generated from this table.
LEVEL_SEVERITY = {
    "debug": 0, "info": 1, "warning": 2, "warn": 2, "error": 3, "critical": 3, "exception": 3, "fatal": 3,
}  # fmt: skip


def levels_at_least(severity: int) -> tuple[str, ...]:
    return tuple(level for level, rank in LEVEL_SEVERITY.items() if rank >= severity)


# The levels that make a finished task show Error (and whose lines carry a traceback, if any).
ERROR_LEVELS = frozenset(levels_at_least(3))


# One symbol per style class, so that a status reads without colour (NO_COLOR, TERM=dumb, a
# colour-blind reader): shapes apart from each other, each one cell wide in every terminal (none
# of East Asian width "ambiguous", which some terminals draw two cells wide).
SYMBOLS = {"queued": "◦", "active": "▸", "success": "✓", "warning": "!", "error": "✗", "unknown": "?"}


@dataclass(frozen=True)
class Status:
    key: str
    label: str  # authentik's label (TaskStatus.ts)
    group: str  # summary card (TaskStatusSummary.ts)
    style: str  # the console's style class: queued | active | success | warning | error | unknown
    order: int  # for sorting by status: most alarming first

    @property
    def symbol(self) -> str:
        return SYMBOLS[self.style]


_STATUSES = (
    Status("rejected", "Error", "Error", "error", 0),
    Status("error", "Error", "Error", "error", 1),
    Status("warning", "Warning", "Successful", "warning", 2),
    Status("running", "Running", "Running", "active", 3),
    Status("preprocess", "Pre-processing", "Running", "active", 4),
    Status("postprocess", "Post-processing", "Running", "active", 5),
    Status("consumed", "Consumed", "Queued", "active", 6),
    Status("queued", "Waiting to run", "Queued", "queued", 7),
    Status("info", "Successful", "Successful", "success", 8),
    Status("done", "Successful", "Successful", "success", 9),
)
STATUSES = {s.key: s for s in _STATUSES}
UNKNOWN = Status("unknown", "Unknown", "Other", "unknown", 10)

GROUPS = ("Running", "Queued", "Successful", "Error")

# authentik's "Exclude successful tasks" toggle (on by default) hides these statuses, and only
# these: a status tasktui does not know (a newer authentik's) is shown, never filtered away.
SUCCESSFUL = frozenset(("done", "info"))


def status_of(key: str | None) -> Status:
    return STATUSES.get(key or "", UNKNOWN)


def worst_level(levels: list[str] | tuple[str, ...]) -> str | None:
    """The most severe of some log levels, normalised to info | warning | error (None if none)."""
    best = -1
    for level in levels:
        best = max(best, LEVEL_SEVERITY.get((level or "").lower(), 0))
    return {1: "info", 2: "warning", 3: "error"}.get(best) if best > 0 else None


def effective_status(state: str, aggregated_status: str, worst_current_level: str | None) -> str:
    """What a viewer should see: unfinished tasks show their state; a done task shows the worse
    of its stored status and the worst level of its current attempt's logs."""
    if state != "done":
        return aggregated_status or state
    candidates = [aggregated_status or "done"]
    if worst_current_level:
        candidates.append(worst_current_level)
    return max(candidates, key=lambda key: _done_rank.get(key, 0))


_done_rank = {"done": 0, "info": 1, "warning": 2, "error": 3}
