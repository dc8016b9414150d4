"""Workers that fail with something unexpected — a bug: what a person can act on, each screen
handles itself (a UserFacingError, one line). Anything else lands here: written to the debug log
with its traceback (tasktui.debuglog), and said in one line that names the file.

Textual tells only the worker's own node that it failed (Worker.StateChanged does not bubble), so
the App and every screen that runs workers mix this in.
"""

from __future__ import annotations

from typing import Protocol

from textual.notifications import SeverityLevel
from textual.worker import Worker, WorkerState

from tasktui import debuglog

NOTICE_SECONDS = 30.0  # long enough to read the file's name and copy it


class _Notifies(Protocol):
    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None: ...


class ReportsWorkerFailures:
    """`on_worker_state_changed` for the App and the screens: a worker that raised is a bug."""

    def on_worker_state_changed(self: _Notifies, event: Worker.StateChanged) -> None:
        worker: Worker[object] = event.worker
        if event.state is WorkerState.ERROR and worker.error is not None:
            # Worker descriptions say what was being done ("check the workers"): "could not …".
            what = worker.description or worker.name or "do that"
            self.notify(debuglog.unexpected(what, worker.error), severity="error", timeout=NOTICE_SECONDS)
