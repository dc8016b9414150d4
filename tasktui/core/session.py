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
from tasktui.core.shape import (
    CONTENT_TYPE_TABLE,
    TASK_TABLE,
    TASKLOG_TABLE,
    TENANT_TABLE,
    WORKERSTATUS_TABLE,
    TableShape,
    quote_ident,
)
from tasktui.core.sql import catalog
from tasktui.errors import MissingPrivilege, MissingTables

# At most this many tenant schemas are compared (and joined) for content types.
MAX_TENANT_SCHEMAS = 100

NO_TABLES_MESSAGE = "this database has no authentik task tables; run `tasktui schema apply` for a standalone setup"


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
    if await db.fetch_value(conn, catalog.DJANGO_MIGRATIONS_EXISTS):
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
            if await db.fetch_value(conn, query):
                differing.append((tenant_uuid, schema_name))
    except psycopg.errors.InsufficientPrivilege:
        return ()  # the task schema's names, as before: better than no console
    return tuple(differing)


async def has_table_privilege(conn: psycopg.AsyncConnection, table: str, privilege: str) -> bool:
    row = await (await conn.execute(catalog.TABLE_PRIVILEGE, {"table": table, "privilege": privilege})).fetchone()
    return bool(row and row[0])


async def require_table_privileges(
    conn: psycopg.AsyncConnection, needed: list[tuple[str, str]], *, purpose: str
) -> None:
    """Raise MissingPrivilege naming the first (privilege, table) the current role lacks."""
    for privilege, table in needed:
        if not await has_table_privilege(conn, table, privilege):
            role = await db.fetch_value(conn, catalog.CURRENT_ROLE)
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
