"""The local audit journal of write actions: one JSON object per line, appended and fsynced.

Every retry, single or bulk, leaves lines in `$XDG_STATE_HOME/tasktui/retries.jsonl`
(default `~/.local/state/tasktui/retries.jsonl`; `$TASKTUI_STATE_DIR` replaces the folder):
who did it (OS user and host), when (UTC), on which database (the target label, never a
password), what was asked (task ids or the filter) and what happened to each task.

A journal that cannot be written never stops the action it records: `append` returns the
problem as one line for the caller to show, and the action goes on.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

JOURNAL_NAME = "retries.jsonl"


def state_dir() -> Path:
    """tasktui's state folder: $TASKTUI_STATE_DIR, else $XDG_STATE_HOME/tasktui, else
    ~/.local/state/tasktui (the XDG spec ignores a relative $XDG_STATE_HOME)."""
    override = os.environ.get("TASKTUI_STATE_DIR")
    if override:
        return Path(override)
    xdg = os.environ.get("XDG_STATE_HOME", "")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".local" / "state"
    return base / "tasktui"


def who() -> dict[str, str]:
    """The person at the keyboard, as far as this machine knows."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER (containers)
        user = f"uid {os.getuid()}"
    return {"user": user, "host": socket.gethostname()}


class Journal:
    """An append-only JSON-lines file; each `append` is one write, flushed and fsynced."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or state_dir() / JOURNAL_NAME

    def append(self, entry: Mapping[str, Any]) -> str | None:
        """Write one line (with who and when added); return None, or why it could not be written."""
        line = json.dumps({"at": datetime.now(UTC).isoformat(), **who(), **entry}, default=str, ensure_ascii=False)
        data = (line + "\n").encode()
        try:
            # Private: the journal names tasks, filters and databases.
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                # One write() of the whole line: concurrent consoles never interleave inside a line.
                written = os.write(fd, data)
                if written != len(data):
                    return f"audit journal {self.path}: short write ({written} of {len(data)} bytes)"
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            return f"audit journal {self.path} not written: {exc.strerror or exc}"
        return None
