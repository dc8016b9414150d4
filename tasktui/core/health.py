"""How well the feed is doing, said plainly: drift, ignored payloads, reconciliation, reconnects.

Drift is the feed's self-audit. Notifications can be lost outside tasktui's control (a reconnect
gap, the server's notification queue, a heartbeat that arrived late), so the feed re-checks the
window against the database on a timer and heals what differs. Every row it had to correct — one
whose change no notification ever announced — is drift. On a healthy installation it stays 0; a
non-zero drift is an honest signal that something upstream loses changes.

A difference the re-check finds is only *suspected* drift at first: its notification may still be
on the way (committed before the re-check read it, delivered just after). The feed then sends a
sentinel notification of its own; Postgres delivers notifications in commit order, so once the
sentinel is back, every notification that could explain a difference has arrived. Suspects that
none explained are counted.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

HOUR = 3600.0
SETTLE_TIMEOUT = 10.0  # a sentinel that never comes back: count the suspects anyway


@dataclass(frozen=True)
class FeedHealth:
    drift_last_hour: int
    drift_total: int
    last_drift_at: float | None  # wall clock
    last_drift_ids: tuple[str, ...]  # the rows healed last time (a few, for the curious)
    ignored_payloads: int  # notifications that were not tasktui's (forged, malformed)
    reconcile_interval: float  # seconds between re-checks of the window
    last_reconcile_at: float | None
    reconcile_ms: float | None  # what the last re-check cost
    reconcile_error: str  # why the last re-check failed ("" when it did not)
    reconnects: int
    gaps: int  # times our registration lapsed (the trigger may have skipped us)
    trigger_mode: str = ""  # "notify" | "drain": how the trigger hands changes on now ("" polling)
    drained_rows: int = 0  # changes read from the trigger's change table since the console started
    mode_switches: int = 0  # times the trigger's mode changed

    def describe(self) -> str:
        """One line for the header and the palette."""
        drift = f"drift {self.drift_last_hour} in the last hour"
        if self.drift_total != self.drift_last_hour:
            drift += f" ({self.drift_total} since start)"
        parts = [drift]
        if self.ignored_payloads:
            parts.append(f"{self.ignored_payloads} foreign notifications ignored")
        if self.reconcile_ms is not None:
            parts.append(f"re-check every {self.reconcile_interval:g}s ({self.reconcile_ms:.0f} ms)")
        if self.reconcile_error:
            parts.append(f"re-check failing: {self.reconcile_error}")
        if self.reconnects:
            parts.append(f"{self.reconnects} reconnects")
        if self.gaps:
            parts.append(f"{self.gaps} registration lapses")
        if self.trigger_mode:
            parts.append(f"trigger mode {self.trigger_mode} ({self.drained_rows:,} changes drained)")
        return " · ".join(parts)


class DriftLedger:
    """Suspected and counted drift (see the module docstring)."""

    def __init__(self) -> None:
        self._suspects: dict[str, str] = {}  # task id -> token of the re-check that suspected it
        self._opened: dict[str, float] = {}  # token -> monotonic time its sentinel was sent
        self._counted: deque[tuple[float, int]] = deque()  # (wall clock, rows) per settled re-check
        self.total = 0
        self.last_at: float | None = None
        self.last_ids: tuple[str, ...] = ()

    def suspect(self, token: str, task_ids: set[str]) -> None:
        for task_id in task_ids:
            self._suspects[task_id] = token
        self._opened[token] = time.monotonic()

    def notified(self, task_id: str) -> None:
        """A notification about this task arrived: its difference was not drift."""
        self._suspects.pop(task_id, None)

    def settle(self, token: str) -> int:
        """The re-check's sentinel came back: what is still suspected is drift."""
        if self._opened.pop(token, None) is None:
            return 0
        drifted = [task_id for task_id, t in self._suspects.items() if t == token]
        for task_id in drifted:
            del self._suspects[task_id]
        if drifted:
            now = time.time()
            self.total += len(drifted)
            self.last_at = now
            self.last_ids = tuple(sorted(drifted)[:5])
            self._counted.append((now, len(drifted)))
        return len(drifted)

    def settle_overdue(self) -> int:
        """Count the suspects of re-checks whose sentinel is overdue."""
        now = time.monotonic()
        return sum(self.settle(token) for token, sent in list(self._opened.items()) if now - sent > SETTLE_TIMEOUT)

    def forget_suspects(self) -> None:
        """A full reload makes every row fresh; nothing suspected before it can be judged."""
        self._suspects.clear()
        self._opened.clear()

    def last_hour(self) -> int:
        cutoff = time.time() - HOUR
        while self._counted and self._counted[0][0] < cutoff:
            self._counted.popleft()
        return sum(n for _, n in self._counted)
