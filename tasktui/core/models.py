"""Plain rows the console works with; built from query results by the sql modules' readers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tasktui.core.status import Status, status_of

# What can change of a task row, compared by the re-check before it reads a row whole:
# (state, aggregated status, effective status, mtime, eta, retries, related id, uid, actor, queue).
Fingerprint = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class TaskRow:
    """One task as the task table shows it (no blobs, no logs)."""

    message_id: str
    queue_name: str
    actor_name: str
    uid: str | None
    state: str
    aggregated_status: str
    effective_status: str
    tenant_id: str | None
    tenant_name: str | None
    rel_obj_type: str | None  # "app_label.model" when resolvable, else the content type id
    rel_obj_id: str | None
    retries: int | None
    eta: datetime | None
    mtime: datetime
    result_expiry: datetime | None

    @property
    def fingerprint(self) -> Fingerprint:
        return (
            self.state,
            self.aggregated_status,
            self.effective_status,
            self.mtime,
            self.eta,
            self.retries,
            self.rel_obj_id,
            self.uid,
            self.actor_name,
            self.queue_name,
        )

    @property
    def status(self) -> Status:
        return status_of(self.effective_status)

    @property
    def status_differs(self) -> bool:
        """True where authentik's stored status hides what the logs say (2025.10+ quirk): a
        finished task that logged a warning or an error still reads "Successful" in authentik."""
        return self.status.label != status_of(self.aggregated_status).label

    @property
    def display_uid(self) -> str:
        """authentik shows `actor_name:_uid`."""
        return f"{self.actor_name}:{self.uid}" if self.uid else self.actor_name

    @property
    def related(self) -> str | None:
        if self.rel_obj_id is None and self.rel_obj_type is None:
            return None
        return f"{self.rel_obj_type or '?'}:{self.rel_obj_id or '?'}"
