"""Which way the trigger should hand changes on, and where a console's drain has got to.

The trigger has two modes (schema/tasktui_notify.sql): NOTIFY per change, the lowest latency, and
*drain*, where it records changed ids in an unlogged table that consoles read on a short timer.
Every transaction that NOTIFYs takes a cluster-wide lock through its commit, so once commits
start to overlap NOTIFY costs authentik's writers throughput and latency; recording a row costs
them one insert into a table that writes no WAL. A console asks for drain mode when the rate of
changes it sees climbs and for NOTIFY again when it has stayed low for a while (`ModePolicy`);
the trigger follows the most demanding live console.

`DrainCursor` is the snapshot a console's last drain returned: the next drain reads the rows of
every transaction that was not visible in it — still running then (`xip`) or begun after it
(`xid >= xmax`) — so each committed change is read exactly once, whatever order its id and its
commit came in.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from tasktui.core.trigger import DRAIN_MODE, MODES, NOTIFY_MODE

# Changes per second (rows, over the last UP_WINDOW seconds) from which a console asks for drain
# mode. Measured (bench/trigger_overhead.py): NOTIFY's commit lock shows in the writers' p99
# commit latency once commits overlap, from a few hundred transactions a second on the 2-core
# test machine; a row count is at least the transaction count, so this errs on the early side.
UP_RATE = 50.0
UP_WINDOW = 1.0
# Back to NOTIFY once the rate has stayed below this for DOWN_WINDOW seconds (hysteresis: a
# bursty load must not flap between the modes).
DOWN_RATE = 10.0
DOWN_WINDOW = 30.0
BUCKET_SECONDS = 0.25

AUTO = "auto"
CHOICES = (AUTO, *MODES)


@dataclass
class ModePolicy:
    """Counts the changes a console receives and says which mode to ask for."""

    up_rate: float = UP_RATE
    up_window: float = UP_WINDOW
    down_rate: float = DOWN_RATE
    down_window: float = DOWN_WINDOW
    wants: str = NOTIFY_MODE
    _buckets: deque[tuple[int, int]] = field(default_factory=deque)  # (bucket, changes), oldest first

    def count(self, changes: int = 1, now: float | None = None) -> None:
        bucket = int((time.monotonic() if now is None else now) / BUCKET_SECONDS)
        if self._buckets and self._buckets[-1][0] == bucket:
            self._buckets[-1] = (bucket, self._buckets[-1][1] + changes)
        else:
            self._buckets.append((bucket, changes))
        horizon = bucket - int(max(self.up_window, self.down_window) / BUCKET_SECONDS) - 1
        while self._buckets and self._buckets[0][0] < horizon:
            self._buckets.popleft()

    def _rate(self, now: float, window: float) -> float:
        """Changes per second over the last `window` seconds (the current bucket, still filling,
        included: the rate is never overstated)."""
        first = int(now / BUCKET_SECONDS) - int(window / BUCKET_SECONDS) + 1
        return sum(n for bucket, n in self._buckets if bucket >= first) / window

    def decide(self, now: float | None = None) -> str:
        """The mode to ask for now (also remembered as `wants`)."""
        now = time.monotonic() if now is None else now
        if self.wants == NOTIFY_MODE:
            if self._rate(now, self.up_window) >= self.up_rate:
                self.wants = DRAIN_MODE
        elif self._rate(now, self.down_window) < self.down_rate:
            self.wants = NOTIFY_MODE
        return self.wants


@dataclass(frozen=True)
class DrainCursor:
    """A snapshot as Postgres writes it (`xmin:xmax:xip,xip,...`)."""

    text: str
    xmin: int
    xmax: int

    @classmethod
    def parse(cls, text: str) -> DrainCursor:
        xmin, xmax, _ = text.split(":", 2)
        return cls(text, int(xmin), int(xmax))
