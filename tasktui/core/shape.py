"""The shape of a database's task tables: which of authentik's tables and columns are there and
may be read (releases differ: 2025.8 had no task log table and no eta or retries columns; later
releases may drop `tenant_id`). Read once per connection by tasktui.core.session.detect_shape; the
SQL modules build their statements for it."""

from __future__ import annotations

from dataclasses import dataclass

TASK_TABLE = "authentik_tasks_task"
TASKLOG_TABLE = "authentik_tasks_tasklog"
WORKERSTATUS_TABLE = "authentik_tasks_workerstatus"
TENANT_TABLE = "authentik_tenants_tenant"
CONTENT_TYPE_TABLE = "django_content_type"


@dataclass(frozen=True)
class TableShape:
    """What the task tables of this database look like."""

    schema: str
    task_columns: frozenset[str]
    tasklog_columns: frozenset[str]
    workerstatus_columns: frozenset[str]
    has_tenant_table: bool  # there, and readable by this role
    has_content_type_table: bool  # there, and readable by this role
    migrations: tuple[str, ...] = ()
    # Lookup tables that are there but this role may not read: their names are shown as ids.
    unreadable_lookups: tuple[str, ...] = ()
    # (tenant uuid, schema name) of tenants whose schema's content types differ from the task
    # schema's: their tasks' related objects are named from their own schema.
    tenant_content_types: tuple[tuple[str, str], ...] = ()

    @property
    def has_tasklog(self) -> bool:
        """2025.10 and later keep logs in their own table; 2025.8 only in `_messages`."""
        return bool(self.tasklog_columns)

    @property
    def has_workerstatus(self) -> bool:
        return bool(self.workerstatus_columns)

    @property
    def has_tenant(self) -> bool:
        """Later releases drop `tenant_id` from tasks."""
        return "tenant_id" in self.task_columns

    @property
    def has_eta(self) -> bool:
        """`eta` and `retries` arrived in 2025.10."""
        return "eta" in self.task_columns

    @property
    def has_retries(self) -> bool:
        return "retries" in self.task_columns

    @property
    def has_legacy_messages(self) -> bool:
        return "_messages" in self.task_columns

    @property
    def lookup_notice(self) -> str:
        """What the console shows instead of names it may not read ("" when it reads them all)."""
        if not self.unreadable_lookups:
            return ""
        shown = {TENANT_TABLE: "tenant names", CONTENT_TYPE_TABLE: "related object types"}
        what = " and ".join(shown[table] for table in self.unreadable_lookups)
        tables = ", ".join(self.unreadable_lookups)
        return f"{what} shown as ids: this role may not read {tables} (GRANT SELECT on it for names)"

    def describe(self) -> str:
        """A short human description of the detected release family."""
        parts = []
        if not self.has_tasklog:
            parts.append("no task log table (2025.8 layout)")
        if not self.has_tenant:
            parts.append("no tenant column")
        if not self.has_eta:
            parts.append("no eta/retries columns")
        return ", ".join(parts) or "authentik 2025.10+ layout"


def quote_ident(name: str) -> str:
    """An SQL identifier, quoted as Postgres's quote_ident would (for SQL built without a connection)."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    """An SQL string literal (standard_conforming_strings, on since PostgreSQL 9.1)."""
    return "'" + text.replace("'", "''") + "'"
