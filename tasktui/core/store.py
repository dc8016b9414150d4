"""The console's in-memory window of tasks: rows keyed by message id, later state wins.

The window is all non-final tasks plus the newest finished ones (and whatever the user paged
in). `view()` filters and sorts it for the screen; the result is cached until the rows or the
view settings change, so redrawing costs nothing between updates.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tasktui.core.filters import TaskFilter
from tasktui.core.models import TaskRow
from tasktui.core.status import FINAL_STATES

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class SortKey:
    column: str  # a key of SORT_KEYS
    descending: bool


# Sort keys per column; ties are broken by newest change first, then message id.
SORT_KEYS: dict[str, Callable[[TaskRow], Any]] = {
    "status": lambda t: t.status.order,
    "actor": lambda t: t.display_uid.lower(),
    "queue": lambda t: t.queue_name,
    "tenant": lambda t: (t.tenant_name or t.tenant_id or "").lower(),
    "retries": lambda t: t.retries or 0,
    "eta": lambda t: t.eta or _EPOCH,
    "mtime": lambda t: t.mtime,
    "message_id": lambda t: t.message_id,
}
DEFAULT_SORT = SortKey("mtime", descending=True)


class TaskStore:
    def __init__(self) -> None:
        self.rows: dict[str, TaskRow] = {}
        self.version = 0
        self._view_key: tuple[int, TaskFilter, SortKey] | None = None
        self._view: list[TaskRow] = []
        # Rows by (state, effective status), kept as rows come and go: the header counts what the
        # table holds without a pass over the window on every flush.
        self._tally: Counter[tuple[str, str]] = Counter()

    def __len__(self) -> int:
        return len(self.rows)

    def tally(self) -> Counter[tuple[str, str]]:
        """How many rows of each (state, effective status) the window holds."""
        return Counter({key: n for key, n in self._tally.items() if n})

    def _put(self, row: TaskRow) -> None:
        old = self.rows.get(row.message_id)
        if old is not None:
            self._tally[(old.state, old.effective_status)] -= 1
        self.rows[row.message_id] = row
        self._tally[(row.state, row.effective_status)] += 1

    def _drop(self, message_id: str) -> TaskRow | None:
        old = self.rows.pop(message_id, None)
        if old is not None:
            self._tally[(old.state, old.effective_status)] -= 1
        return old

    def replace_all(self, rows: Iterable[TaskRow]) -> None:
        """A full reload (start, reconnect): the database's answer is the whole truth."""
        self.rows = {row.message_id: row for row in rows}
        self._tally = Counter((row.state, row.effective_status) for row in self.rows.values())
        self.version += 1

    def apply(self, upserts: Iterable[TaskRow], deleted: Iterable[str] = ()) -> int:
        """Merge re-read rows and deletions; returns how many rows actually changed."""
        return len(self.apply_changes(upserts, deleted))

    def apply_changes(self, upserts: Iterable[TaskRow], deleted: Iterable[str] = ()) -> set[str]:
        """Merge re-read rows (later ones win) and deletions; returns the ids that changed."""
        changed: set[str] = set()
        for row in upserts:
            if self.rows.get(row.message_id) != row:
                self._put(row)
                changed.add(row.message_id)
        for message_id in deleted:
            if self._drop(message_id) is not None:
                changed.add(message_id)
        if changed:
            self.version += 1
        return changed

    def unfinished_ids(self) -> set[str]:
        return {mid for mid, row in self.rows.items() if row.state not in FINAL_STATES}

    def finished_ids(self) -> list[str]:
        return [mid for mid, row in self.rows.items() if row.state in FINAL_STATES]

    def prune_finished(self, keep: Mapping[str, int]) -> int:
        """Drop the oldest finished rows of each final state beyond `keep[state]` once that state
        has a quarter more (unfinished rows always stay). Per state, as the window is loaded: a
        stream of successful tasks must not push out the few rejected ones an SRE is looking
        at. Returns how many were dropped."""
        by_state: dict[str, list[TaskRow]] = {}
        for row in self.rows.values():
            if row.state in FINAL_STATES:
                by_state.setdefault(row.state, []).append(row)
        dropped = 0
        for state, finished in by_state.items():
            budget = keep.get(state, 0)
            if len(finished) <= budget + budget // 4:
                continue
            finished.sort(key=lambda r: r.mtime, reverse=True)
            for row in finished[budget:]:
                self._drop(row.message_id)
            dropped += len(finished) - budget
        if dropped:
            self.version += 1
        return dropped

    def view(self, task_filter: TaskFilter, sort: SortKey = DEFAULT_SORT) -> list[TaskRow]:
        key = (self.version, task_filter, sort)
        if key != self._view_key:
            rows = [row for row in self.rows.values() if task_filter.matches(row)]
            # Two stable sorts: the tie-break (newest first), then the chosen column.
            rows.sort(key=lambda r: (r.mtime, r.message_id), reverse=True)
            if sort.column != "mtime":
                rows.sort(key=SORT_KEYS[sort.column], reverse=sort.descending)
            elif not sort.descending:
                rows.reverse()
            self._view, self._view_key = rows, key
        return self._view

    def facet_values(self, attribute: Callable[[TaskRow], str | None]) -> list[str]:
        """Distinct values of an attribute in the window, for facet pickers."""
        return sorted({value for row in self.rows.values() if (value := attribute(row))})

    def facet_counts(self, attribute: Callable[[TaskRow], str | None]) -> list[tuple[str, int]]:
        """Distinct values of an attribute in the window with how many tasks have each, sorted
        by value, for facet pickers (one pass over the window, when the picker opens)."""
        return sorted(Counter(value for row in self.rows.values() if (value := attribute(row))).items())
