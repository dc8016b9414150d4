"""A bug inside one of the core's loops (the feed, its re-check, the counts): it must not stop the
console, and the person watching must learn where its traceback is.

The core never decides where logs go (tasktui.debuglog does, for the CLI); it logs to
`logging.getLogger("tasktui…")` and finds the debug log's file among that logger's handlers, so
the line shown in the header names it.
"""

from __future__ import annotations

import logging
from pathlib import Path

ROOT_LOGGER = "tasktui"
INTERNAL_ERROR = "internal error"  # how a bug's line begins, wherever it is shown


def debug_log_path() -> Path | None:
    """The file tasktui's logger writes to, once the debug log is set up; None before."""
    for handler in logging.getLogger(ROOT_LOGGER).handlers:
        if isinstance(handler, logging.FileHandler):
            return Path(handler.baseFilename)
    return None


def internal_error(log: logging.Logger, what: str, exc: BaseException) -> str:
    """Log the bug with its traceback; return the one line to show for it: what failed, the
    exception's type and message, and where the details are."""
    log.error("%s failed", what, exc_info=exc)
    path = debug_log_path()
    details = f"details in {path}" if path is not None else "run with --log FILE for details"
    message = " ".join(str(exc).split())[:200]
    kind = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return f"{INTERNAL_ERROR}: {kind}; {details}"
