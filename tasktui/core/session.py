"""A session on a database holding authentik's task tables, and the shape of those tables (TableShape).

authentik's task tables changed across releases: 2025.8 had no task log table and no eta or
retries columns; later releases may drop `tenant_id`. The console reads that shape once per
connection and adapts its queries to it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import psycopg
from psycopg import sql

from tasktui.core import db
from tasktui.core.sql import catalog
from tasktui.errors import MissingPrivilege, MissingTables

TASK_TABLE = "authentik_tasks_task"
TASKLOG_TABLE = "authentik_tasks_tasklog"
WORKERSTATUS_TABLE = "authentik_tasks_workerstatus"
TENANT_TABLE = "authentik_tenants_tenant"
CONTENT_TYPE_TABLE = "django_content_type"

# At most this many tenant schemas are compared (and joined) for content types.
MAX_TENANT_SCHEMAS = 100

NO_TABLES_MESSAGE = "this database has no authentik task tables; run `tasktui schema apply` for a standalone setup"


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


async def detect_shape(conn: psycopg.AsyncConnection) -> TableShape:
    """Find the task tables and read their columns; raise MissingTables if there are none."""
    try:
        row = await (await conn.execute(catalog.TASK_TABLE_SCHEMA)).fetchone()
    except psycopg.errors.InsufficientPrivilege as exc:
        raise MissingPrivilege(f"cannot read the catalog: {exc}") from None
    if row is None:
        # Name the database: a mistyped dbname must not read as "create the tables here".
        where = db.connected_label(conn)
        raise MissingTables(f"{NO_TABLES_MESSAGE} (connected to {where}; is that the right database?)")
    schema = row[0]
    tables = [TASK_TABLE, TASKLOG_TABLE, WORKERSTATUS_TABLE, TENANT_TABLE, CONTENT_TYPE_TABLE]
    columns: dict[str, set[str]] = {name: set() for name in tables}
    cursor = await conn.execute(catalog.TABLE_COLUMNS, {"schema": schema, "tables": tables})
    for table, column in await cursor.fetchall():
        columns[table].add(column)
    migrations: tuple[str, ...] = ()
    await conn.execute(catalog.SET_SEARCH_PATH, {"path": quote_ident(schema)})
    if (await (await conn.execute(catalog.DJANGO_MIGRATIONS_EXISTS)).fetchone())[0]:
        try:
            cursor = await conn.execute(catalog.TASK_MIGRATIONS)
            migrations = tuple(name for (name,) in await cursor.fetchall())
        except psycopg.errors.InsufficientPrivilege:
            migrations = ()
    # The names of tenants and related objects are cosmetic: a role that may read the task
    # tables only still gets its console, with ids where the names would be, and the queries
    # leave out the joins it may not make (each would fail the whole statement).
    present = {TENANT_TABLE: "tenant_uuid", CONTENT_TYPE_TABLE: "app_label"}
    readable: dict[str, bool] = {}
    for table, column in present.items():
        readable[table] = column in columns[table] and await has_table_privilege(conn, table, "SELECT")
    shape = TableShape(
        schema=schema,
        task_columns=frozenset(columns[TASK_TABLE]),
        tasklog_columns=frozenset(columns[TASKLOG_TABLE]),
        workerstatus_columns=frozenset(columns[WORKERSTATUS_TABLE]),
        has_tenant_table=readable[TENANT_TABLE],
        has_content_type_table=readable[CONTENT_TYPE_TABLE],
        migrations=migrations,
        unreadable_lookups=tuple(
            table
            for table, column in present.items()
            if column in columns[table]
            and not readable[table]
            and (table != TENANT_TABLE or "tenant_id" in columns[TASK_TABLE])
        ),
    )
    if shape.has_tenant and shape.has_tenant_table and shape.has_content_type_table:
        shape = replace(shape, tenant_content_types=await _tenant_content_types(conn, schema))
    return shape


async def _tenant_content_types(conn: psycopg.AsyncConnection, schema: str) -> tuple[tuple[str, str], ...]:
    """Tenants whose schema names content types differently from the task schema (see TableShape)."""
    try:
        cursor = await conn.execute(
            catalog.TENANT_CONTENT_TYPE_SCHEMAS, {"schema": schema, "limit": MAX_TENANT_SCHEMAS}
        )
        differing = []
        for tenant_uuid, schema_name in await cursor.fetchall():
            query = sql.SQL(catalog.CONTENT_TYPES_DIFFER).format(schema=sql.Identifier(schema_name))
            if (await (await conn.execute(query)).fetchone())[0]:
                differing.append((tenant_uuid, schema_name))
    except psycopg.errors.InsufficientPrivilege:
        return ()  # the task schema's names, as before: better than no console
    return tuple(differing)


def quote_ident(name: str) -> str:
    """An SQL identifier, quoted as Postgres's quote_ident would (for SQL built without a connection)."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    """An SQL string literal (standard_conforming_strings, on since PostgreSQL 9.1)."""
    return "'" + text.replace("'", "''") + "'"


async def has_table_privilege(conn: psycopg.AsyncConnection, table: str, privilege: str) -> bool:
    row = await (await conn.execute(catalog.TABLE_PRIVILEGE, {"table": table, "privilege": privilege})).fetchone()
    return bool(row and row[0])


async def require_table_privileges(
    conn: psycopg.AsyncConnection, needed: list[tuple[str, str]], *, purpose: str
) -> None:
    """Raise MissingPrivilege naming the first (privilege, table) the current role lacks."""
    for privilege, table in needed:
        if not await has_table_privilege(conn, table, privilege):
            role = (await (await conn.execute(catalog.CURRENT_ROLE)).fetchone())[0]
            raise MissingPrivilege(f"role {role!r} lacks {privilege} on {table}, needed to {purpose}")


@dataclass
class Session:
    """An open connection to the watched database plus what we learned about it."""

    conn: psycopg.AsyncConnection
    shape: TableShape
    target: db.Target
    label: str

    async def close(self) -> None:
        await self.conn.close()

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


async def open_session(target: db.Target, *, require_tables: bool = True) -> Session:
    """Connect, find the task tables (or raise MissingTables) and check we may read them."""
    conn = await db.connect(target)
    try:
        shape = await detect_shape(conn)
        if require_tables:
            await require_table_privileges(conn, [("SELECT", TASK_TABLE)], purpose="show tasks")
    except BaseException:
        await conn.close()
        raise
    return Session(conn=conn, shape=shape, target=target, label=db.connected_label(conn))
