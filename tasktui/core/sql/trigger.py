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

DROP_FUNCTION = "DROP FUNCTION IF EXISTS {schema}.tasktui_notify()"
DROP_CONSOLE_TABLE = "DROP TABLE IF EXISTS {schema}.tasktui_console"
DROP_TRIGGER = "DROP TRIGGER IF EXISTS {trigger} ON {schema}.{table}"

# Consoles announce themselves; the trigger notifies only while one has a recent heartbeat.
REGISTER_CONSOLE = """
INSERT INTO tasktui_console (console_id, channel, heartbeat, started, username, hostname, backend_pid)
VALUES (%(console_id)s, %(channel)s, now(), now(), current_user, %(hostname)s, pg_backend_pid())
ON CONFLICT (console_id) DO UPDATE
SET heartbeat = now(), channel = EXCLUDED.channel, backend_pid = EXCLUDED.backend_pid
"""

# Refresh the heartbeat and say whether it had lapsed (the trigger stopped notifying us for a
# while): the subquery reads the row as it was before this statement. No row: it was deleted.
HEARTBEAT = """
UPDATE tasktui_console AS c SET heartbeat = now()
FROM (SELECT heartbeat FROM tasktui_console WHERE console_id = %(console_id)s) AS before
WHERE c.console_id = %(console_id)s
RETURNING before.heartbeat <= now() - %(stale_after)s::interval
"""

UNREGISTER_CONSOLE = "DELETE FROM tasktui_console WHERE console_id = %(console_id)s"

# Consoles whose heartbeat is recent enough for the trigger to notify them.
ACTIVE_CONSOLES = """
SELECT console_id, channel, username, hostname, backend_pid, started, heartbeat
FROM tasktui_console
WHERE heartbeat > now() - %(stale_after)s::interval
ORDER BY started
"""

# Crashed consoles leave rows behind; they stop counting at once, and are swept after a day.
SWEEP_STALE_CONSOLES = "DELETE FROM tasktui_console WHERE heartbeat < now() - interval '1 day'"

# The feed's own marker on its channel: delivered after every notification committed before it.
SEND_SENTINEL = "SELECT pg_notify(%(channel)s, %(payload)s)"
