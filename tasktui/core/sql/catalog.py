"""Catalog look-ups: where the task tables live, which layout they have, what we may do."""

# The schema holding authentik's task table, preferring the one first on the search_path.
TASK_TABLE_SCHEMA = """
SELECT n.nspname
FROM pg_catalog.pg_class AS c
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
WHERE c.relname = 'authentik_tasks_task' AND c.relkind IN ('r', 'p')
ORDER BY array_position(current_schemas(false), n.nspname::text) NULLS LAST, n.nspname
LIMIT 1
"""

# Columns of the task system's tables in one schema.
TABLE_COLUMNS = """
SELECT c.relname, a.attname
FROM pg_catalog.pg_attribute AS a
JOIN pg_catalog.pg_class AS c ON c.oid = a.attrelid
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
WHERE n.nspname = %(schema)s
  AND c.relname = ANY (%(tables)s)
  AND a.attnum > 0 AND NOT a.attisdropped
"""

# authentik's applied task migrations, when Django's history table is there.
TASK_MIGRATIONS = """
SELECT name FROM django_migrations WHERE app = 'authentik_tasks' ORDER BY id
"""

DJANGO_MIGRATIONS_EXISTS = "SELECT to_regclass('django_migrations') IS NOT NULL"

SET_SEARCH_PATH = "SELECT pg_catalog.set_config('search_path', %(path)s, false)"

# Table privileges of the current role, for the tables a feature touches.
TABLE_PRIVILEGE = "SELECT has_table_privilege(%(table)s, %(privilege)s)"

SCHEMA_PRIVILEGE = "SELECT has_schema_privilege(%(schema)s, %(privilege)s)"

CURRENT_ROLE = "SELECT current_user"

SERVER_VERSION = "SELECT current_setting('server_version_num')::int"
