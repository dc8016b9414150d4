"""What the SRE asked to see: free text plus facets, applied in memory to the loaded window
and translated to SQL for actions on everything that matches (bulk retry, loading more)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from tasktui.core.models import TaskRow
from tasktui.core.sql.tasks import TaskQueries
from tasktui.core.status import SUCCESSFUL


@dataclass(frozen=True)
class TaskFilter:
    text: str = ""  # substring of actor, uid or message id (case-insensitive)
    statuses: frozenset[str] = field(default_factory=frozenset)  # effective status keys; empty = any
    actors: frozenset[str] = field(default_factory=frozenset)  # exact actor names (bulk retry's --actor)
    queues: frozenset[str] = field(default_factory=frozenset)
    tenants: frozenset[str] = field(default_factory=frozenset)  # tenant names or ids
    related: str = ""  # "app.model" or "app.model:id" (substring)
    # Exactly these tasks (message ids), e.g. an error group handed to bulk retry; empty = any.
    message_ids: frozenset[str] = field(default_factory=frozenset)
    hide_successful: bool = True  # authentik's "Exclude successful tasks", on by default (status.SUCCESSFUL)

    def with_(self, **changes: Any) -> TaskFilter:
        return replace(self, **changes)

    @property
    def is_default(self) -> bool:
        return self == TaskFilter()

    def describe(self) -> str:
        parts = []
        if self.text:
            parts.append(f"/{self.text}")
        if self.statuses:
            parts.append("status=" + ",".join(sorted(self.statuses)))
        if self.actors:
            parts.append("actor=" + ",".join(sorted(self.actors)))
        if self.queues:
            parts.append("queue=" + ",".join(sorted(self.queues)))
        if self.tenants:
            parts.append("tenant=" + ",".join(sorted(self.tenants)))
        if self.related:
            parts.append(f"related={self.related}")
        if self.message_ids:
            parts.append(f"{len(self.message_ids):,} listed task{'s' if len(self.message_ids) != 1 else ''}")
        if self.hide_successful:
            parts.append("hiding successful")
        return " · ".join(parts) or "all tasks"

    def matches(self, task: TaskRow) -> bool:
        if self.hide_successful and task.effective_status in SUCCESSFUL:
            return False
        if self.statuses and task.effective_status not in self.statuses:
            return False
        if self.actors and task.actor_name not in self.actors:
            return False
        if self.queues and task.queue_name not in self.queues:
            return False
        if self.tenants and not ({task.tenant_name, task.tenant_id} & self.tenants):
            return False
        if self.related and self.related.lower() not in (task.related or "").lower():
            return False
        if self.message_ids and task.message_id not in self.message_ids:
            return False
        if self.text:
            needle = self.text.lower()
            haystacks = (task.actor_name, task.uid or "", task.message_id)
            if not any(needle in h.lower() for h in haystacks):
                return False
        return True

    def where_sql(self, queries: TaskQueries) -> tuple[str, dict[str, Any]]:
        """The same filter as a WHERE condition over `queries.select` (aliases t, tn, ct)."""
        clauses: list[str] = []
        params: dict[str, Any] = {}
        if self.hide_successful:
            clauses.append(f"NOT COALESCE(({queries.effective_status}) = ANY (%(f_successful)s), false)")
            params["f_successful"] = sorted(SUCCESSFUL)
        if self.statuses:
            clauses.append(f"({queries.effective_status}) = ANY (%(f_statuses)s)")
            params["f_statuses"] = sorted(self.statuses)
        if self.actors:
            clauses.append("t.actor_name = ANY (%(f_actors)s)")
            params["f_actors"] = sorted(self.actors)
        if self.queues:
            clauses.append("t.queue_name = ANY (%(f_queues)s)")
            params["f_queues"] = sorted(self.queues)
        if self.tenants:
            clauses.append(
                f"({queries.tenant_name} = ANY (%(f_tenants)s) OR {queries.tenant_id} = ANY (%(f_tenants)s))"
            )
            params["f_tenants"] = sorted(self.tenants)
        if self.related:
            related = f"COALESCE({queries.related_type}, '?')"
            clauses.append(f"({related} || ':' || COALESCE(t.rel_obj_id, '?')) ILIKE %(f_related)s")
            params["f_related"] = f"%{_escape_like(self.related)}%"
        if self.message_ids:
            clauses.append("t.message_id = ANY (%(f_ids)s::uuid[])")
            params["f_ids"] = sorted(self.message_ids)
        if self.text:
            clauses.append(
                f"(t.actor_name ILIKE %(f_text)s OR {queries.uid} ILIKE %(f_text)s"
                " OR t.message_id::text ILIKE %(f_text)s)"
            )
            params["f_text"] = f"%{_escape_like(self.text)}%"
        return (" AND ".join(clauses) or "true"), params


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
