"""The debug log: what went wrong unexpectedly, with its traceback, in a file — the person at the
keyboard gets one line that names the file, never a traceback on the screen.

`$XDG_STATE_HOME/tasktui/tasktui.log` by default (tasktui.core.audit.state_dir, next to the retry
journal), or `--log FILE`; it rotates (a few files of MAX_BYTES), is created only when something
is written, is private to the user, and never holds a password: every record is passed through
the same redaction as error messages (connection strings, the target's own password).

The feed and the rest of tasktui log to `logging.getLogger(__name__)`; this module only decides
where that goes (`setup`, called by the CLI) and words the line the user sees (`unexpected`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from io import TextIOWrapper
from logging.handlers import RotatingFileHandler
from pathlib import Path

from tasktui.core.audit import state_dir
from tasktui.core.bugs import ROOT_LOGGER, debug_log_path
from tasktui.core.db import redact

LOG_NAME = "tasktui.log"
MAX_BYTES = 1_000_000
BACKUPS = 3
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

log = logging.getLogger(ROOT_LOGGER)


class _RedactingFormatter(logging.Formatter):
    """Formats a record (traceback included), then takes every password out of the text."""

    def __init__(self, conninfos: Iterable[str]) -> None:
        super().__init__(FORMAT)
        self.conninfos = [c for c in conninfos if c]

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        for conninfo in self.conninfos or [""]:
            text = redact(text, conninfo)
        return text


class _PrivateRotatingFile(RotatingFileHandler):
    """A rotating log whose files only their owner may read: tracebacks can quote task data."""

    def _open(self) -> TextIOWrapper:
        # Made when the first record comes: a run where nothing went wrong leaves nothing behind.
        Path(self.baseFilename).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        return open(fd, "a", encoding=self.encoding, errors=self.errors)


def default_path() -> Path:
    return state_dir() / LOG_NAME


def setup(path: Path | None = None, *, conninfos: Iterable[str] = ()) -> Path:
    """Send tasktui's warnings and errors (with tracebacks) to `path` (default_path() if None);
    `conninfos` are connection strings whose passwords must never appear. Returns the path."""
    path = path or default_path()
    handler = _PrivateRotatingFile(path, maxBytes=MAX_BYTES, backupCount=BACKUPS, delay=True, encoding="utf-8")
    handler.setFormatter(_RedactingFormatter(conninfos))
    handler.setLevel(logging.WARNING)
    for existing in [h for h in log.handlers if isinstance(h, RotatingFileHandler)]:
        log.removeHandler(existing)
        existing.close()
    log.addHandler(handler)
    log.setLevel(logging.WARNING)
    return path


def where() -> Path | None:
    """The log file, once `setup` chose one."""
    return debug_log_path()


def unexpected(what: str, exc: BaseException) -> str:
    """Log an unexpected failure with its traceback; return the one line to show for it."""
    log.error("unexpected failure while %s", what, exc_info=exc)
    path = where()
    details = f"details in {path}" if path is not None else "run with --log FILE for details"
    return f"could not {what}: internal error ({type(exc).__name__}); {details}"
