"""What the SRE asked to see: free text plus facets, applied in memory to the loaded window
and translated to SQL for actions on everything that matches (bulk retry, loading more).

Each facet is defined once, in FIELDS: which values of a task it looks at (the row's, and the same
values as SQL expressions of tasktui.core.sql.tasks.TaskQueries) and how the filter's value selects
them. Both `TaskFilter.matches` (the window) and `TaskFilter.where_sql` (the database) come from
that table, and a property test checks that they agree on generated tasks and filters.

Case-insensitive matching (text search, related object) folds ASCII letters only, in both: the
server's lower() would follow the database's locale, Python's the Unicode tables.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

from tasktui.core.models import TaskRow
from tasktui.core.sql import filters as filters_sql
from tasktui.core.sql.tasks import TaskQueries
from tasktui.core.status import SUCCESSFUL

_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def fold(text: str) -> str:
    """`text` with ASCII capitals lowered: how text is compared case-insensitively."""
    return text.translate(_ASCII_LOWER)


class Match(Enum):
    ONE_OF = "one of"  # a set of values: a task matches when one of its values is in it (empty: any)
    NONE_OF = "none of"  # a flag: when on, a task matches when none of its values is in `excluded`
    CONTAINS = "contains"  # a text: a task matches when one of its values contains it, folded ("": any)


@dataclass(frozen=True)
class FilterField:
    """One facet of a TaskFilter: the attribute holding its value, the task's values it compares
    (in memory and as SQL expressions) and how."""

    name: str  # the TaskFilter attribute
    match: Match
    row_values: Callable[[TaskRow], tuple[str | None, ...]]
    sql_values: Callable[[TaskQueries], tuple[str, ...]]
    array_type: str = "text[]"  # ONE_OF: the SQL type its values are compared as
    excluded: frozenset[str] = frozenset()  # NONE_OF: the values a task must not have

    def active(self, value: Any) -> bool:
        return bool(value)

    def matches(self, value: Any, task: TaskRow) -> bool:
        values = self.row_values(task)
        if self.match is Match.ONE_OF:
            return any(v in value for v in values if v is not None)
        if self.match is Match.NONE_OF:
            return not any(v in self.excluded for v in values if v is not None)
        needle = fold(value)
        return any(needle in fold(v) for v in values if v is not None)

    def where_sql(self, value: Any, queries: TaskQueries) -> tuple[str, dict[str, Any]]:
        param = f"f_{self.name}"
        expressions = self.sql_values(queries)
        if self.match is Match.ONE_OF:
            return filters_sql.one_of(expressions, param, self.array_type), {param: sorted(value)}
        if self.match is Match.NONE_OF:
            return filters_sql.none_of(expressions, param), {param: sorted(self.excluded)}
        return filters_sql.contains(expressions, param), {param: f"%{_escape_like(fold(value))}%"}


FIELDS: tuple[FilterField, ...] = (
    # authentik's "Exclude successful tasks", on by default (status.SUCCESSFUL): a status tasktui
    # does not know (a newer authentik's) is shown, never filtered away.
    FilterField(
        "hide_successful",
        Match.NONE_OF,
        lambda t: (t.effective_status,),
        lambda q: (f"({q.effective_status})",),
        excluded=SUCCESSFUL,
    ),
    FilterField("statuses", Match.ONE_OF, lambda t: (t.effective_status,), lambda q: (f"({q.effective_status})",)),
    FilterField("actors", Match.ONE_OF, lambda t: (t.actor_name,), lambda q: ("t.actor_name",)),
    FilterField("queues", Match.ONE_OF, lambda t: (t.queue_name,), lambda q: ("t.queue_name",)),
    FilterField(
        "tenants", Match.ONE_OF, lambda t: (t.tenant_name, t.tenant_id), lambda q: (q.tenant_name, q.tenant_id)
    ),
    FilterField("related", Match.CONTAINS, lambda t: (t.related,), lambda q: (q.related,)),
    # Compared as uuids in SQL: the primary key's index serves a long list (an error group).
    FilterField(
        "message_ids", Match.ONE_OF, lambda t: (t.message_id,), lambda q: ("t.message_id",), array_type="uuid[]"
    ),
    FilterField(
        "text",
        Match.CONTAINS,
        # The table's "actor:uid" too, so that what a row shows can be pasted into the search.
        lambda t: (t.actor_name, t.uid, t.display_uid, t.message_id),
        lambda q: ("t.actor_name", q.uid, f"(t.actor_name || ':' || NULLIF({q.uid}, ''))", "t.message_id::text"),
    ),
)


@dataclass(frozen=True)
class TaskFilter:
    text: str = ""  # substring of actor, uid, "actor:uid" or message id (case-insensitive)
    statuses: frozenset[str] = field(default_factory=frozenset)  # effective status keys; empty = any
    actors: frozenset[str] = field(default_factory=frozenset)  # exact actor names (bulk retry's --actor)
    queues: frozenset[str] = field(default_factory=frozenset)
    tenants: frozenset[str] = field(default_factory=frozenset)  # tenant names or ids
    related: str = ""  # "app.model" or "app.model:id" (substring)
    # Exactly these tasks (canonical message ids), e.g. an error group handed to bulk retry; empty = any.
    message_ids: frozenset[str] = field(default_factory=frozenset)
    hide_successful: bool = True  # authentik's "Exclude successful tasks", on by default (status.SUCCESSFUL)

    def with_(self, **changes: Any) -> TaskFilter:
        return replace(self, **changes)

    @property
    def is_default(self) -> bool:
        return self == TaskFilter()

    def _active(self) -> Iterable[tuple[FilterField, Any]]:
        for facet in FIELDS:
            value = getattr(self, facet.name)
            if facet.active(value):
                yield facet, value

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
        return all(facet.matches(value, task) for facet, value in self._active())

    def where_sql(self, queries: TaskQueries) -> tuple[str, dict[str, Any]]:
        """The same filter as a WHERE condition over `queries.select` (aliases t, tn, ct)."""
        clauses: list[str] = []
        params: dict[str, Any] = {}
        for facet, value in self._active():
            clause, values = facet.where_sql(value, queries)
            clauses.append(clause)
            params |= values
        return (" AND ".join(clauses) or "true"), params


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
