"""One pacing for the benches' writers (screen_latency, console_latency, trigger_overhead).

A writer that fell behind its schedule — the machine or the server stalled it — picks the schedule
up from now instead of sending what it missed in a burst: each second's load is the one asked for,
so a stall on a shared machine does not become a spike that the next measurement then pays for.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator


def paced(rate: float, seconds: float, *, spread: random.Random | None = None) -> Iterator[None]:
    """Yield `rate` times a second for `seconds`. `spread`: start at a random point of the first
    interval, so that several writers started together do not all fire at once."""
    interval = 1.0 / rate
    now = time.monotonic()
    end = now + seconds
    next_at = now + (spread.random() * interval if spread else 0.0)
    while next_at < end:
        delay = next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        yield
        next_at = max(next_at + interval, time.monotonic())
