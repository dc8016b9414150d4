"""tasktui's notify trigger: install, status, removal, and console registration."""

# tasktui's triggers on the task tables (any version: installs replace them all by prefix).
INSTALLED_TRIGGERS = r"""
SELECT c.relname, t.tgname
FROM pg_catalog.pg_trigger AS t
JOIN pg_catalog.pg_class AS c ON c.oid = t.tgrelid
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
WHERE n.nspname = %(schema)s AND t.tgname LIKE 'tasktui\_%%' AND NOT t.tgisinternal
ORDER BY c.relname, t.tgname
"""

# The version marker, kept in the comment of the trigger function.
FUNCTION_COMMENT = """
SELECT obj_description(p.oid, 'pg_proc')
FROM pg_catalog.pg_proc AS p
JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
WHERE n.nspname = %(schema)s AND p.proname = 'tasktui_notify'
"""

CONSOLE_TABLE_EXISTS = "SELECT to_regclass('tasktui_console') IS NOT NULL"

# What a console can use here: (the functions of version 3+, the console table of any version).
REGISTRATION_AVAILABLE = """
SELECT to_regprocedure('tasktui_drain(uuid, pg_snapshot, boolean)') IS NOT NULL,
       to_regclass('tasktui_console') IS NOT NULL
"""

DROP_FUNCTION = "DROP FUNCTION IF EXISTS {schema}.{function}"
DROP_CONSOLE_TABLE = "DROP TABLE IF EXISTS {schema}.tasktui_console"
DROP_CHANGES_TABLE = "DROP TABLE IF EXISTS {schema}.tasktui_changes"
DROP_TRIGGER = "DROP TRIGGER IF EXISTS {trigger} ON {schema}.{table}"

# Consoles announce themselves through the install's functions (they check the caller, set the
# heartbeat to the server's clock and LISTEN on the console's own channel, which they return);
# the trigger notifies only while one has a recent heartbeat.
REGISTER_CONSOLE = "SELECT tasktui_register(%(console_id)s::uuid, %(prefix)s::text, %(hostname)s::text)"

# NULL once the registration is gone; else whether it had lapsed (the trigger skipped us for a while).
HEARTBEAT = "SELECT tasktui_heartbeat(%(console_id)s::uuid)"

# The heartbeat of version 3, in the same round trip: also the mode the trigger follows now.
HEARTBEAT_AND_MODE = "SELECT tasktui_heartbeat(%(console_id)s::uuid), tasktui_mode(%(console_id)s::uuid, NULL)"

# Ask the trigger for a mode ('notify' | 'drain'); answers the mode it follows now.
REQUEST_MODE = "SELECT tasktui_mode(%(console_id)s::uuid, %(wants)s::text)"

# The changes recorded since the snapshot `since` (NULL: start from now) and the snapshot to pass
# next time; `tidy`: also drop rows past their retention.
DRAIN = (
    "SELECT snapshot::text, xid::text, kind, op, row_id::text, task_id::text"
    " FROM tasktui_drain(%(console_id)s::uuid, %(since)s::pg_snapshot, %(tidy)s)"
)

# Version 3's registration table has the consoles' wishes.
CONSOLE_HAS_WANTS = """
SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute
               WHERE attrelid = to_regclass('tasktui_console') AND attname = 'wants' AND NOT attisdropped)
"""

CHANGES_TABLE_EXISTS = "SELECT to_regclass('tasktui_changes') IS NOT NULL"
CHANGES_WAITING = "SELECT count(*) FROM (SELECT 1 FROM tasktui_changes LIMIT 1000000) AS c"

UNREGISTER_CONSOLE = "SELECT tasktui_unregister(%(console_id)s::uuid)"

# Consoles whose heartbeat is recent enough for the trigger to notify them.
ACTIVE_CONSOLES = """
SELECT console_id, channel, username, hostname, backend_pid, started, heartbeat, wants, wants_since
FROM tasktui_console
WHERE heartbeat > now() - %(stale_after)s::interval
ORDER BY started
"""
ACTIVE_CONSOLES_BEFORE_MODES = """
SELECT console_id, channel, username, hostname, backend_pid, started, heartbeat
FROM tasktui_console
WHERE heartbeat > now() - %(stale_after)s::interval
ORDER BY started
"""

# The feed's own marker on its channel: delivered after every notification committed before it.
SEND_SENTINEL = "SELECT pg_notify(%(channel)s, %(payload)s)"
