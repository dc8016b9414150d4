"""The re-check of the window: notifications can be lost outside tasktui's control, so the feed
compares what it shows with the database on a timer and heals what differs.

A round reads, on authentik's own indexes and without joins, each row's *fingerprint* — what can
change of a task (state, statuses, the worst level of its current logs, times, retries, ids):

1. every unfinished task (one index scan per state, as the initial load does);
2. by primary key, the unfinished rows the store holds that step 1 did not find, and a rotating
   share of the finished rows it holds (half of them: each is read every other round);
3. the finished tasks changed since the last round (a margin covers worker clocks, which write
   `mtime`).

Only the rows whose fingerprint differs from the store's are read whole and applied. A round
costs what the window costs, never what the table costs.

Each step holds the store's lock for one query and its comparison only: a notification's re-read
waits for one statement at most, never for a round, and no re-read older than what the store
holds is ever applied (one connection, one statement at a time, applied as it returns).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tasktui.core.models import Fingerprint, TaskRow
from tasktui.core.sql import tasks as tasks_sql
from tasktui.core.status import FINAL_STATES
from tasktui.core.store import TaskStore

RECENT_MARGIN = timedelta(minutes=2)  # worker clocks write mtime: allow for their skew
FINISHED_SHARE_MIN = 500  # finished rows re-read per round, at least (else half of them)

Reader = Callable[[Any, Any], Awaitable[list[tuple[Any, ...]]]]


@dataclass(frozen=True)
class RoundResult:
    corrected: frozenset[str]  # rows the round changed in the store
    suspects: frozenset[str]  # of those, the ones no notification in hand explains (maybe drift)
    elapsed: float  # seconds


class Recheck:
    def __init__(
        self,
        read: Reader,
        store: TaskStore,
        lock: asyncio.Lock,
        *,
        window: int,
        cap_per_state: int,
        pending: Callable[[], set[str]],
        fetch_rows: Callable[[Iterable[str]], Awaitable[tuple[list[TaskRow], list[str]]]],
    ) -> None:
        self.read = read
        self.store = store
        self.lock = lock
        self.window = window
        self.cap_per_state = cap_per_state
        self.pending = pending
        self.fetch_rows = fetch_rows
        self._share_offset = 0
        self._last_round_at: datetime | None = None

    def forget(self) -> None:
        """After a full reload: the next round starts from the reload."""
        self._last_round_at = None
        self._share_offset = 0

    async def _fingerprints(self, query: str, params: dict[str, Any]) -> dict[str, Fingerprint]:
        return dict(map(tasks_sql.read_fingerprint, await self.read(query, params)))

    def _differs(self, found: dict[str, Fingerprint]) -> set[str]:
        rows = self.store.rows
        return {
            mid
            for mid, fingerprint in found.items()
            if (row := rows.get(mid)) is None or row.fingerprint != fingerprint
        }

    def _finished_share(self) -> list[str]:
        finished = self.store.finished_ids()
        if not finished:
            return []
        size = max(FINISHED_SHARE_MIN, math.ceil(len(finished) / 2))
        start = self._share_offset % len(finished)
        share = (finished[start:] + finished[:start])[:size]
        self._share_offset = start + len(share)
        return share

    async def round(self, queries: tasks_sql.TaskQueries) -> RoundResult:
        started = time.perf_counter()
        now = (await self.read(tasks_sql.SERVER_NOW, None))[0][0]
        states = [r[0] for r in await self.read(tasks_sql.DISTINCT_STATES, None)]
        unfinished_states = [s for s in states if s not in FINAL_STATES]
        finished_states = [s for s in states if s in FINAL_STATES]
        differing: set[str] = set()
        async with self.lock:
            unfinished = await self._fingerprints(
                queries.fingerprints_by_state,
                tasks_sql.window_params(unfinished_states, [self.cap_per_state] * len(unfinished_states)),
            )
            differing |= self._differs(unfinished)
            missing_from_db = {mid for mid in self.store.unfinished_ids() if mid not in unfinished}
        per_state: dict[str, int] = {}
        for fingerprint in unfinished.values():
            per_state[fingerprint[0]] = per_state.get(fingerprint[0], 0) + 1
        # Past the cap of a state, which rows are loaded shifts with every change of that state.
        capped = {state for state, n in per_state.items() if n >= self.cap_per_state}
        async with self.lock:
            wanted = missing_from_db | set(self._finished_share())
            by_id = await self._fingerprints(queries.fingerprints_by_ids, {"ids": list(wanted)}) if wanted else {}
            differing |= self._differs(by_id)
            differing |= {mid for mid in wanted if mid not in by_id and mid in self.store.rows}  # deleted
        since = (self._last_round_at or now) - RECENT_MARGIN
        async with self.lock:
            recent = await self._fingerprints(
                queries.fingerprints_by_state,
                tasks_sql.window_params(finished_states, [self.window] * len(finished_states), since=since),
            )
            differing |= self._differs(recent)
        self._last_round_at = now
        corrected: set[str] = set()
        suspects: set[str] = set()
        if differing:
            async with self.lock:
                before = {mid: self.store.rows.get(mid) for mid in differing}
                rows, deleted = await self.fetch_rows(differing)
                corrected = self.store.apply_changes(rows, deleted)
                pending = self.pending()
                for mid in corrected:
                    old, new = before.get(mid), self.store.rows.get(mid)
                    if mid in pending or any(r is not None and r.state in capped for r in (old, new)):
                        continue
                    suspects.add(mid)
        return RoundResult(frozenset(corrected), frozenset(suspects), time.perf_counter() - started)
