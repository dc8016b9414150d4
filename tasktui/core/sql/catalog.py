"""Catalog look-ups: where the task tables live, which shape they have, what we may do."""

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

# Tenants whose own schema holds a content type table we may read (authentik keeps one per tenant
# schema and records a task's rel_obj_content_type_id as looked up there; the task's tenant's
# table is the one that names it). Bounded: a console reads at most %(limit)s of them.
TENANT_CONTENT_TYPE_SCHEMAS = """
SELECT tn.tenant_uuid::text, tn.schema_name
FROM authentik_tenants_tenant AS tn
WHERE tn.schema_name <> %(schema)s
  AND to_regclass(format('%%I.django_content_type', tn.schema_name)) IS NOT NULL
  AND has_table_privilege(to_regclass(format('%%I.django_content_type', tn.schema_name)), 'SELECT')
ORDER BY tn.schema_name
LIMIT %(limit)s
"""

# Whether a tenant schema's content types name any id differently from the task schema's ({schema}
# is an Identifier). Most installations: identical, and the plain join stays.
CONTENT_TYPES_DIFFER = """
SELECT EXISTS (
    SELECT id, app_label, model FROM {schema}.django_content_type
    EXCEPT SELECT id, app_label, model FROM django_content_type
)
"""

SET_SEARCH_PATH = "SELECT pg_catalog.set_config('search_path', %(path)s, false)"

# Table privileges of the current role, for the tables a feature touches.
TABLE_PRIVILEGE = "SELECT has_table_privilege(%(table)s, %(privilege)s)"

SCHEMA_PRIVILEGE = "SELECT has_schema_privilege(%(schema)s, %(privilege)s)"

CURRENT_ROLE = "SELECT current_user"

SERVER_VERSION = "SELECT current_setting('server_version_num')::int"
