"""The console's in-memory window of tasks: rows keyed by message id, later state wins.

The window is all non-final tasks plus the newest finished ones (and whatever the user paged
in). `view()` filters and sorts it for the screen. The view is kept up to date as rows change:
each changed row is taken out of its place and put into its new one by binary search, so a
flush of k changes costs O(k log n) comparisons (and a memmove), not a filter and sort of the
whole window — with a backlog of tens of thousands of unfinished tasks, re-sorting the window
on every flush held the event loop for tens of milliseconds, twenty times a second. The view is
built whole only when the filter or the sort changes, after a reload, or when most rows changed.
"""

from __future__ import annotations

from bisect import bisect_left
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
# Past this share of the view changed at once, building it whole is cheaper than moving rows.
REBUILD_SHARE = 0.25


class _Descending:
    """Reverses the order of a value inside a sort key (strings cannot be negated)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __lt__(self, other: _Descending) -> bool:
        return bool(other.value < self.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Descending) and self.value == other.value

    __hash__ = None  # type: ignore[assignment]


def order_key(row: TaskRow, sort: SortKey) -> tuple[Any, ...]:
    """Where a row goes in the view, as one ascending key (unique: it ends in the message id):
    the chosen column, ties broken by newest change first, then message id."""
    newest_first = _Descending((row.mtime, row.message_id))
    if sort.column == "mtime":
        return (newest_first,) if sort.descending else ((row.mtime, row.message_id),)
    value = SORT_KEYS[sort.column](row)
    return (_Descending(value) if sort.descending else value, newest_first)


class _View:
    """The window filtered and sorted for one (filter, sort). Rows are found in it by binary
    search on `order_key`, computed for the rows probed only (no key is stored per row: building
    keys for the whole window cost more than the sort)."""

    def __init__(self, rows: Iterable[TaskRow], task_filter: TaskFilter, sort: SortKey) -> None:
        self.task_filter = task_filter
        self.sort = sort
        shown = [row for row in rows if task_filter.matches(row)]
        # Two stable sorts in C (the tie-break, then the column) are far faster than sorting by
        # the composite key, whose descending parts compare in Python.
        shown.sort(key=lambda r: (r.mtime, r.message_id), reverse=True)
        if sort.column != "mtime":
            shown.sort(key=SORT_KEYS[sort.column], reverse=sort.descending)
        elif not sort.descending:
            shown.reverse()
        self.rows = shown

    def _key(self, row: TaskRow) -> tuple[Any, ...]:
        return order_key(row, self.sort)

    def remove(self, row: TaskRow) -> None:
        if not self.task_filter.matches(row):
            return
        index = bisect_left(self.rows, self._key(row), key=self._key)
        if index < len(self.rows) and self.rows[index].message_id == row.message_id:
            del self.rows[index]

    def add(self, row: TaskRow) -> None:
        if self.task_filter.matches(row):
            self.rows.insert(bisect_left(self.rows, self._key(row), key=self._key), row)


class TaskStore:
    def __init__(self) -> None:
        self.rows: dict[str, TaskRow] = {}
        self.version = 0
        self._view: _View | None = None
        # What view() handed out last, and for which version: callers keep the list they got.
        self._snapshot: tuple[int, list[TaskRow]] | None = None
        # Rows by (state, effective status), kept as rows come and go: the header counts what the
        # table holds without a pass over the window on every flush.
        self._tally: Counter[tuple[str, str]] = Counter()

    def __len__(self) -> int:
        return len(self.rows)

    def tally(self) -> Counter[tuple[str, str]]:
        """How many rows of each (state, effective status) the window holds."""
        return Counter({key: n for key, n in self._tally.items() if n})

    def _put(self, row: TaskRow, view: _View | None) -> None:
        old = self.rows.get(row.message_id)
        if old is not None:
            self._tally[(old.state, old.effective_status)] -= 1
            if view is not None:
                view.remove(old)
        self.rows[row.message_id] = row
        self._tally[(row.state, row.effective_status)] += 1
        if view is not None:
            view.add(row)

    def _drop(self, message_id: str, view: _View | None) -> TaskRow | None:
        old = self.rows.pop(message_id, None)
        if old is not None:
            self._tally[(old.state, old.effective_status)] -= 1
            if view is not None:
                view.remove(old)
        return old

    def _view_to_update(self, changes: int) -> _View | None:
        """The view to keep in step with `changes` row changes, or None (and the view dropped,
        to be built whole when next asked for) when building it whole is cheaper."""
        view = self._view
        if view is not None and changes > max(64, len(view.rows) * REBUILD_SHARE):
            self._view = view = None
        return view

    def replace_all(self, rows: Iterable[TaskRow]) -> None:
        """A full reload (start, reconnect): the database's answer is the whole truth."""
        self.rows = {row.message_id: row for row in rows}
        self._tally = Counter((row.state, row.effective_status) for row in self.rows.values())
        self._view = None
        self.version += 1

    def apply(self, upserts: Iterable[TaskRow], deleted: Iterable[str] = ()) -> int:
        """Merge re-read rows and deletions; returns how many rows actually changed."""
        return len(self.apply_changes(upserts, deleted))

    def apply_changes(self, upserts: Iterable[TaskRow], deleted: Iterable[str] = ()) -> set[str]:
        """Merge re-read rows (later ones win) and deletions; returns the ids that changed."""
        upserts = [row for row in upserts if self.rows.get(row.message_id) != row]
        deleted = [message_id for message_id in deleted if message_id in self.rows]
        view = self._view_to_update(len(upserts) + len(deleted))
        changed: set[str] = set()
        for row in upserts:
            self._put(row, view)
            changed.add(row.message_id)
        for message_id in deleted:
            if self._drop(message_id, view) is not None:
                changed.add(message_id)
        if changed:
            self.version += 1
        return changed

    def unfinished_ids(self) -> set[str]:
        return {mid for mid, row in self.rows.items() if row.state not in FINAL_STATES}

    def finished_ids(self) -> list[str]:
        return [mid for mid, row in self.rows.items() if row.state in FINAL_STATES]

    def finished_held(self) -> Counter[str]:
        """Finished rows held per final state (from the tally: no pass over the window)."""
        held: Counter[str] = Counter()
        for (state, _status), n in self._tally.items():
            if state in FINAL_STATES:
                held[state] += n
        return held

    def prune_finished(self, keep: Mapping[str, int]) -> int:
        """Drop the oldest finished rows of each final state beyond `keep[state]` once that state
        has a quarter more (unfinished rows always stay). Per state, as the window is loaded: a
        stream of successful tasks must not push out the few rejected ones an SRE is looking
        at. Returns how many were dropped. Costs a pass over the window only when a state is
        over (the tally says so): it runs after every flush."""
        held = self.finished_held()
        if all(n <= keep.get(state, 0) + keep.get(state, 0) // 4 for state, n in held.items()):
            return 0
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
            view = self._view_to_update(len(finished) - budget)
            for row in finished[budget:]:
                self._drop(row.message_id, view)
            dropped += len(finished) - budget
        if dropped:
            self.version += 1
        return dropped

    def view(self, task_filter: TaskFilter, sort: SortKey = DEFAULT_SORT) -> list[TaskRow]:
        """The window's rows that `task_filter` matches, in `sort` order. The list is the
        caller's: later changes to the store never change it."""
        view = self._view
        if view is None or view.task_filter != task_filter or view.sort != sort:
            self._view = view = _View(self.rows.values(), task_filter, sort)
            self._snapshot = None
        if self._snapshot is None or self._snapshot[0] != self.version:
            self._snapshot = (self.version, list(view.rows))
        return self._snapshot[1]

    def facet_counts(self, attribute: Callable[[TaskRow], str | None]) -> list[tuple[str, int]]:
        """Distinct values of an attribute in the window with how many tasks have each, sorted
        by value, for facet pickers (one pass over the window, when the picker opens)."""
        return sorted(Counter(value for row in self.rows.values() if (value := attribute(row))).items())
