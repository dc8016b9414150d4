"""Install, inspect and remove tasktui's notify trigger (schema/tasktui_notify.sql).

Install is idempotent and upgrades in place: inside one transaction it drops every trigger
named `tasktui_*` on the task tables, then (re)creates the console table if missing, the
functions and the triggers, and takes every right on them away from everyone but the installer
(consoles register through SECURITY DEFINER functions; see the script). authentik's own
triggers and functions are never touched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

import psycopg
from psycopg import sql

from tasktui.core import db
from tasktui.core.schema_files import read_schema_file
from tasktui.core.session import detect_shape
from tasktui.core.shape import TASK_TABLE, TASKLOG_TABLE, WORKERSTATUS_TABLE, TableShape, quote_ident, quote_literal
from tasktui.core.sql import catalog
from tasktui.core.sql import trigger as trigger_sql
from tasktui.core.text import escape_control
from tasktui.errors import MissingPrivilege

# 2: registration only through functions that check the caller; a channel per console.
# 3: two modes — NOTIFY while the rate is low, an unlogged change table that consoles drain when a
#    console asks for it (no NOTIFY, so no cluster-wide commit lock for authentik's writers).
TRIGGER_VERSION = 3
DEFAULT_CHANNEL = "tasktui"
# A channel *prefix*: each console listens on `<prefix>_<32 random hex digits>`, which must fit
# Postgres's 63-byte identifiers (the script checks the same pattern).
CHANNEL_PATTERN = re.compile(r"^tasktui[A-Za-z0-9_.-]{0,23}$")
# Live registrations one role may hold: each adds a NOTIFY per change to every writer's commit.
MAX_CONSOLES_PER_ROLE = 20
# The functions the install creates, by signature as regprocedure spells it (uninstall drops these).
FUNCTIONS = (
    "tasktui_notify()",
    "tasktui_caller()",
    "tasktui_effective_mode()",
    "tasktui_register(uuid,text,text)",
    "tasktui_heartbeat(uuid)",
    "tasktui_mode(uuid,text)",
    "tasktui_drain(uuid,pg_snapshot,boolean)",
    "tasktui_unregister(uuid)",
)
# The two ways the trigger hands a change on (see the install script's header).
NOTIFY_MODE = "notify"
DRAIN_MODE = "drain"
MODES = (NOTIFY_MODE, DRAIN_MODE)

# A console heartbeats this often; the trigger ignores it once its heartbeat is this old.
HEARTBEAT_SECONDS = 5.0
STALE_AFTER = "20 seconds"
# Drained change rows are kept this long (longer than STALE_AFTER: a console that has not drained
# for that long has lapsed and re-checks), then dropped by whoever drains, this many per call.
CHANGES_RETENTION = "60 seconds"
TIDY_BATCH = 20_000

# Columns whose change a viewer can see. An UPDATE that changes none of them (authentik saves
# non-broker fields after postprocess, and stores a rejected task's exception in a second
# update) is filtered out by the trigger's WHEN clause before any function runs.
# `tenant_id` is left out on purpose: a task never changes tenant, and a WHEN clause naming it
# would be dropped with the column by authentik's own migration (Django drops columns with
# CASCADE), silently muting every task update.
VISIBLE_COLUMNS = {
    TASK_TABLE: (
        "state",
        "aggregated_status",
        "mtime",
        "eta",
        "retries",
        "queue_name",
        "actor_name",
        "_uid",
        "rel_obj_id",
        "rel_obj_content_type_id",
        "result_expiry",
    ),
    TASKLOG_TABLE: ("previous", "log_level", "event", "logger", "timestamp", "task_id", "attributes"),
    WORKERSTATUS_TABLE: ("hostname", "version", "last_seen"),
}


def validate_channel(channel: str) -> str:
    """A channel prefix as given on the command line, or ValueError saying what is allowed."""
    if not CHANNEL_PATTERN.match(channel):
        raise ValueError(
            f"invalid channel '{escape_control(channel)}': it must start with 'tasktui', be at most 30"
            " characters long and use only letters, digits, _ . -"
        )
    return channel


def _when_changed(columns: frozenset[str], table: str) -> str:
    present = [c for c in VISIBLE_COLUMNS[table] if c in columns]
    return " OR ".join(f'OLD."{c}" IS DISTINCT FROM NEW."{c}"' for c in present)


def render_install_sql(shape: TableShape, template: str | None = None, *, version: int = TRIGGER_VERSION) -> str:
    """The install script for this layout, with its placeholders filled in (`template` and
    `version`: an older release's script, for tests that upgrade from it)."""
    text = read_schema_file("tasktui_notify.sql") if template is None else template
    if not shape.has_tasklog:
        text = re.sub(r"-- @if tasklog\n.*?-- @endif\n", "", text, flags=re.DOTALL)
    schema = quote_ident(shape.schema)
    replacements = {
        "@schema_literal@": quote_literal(schema),
        "@task_table@": quote_literal(f"{schema}.{TASK_TABLE}"),
        "@console_table@": quote_literal(f"{schema}.tasktui_console"),
        "@changes_table@": quote_literal(f"{schema}.tasktui_changes"),
        "@schema@": schema,
        "@stale_after@": STALE_AFTER,
        "@retention@": CHANGES_RETENTION,
        "@tidy_batch@": str(TIDY_BATCH),
        "@max_consoles@": str(MAX_CONSOLES_PER_ROLE),
        "@version@": str(version),
        "@task_when@": _when_changed(shape.task_columns, TASK_TABLE),
        "@tasklog_when@": _when_changed(shape.tasklog_columns, TASKLOG_TABLE) or "false",
        "@workerstatus_when@": _when_changed(shape.workerstatus_columns, WORKERSTATUS_TABLE),
    }
    for placeholder, value in replacements.items():
        text = text.replace(placeholder, value)
    return text


@dataclass
class ConsoleInfo:
    console_id: str
    channel: str
    username: str
    hostname: str
    backend_pid: int
    started: datetime
    heartbeat: datetime
    wants: str = NOTIFY_MODE  # what this console asks the trigger for (version 3)
    wants_since: datetime | None = None


def expected_triggers(shape: TableShape) -> set[tuple[str, str]]:
    """The (table, trigger) pairs the install script creates for this layout."""
    script = render_install_sql(shape)
    return {
        (table, trigger)
        for trigger, table in re.findall(r"CREATE TRIGGER (\w+)\s.*?\.(authentik_tasks_\w+)", script, flags=re.DOTALL)
    }


@dataclass
class TriggerStatus:
    installed: bool
    version: int | None
    triggers: list[tuple[str, str]] = field(default_factory=list)
    # None: this role may not read the registrations (since version 2 only the installer may).
    consoles: list[ConsoleInfo] | None = field(default_factory=list)
    # Triggers of the install that are gone: dropping a column a WHEN clause names drops the
    # trigger with it (Django migrations drop columns with CASCADE).
    missing: list[str] = field(default_factory=list)
    # What the trigger does now (version 3): drain while a live console asks for it. None: unknown
    # (an older version, or a role that may not read the registrations).
    mode: str | None = None
    # Change rows waiting in the drain table (None: unknown).
    changes_waiting: int | None = None

    @property
    def mode_askers(self) -> list[ConsoleInfo]:
        return [c for c in self.consoles or () if c.wants == DRAIN_MODE]

    @property
    def current(self) -> bool:
        return self.installed and self.version == TRIGGER_VERSION and not self.missing

    def describe(self) -> str:
        if not self.installed:
            return "not installed (the console polls; run `tasktui trigger install` for live updates)"
        if self.missing:
            state = f"incomplete: {', '.join(self.missing)} missing; run `tasktui trigger install`"
        elif self.current:
            state = "current"
        else:
            state = f"outdated (v{self.version}; run `tasktui trigger install`)"
        if self.consoles is None:
            watching = "who is watching is for the installer's role to see"
        else:
            watching = f"{len(self.consoles)} console(s) watching now"
        text = f"installed, version {self.version} ({state}); {watching}"
        if self.mode == DRAIN_MODE:
            askers = ", ".join(f"{c.username}@{c.hostname} pid {c.backend_pid}" for c in self.mode_askers[:3])
            text += f"; mode: drain (asked by {askers})"
        elif self.mode == NOTIFY_MODE:
            text += "; mode: notify"
        if self.changes_waiting:
            text += f"; {self.changes_waiting:,} change rows kept for draining"
        return text


def _tables_present(shape: TableShape) -> list[str]:
    tables = [TASK_TABLE]
    if shape.has_tasklog:
        tables.append(TASKLOG_TABLE)
    if shape.has_workerstatus:
        tables.append(WORKERSTATUS_TABLE)
    return tables


async def _require_install_privileges(conn: psycopg.AsyncConnection, shape: TableShape) -> None:
    role = await db.fetch_value(conn, catalog.CURRENT_ROLE)
    for table in _tables_present(shape):
        if not await db.fetch_value(conn, catalog.TABLE_PRIVILEGE, {"table": table, "privilege": "TRIGGER"}):
            raise MissingPrivilege(f"role {role!r} lacks TRIGGER on {table}, needed to install the notify trigger")
    if not await db.fetch_value(conn, catalog.SCHEMA_PRIVILEGE, {"schema": shape.schema, "privilege": "CREATE"}):
        raise MissingPrivilege(
            f"role {role!r} lacks CREATE on schema {shape.schema}, needed to install the notify trigger"
        )


async def _drop_our_triggers(conn: psycopg.AsyncConnection, shape: TableShape) -> None:
    rows = await (await conn.execute(trigger_sql.INSTALLED_TRIGGERS, {"schema": shape.schema})).fetchall()
    for table, trigger in rows:
        await conn.execute(
            sql.SQL(trigger_sql.DROP_TRIGGER).format(
                trigger=sql.Identifier(trigger),
                schema=sql.Identifier(shape.schema),
                table=sql.Identifier(table),
            )
        )


async def install(conn: psycopg.AsyncConnection, shape: TableShape | None = None) -> TriggerStatus:
    """Install or upgrade the trigger in one short transaction; returns the new status."""
    shape = shape or await detect_shape(conn)
    await _require_install_privileges(conn, shape)
    script = render_install_sql(shape)
    async with conn.transaction():
        # CREATE TRIGGER briefly locks the task table against writes: never queue behind a
        # long transaction (and so block the workers queued behind us) for more than this.
        await conn.execute("SET LOCAL lock_timeout = '3s'")
        await _drop_our_triggers(conn, shape)
        await conn.execute(script)  # our own file, not user input
    return await status(conn, shape)


async def uninstall(conn: psycopg.AsyncConnection, shape: TableShape | None = None) -> None:
    """Remove every object the trigger install created; leave authentik's objects as they are."""
    shape = shape or await detect_shape(conn)
    schema = sql.Identifier(shape.schema)
    async with conn.transaction():
        await conn.execute("SET LOCAL lock_timeout = '3s'")
        await _drop_our_triggers(conn, shape)
        for signature in FUNCTIONS:
            # Our own constant signatures, appended to the composed schema identifier.
            await conn.execute(sql.SQL(trigger_sql.DROP_FUNCTION).format(schema=schema, function=sql.SQL(signature)))
        await conn.execute(sql.SQL(trigger_sql.DROP_CONSOLE_TABLE).format(schema=schema))
        await conn.execute(sql.SQL(trigger_sql.DROP_CHANGES_TABLE).format(schema=schema))


async def status(conn: psycopg.AsyncConnection, shape: TableShape | None = None) -> TriggerStatus:
    shape = shape or await detect_shape(conn)
    triggers = [
        tuple(r)
        for r in await (await conn.execute(trigger_sql.INSTALLED_TRIGGERS, {"schema": shape.schema})).fetchall()
    ]
    comment_row = await (await conn.execute(trigger_sql.FUNCTION_COMMENT, {"schema": shape.schema})).fetchone()
    version = None
    if comment_row and comment_row[0]:
        match = re.search(r"version (\d+)", comment_row[0])
        version = int(match.group(1)) if match else None
    console_table = bool(await db.fetch_value(conn, trigger_sql.CONSOLE_TABLE_EXISTS))
    consoles: list[ConsoleInfo] | None = []
    mode: str | None = None
    changes_waiting: int | None = None
    if console_table:
        try:
            async with conn.transaction():
                has_wants = bool(await db.fetch_value(conn, trigger_sql.CONSOLE_HAS_WANTS))
                query = trigger_sql.ACTIVE_CONSOLES if has_wants else trigger_sql.ACTIVE_CONSOLES_BEFORE_MODES
                rows = await (await conn.execute(query, {"stale_after": STALE_AFTER})).fetchall()
            consoles = [ConsoleInfo(str(r[0]), *r[1:]) for r in rows]
            if has_wants:
                mode = DRAIN_MODE if any(c.wants == DRAIN_MODE for c in consoles) else NOTIFY_MODE
        except psycopg.errors.InsufficientPrivilege:
            consoles = None  # only the installer reads the registrations
        if await db.fetch_value(conn, trigger_sql.CHANGES_TABLE_EXISTS):
            try:
                async with conn.transaction():
                    waiting = await (await conn.execute(trigger_sql.CHANGES_WAITING)).fetchone()
                changes_waiting = int(waiting[0]) if waiting else None
            except psycopg.errors.InsufficientPrivilege:
                changes_waiting = None
    installed = bool(triggers) and comment_row is not None and console_table
    missing = sorted(name for _, name in expected_triggers(shape) - set(triggers)) if installed else []
    return TriggerStatus(
        installed=installed,
        version=version,
        triggers=triggers,
        consoles=consoles,
        missing=missing,
        mode=mode,
        changes_waiting=changes_waiting,
    )
