"""How often the main screen redraws: at most `--max-fps` times a second, less while frames cost
more than that allows, and never while the user's input waits.

Under a flood of changes (1,000 a second) every redraw finds something new to draw; when drawing a
frame takes longer than the interval, redrawing at the full rate would keep the event loop busy
drawing and keys would wait behind frames. The pacer stretches the interval while frames are slow
and gives it back once they are cheap again.
"""

from __future__ import annotations

from collections.abc import Iterable

from textual import events
from textual.app import App
from textual.message_pump import MessagePump

SLOWEST_INTERVAL = 0.25  # under load the table still moves four times a second
SLOW_SHARE = 1.0  # a frame taking longer than the interval stretches it
FAST_SHARE = 0.25  # a frame taking less than this share of the interval shortens it again
MAX_POSTPONED = 0.25  # seconds a redraw waits for input at most: held keys never freeze the table
# Input that the user waits to see answered (a moving mouse is not waited for).
ANSWERED_INPUT = (events.Key, events.MouseDown)


class RedrawPacer:
    """The interval between redraws: `fastest` (1 / --max-fps) while frames are cheap, doubled
    while a frame takes longer than the interval, up to SLOWEST_INTERVAL (or `fastest`, if that
    is slower), and halved again once frames take less than a quarter of it. A frame is measured
    from the start of the redraw to the end of the paint that shows it, waits in the queue
    included: on a machine short of CPU the console draws less often rather than falling behind."""

    def __init__(self, fastest: float) -> None:
        self.fastest = fastest
        self.slowest = max(fastest, SLOWEST_INTERVAL)
        self.interval = fastest

    def frame_took(self, seconds: float) -> None:
        if seconds > self.interval * SLOW_SHARE:
            self.interval = min(self.slowest, self.interval * 2)
        elif seconds < self.interval * FAST_SHARE:
            self.interval = max(self.fastest, self.interval / 2)


def input_waiting(app: App[object]) -> bool:
    """Whether a key press or click waits in a queue it passes through: the app's, then the
    focused widget's and each of its ancestors' as it bubbles up to the screen's bindings. Textual
    has no public peek at a queue; without its internals this says False and redraws do not wait."""
    focused = app.focused
    # A widget's ancestors end with its screen and the app.
    pumps: Iterable[MessagePump] = (app.screen, app) if focused is None else focused.ancestors_with_self
    for pump in pumps:
        if not pump.message_queue_size:
            continue
        waiting = getattr(pump._message_queue, "values", ())  # textual._queue.Queue
        if any(isinstance(message, ANSWERED_INPUT) for message in waiting):
            return True
    return False
