"""`tasktui schema apply`: create the standalone mirror of authentik's task tables."""

from __future__ import annotations

import psycopg

from tasktui.core import db
from tasktui.core.schema_files import read_schema_file
from tasktui.core.sql import catalog
from tasktui.errors import MissingPrivilege, UserFacingError


class TablesAlreadyExist(UserFacingError):
    exit_code = 6


async def apply_mirror(conn: psycopg.AsyncConnection) -> None:
    """Create the mirror in one transaction; refuse if authentik's task tables exist already."""
    if (await (await conn.execute(catalog.TASK_TABLE_SCHEMA)).fetchone()) is not None:
        raise TablesAlreadyExist(
            "authentik's task tables already exist in this database; nothing was changed"
            " (use `tasktui trigger install` to add live updates to them)"
        )
    script = read_schema_file("authentik_mirror.sql")
    try:
        async with conn.transaction():
            await conn.execute(script)  # our own file, not user input
    except psycopg.errors.InsufficientPrivilege as exc:
        role = await db.fetch_value(conn, catalog.CURRENT_ROLE)
        raise MissingPrivilege(
            f"role {role!r} may not create the mirror here ({exc.diag.message_primary}); it needs CREATE on the schema"
        ) from None
