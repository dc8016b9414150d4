"""The window of tasks the console holds (a TaskStore): what a (re)load reads, paging in older
finished tasks, re-reading tasks by id, the polling round when there is no trigger, and keeping
the window bounded. The feed (tasktui.core.feed) decides when; this module knows what to read.

Reads and writes of the store happen one at a time, under `lock`: a re-read applied after a newer
one would put old data back. Reads go through the feed's `fetchall` (its session, bounded on the
client too, and proof that the link works)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from tasktui.core.models import TaskRow
from tasktui.core.sql import tasks as tasks_sql
from tasktui.core.status import FINAL_STATES
from tasktui.core.store import TaskStore

# Unfinished tasks are all loaded, up to this many per state (a backlog beyond that is an
# incident in itself and the counts say how big it is).
UNFINISHED_CAP_PER_STATE = 20_000
# Finished tasks per final state in the first read of a (re)load (see TaskWindow.load_first).
FIRST_PAGE = 200
FETCH_BATCH = 500
# Finished tasks changed this long before the previous poll are read again (worker clock skew).
POLL_MARGIN = timedelta(seconds=30)
# Once older tasks were paged in ("load older"), a final state keeps every task it holds, live
# ones included, up to this many: what an SRE paged back to stays while they read it. Past it the
# oldest go, and the console says so.
PAGED_CAP_PER_STATE = 25_000

Fetch = Callable[..., Awaitable[list[tuple[Any, ...]]]]


class TaskWindow:
    """All unfinished tasks plus the newest `window` finished ones of each final state."""

    def __init__(
        self,
        store: TaskStore,
        fetchall: Fetch,
        *,
        window: int,
        notice: Callable[[str], None] = lambda text: None,
        paged_cap: int = PAGED_CAP_PER_STATE,
    ) -> None:
        self.store = store
        self.window = window
        self.paged_cap = paged_cap
        self._notice = notice
        self.queries: tasks_sql.TaskQueries | None = None  # set for each connection's table shape
        self.lock = asyncio.Lock()
        self._fetchall = fetchall
        # Where "load older" continues, per final state (each state's window is its own keyset).
        self._older_cursor: dict[str, datetime] = {}
        # Finished tasks kept in the store, per final state as the window loads them (grows with paging).
        self._finished_budget: Counter[str] = Counter(dict.fromkeys(FINAL_STATES, window))
        # The newest change among the tasks "load older" paged in, per final state: while the
        # store still reaches back that far, paged tasks are held (see keep_bounded).
        self._paged_newest: dict[str, datetime] = {}

    async def states(self) -> list[str]:
        return [r[0] for r in await self._fetchall(tasks_sql.DISTINCT_STATES)]

    async def read(self, states: list[str], limits: list[int], **kw: datetime | None) -> list[TaskRow]:
        assert self.queries is not None
        if not states:
            return []
        rows = await self._fetchall(self.queries.recent_by_state, tasks_sql.window_params(states, limits, **kw))
        return [tasks_sql.read_task(r) for r in rows]

    async def load_first(self) -> tuple[int, list[str]]:
        """The first read of a (re)load, replacing the store: every unfinished task and the newest
        FIRST_PAGE finished tasks of each final state (more than a screen shows). Returns the rows
        read and the final states present, for `load_rest`. Called under `lock`."""
        states = await self.states()
        first_page = min(self.window, FIRST_PAGE)
        limits = [first_page if s in FINAL_STATES else UNFINISHED_CAP_PER_STATE for s in states]
        rows = await self.read(states, limits)
        self.store.replace_all(rows)
        self._older_cursor = _oldest_finished(rows)
        self._paged_newest = {}
        self._finished_budget = Counter(dict.fromkeys(FINAL_STATES, self.window))
        finished = [s for s in states if s in FINAL_STATES] if self.window > first_page else []
        return len(rows), finished

    async def load_rest(self, finished: list[str]) -> int:
        """The rest of the finished window after `load_first`; returns the rows changed. On
        1,000,000 tasks with 10,000,000 log lines the whole window (5,000 rows, each done one with a
        look-up of its logs) took 200–400 ms to read; its first page a few tens. Under `lock`."""
        rest = await self.read(finished, [self.window] * len(finished))
        changed = self.store.apply(rest)
        self._older_cursor = _oldest_finished(self.store.rows.values())
        return changed

    async def load_older(self, count: int) -> tuple[int, int]:
        """Page in `count` more finished tasks older than the last page loaded (keyset on mtime,
        per final state: rejected tasks are few and reach further back than successful ones).
        Returns (rows read, rows changed).

        The cursors follow the pages, not the rows in the store: a task that changes live can
        carry an mtime from hours ago, which must not make the next page skip everything newer."""
        async with self.lock:
            rows: list[TaskRow] = []
            for state in FINAL_STATES:
                rows += await self.read([state], [count], before=self._older_cursor.get(state))
            rows.sort(key=lambda r: r.mtime, reverse=True)
            rows = rows[:count]
            for state, oldest in _oldest_finished(rows).items():
                self._older_cursor[state] = oldest
            for state, newest in _newest_finished(rows).items():
                self._paged_newest[state] = max(newest, self._paged_newest.get(state, newest))
            self._finished_budget.update(row.state for row in rows)
            return len(rows), self.store.apply(rows)

    async def fetch_by_ids(self, ids: Iterable[str]) -> tuple[list[TaskRow], list[str]]:
        """Re-read rows by id in batches; ids that no longer exist come back as deleted."""
        assert self.queries is not None
        wanted = list(ids)
        found: list[TaskRow] = []
        for start in range(0, len(wanted), FETCH_BATCH):
            chunk = wanted[start : start + FETCH_BATCH]
            found.extend(tasks_sql.read_task(r) for r in await self._fetchall(self.queries.by_ids, {"ids": chunk}))
        present = {row.message_id for row in found}
        return found, [mid for mid in wanted if mid not in present]

    async def poll(self, since: datetime) -> int:
        """One round without the trigger; returns the rows changed. authentik does not bump mtime
        for preprocess/running/postprocess or requeues, so unfinished tasks are re-read whole;
        finished ones by mtime since the previous round (less POLL_MARGIN)."""
        async with self.lock:
            states = await self.states()
            unfinished_states = [s for s in states if s not in FINAL_STATES]
            unfinished = await self.read(unfinished_states, [UNFINISHED_CAP_PER_STATE] * len(unfinished_states))
            finished_states = [s for s in states if s in FINAL_STATES]
            finished = await self.read(finished_states, [self.window] * len(finished_states), since=since - POLL_MARGIN)
            seen = {row.message_id for row in unfinished} | {row.message_id for row in finished}
            vanished = self.store.unfinished_ids() - seen
            upserts, deleted = await self.fetch_by_ids(vanished) if vanished else ([], [])
            changed = self.store.apply([*unfinished, *finished, *upserts], deleted)
            self.keep_bounded()
            return changed

    def keep_bounded(self) -> None:
        """Tasks finishing live pile up in the window; past a quarter over budget, drop the
        oldest finished ones (a console left open for days stays small). "Load older" then
        continues from the oldest finished task kept.

        A state with paged-in tasks still held grows its budget with what it holds, up to
        `paged_cap`: otherwise tasks finishing live would push out, seconds later and without a
        word, the very tasks the user asked for. Dropping paged tasks past the cap is told."""
        for state, held in self.store.finished_held().items():
            if self._holds_paged(state) and held > self._finished_budget[state]:
                self._finished_budget[state] = min(held, self.paged_cap)
        paged_before = {state for state in self._paged_newest if self._holds_paged(state)}
        dropped = self.store.prune_finished(self._finished_budget)
        if not dropped:
            return
        self._older_cursor = _oldest_finished(self.store.rows.values())
        if paged_before:
            self._notice(
                f"the window is full: dropped the {dropped:,} oldest finished tasks, some loaded with"
                f" 'load older', to keep at most {self.paged_cap:,} per status"
            )
        for state in paged_before - {s for s in self._paged_newest if self._holds_paged(s)}:
            del self._paged_newest[state]  # all its paged tasks are gone: nothing more to tell

    def _holds_paged(self, state: str) -> bool:
        """Whether the store still reaches back to tasks "load older" paged in for `state`."""
        newest = self._paged_newest.get(state)
        oldest = self._older_cursor.get(state)
        return newest is not None and oldest is not None and oldest <= newest


def _newest_finished(rows: Iterable[TaskRow]) -> dict[str, datetime]:
    """The newest change of each final state among `rows` (a state without rows: absent)."""
    newest: dict[str, datetime] = {}
    for row in rows:
        if row.state in FINAL_STATES and (row.state not in newest or row.mtime > newest[row.state]):
            newest[row.state] = row.mtime
    return newest


def _oldest_finished(rows: Iterable[TaskRow]) -> dict[str, datetime]:
    """The oldest change of each final state among `rows` (a state without rows: absent)."""
    oldest: dict[str, datetime] = {}
    for row in rows:
        if row.state in FINAL_STATES and (row.state not in oldest or row.mtime < oldest[row.state]):
            oldest[row.state] = row.mtime
    return oldest
