"""Queries behind the schedules view: authentik's schedule tables (one per tenant schema) and
each schedule's latest and oldest unfinished task.

A task sent by a schedule has rel_obj_content_type_id = the content type (authentik_tasks_schedules,
schedule) as that tenant's schema numbers it, and rel_obj_id = the schedule's id (reference §1.4,
§10): schedule → tasks is authentik's (rel_obj_content_type_id, rel_obj_id) index.
"""

from __future__ import annotations

SCHEDULE_TABLE = "authentik_tasks_schedules_schedule"

# Schemas holding a schedule table, the task schema's first; whether we may read it (USAGE on
# the schema, SELECT on the table), and whether the schema has a content type table we may read.
# Read from the catalog by oid: resolving a name in a schema without USAGE would raise.
SCHEDULE_SCHEMAS = """
SELECT n.nspname::text,
    has_schema_privilege(n.oid, 'USAGE') AND has_table_privilege(c.oid, 'SELECT'),
    EXISTS (
        SELECT 1 FROM pg_catalog.pg_class AS ct
        WHERE ct.relnamespace = n.oid AND ct.relname = 'django_content_type' AND ct.relkind IN ('r', 'p')
          AND has_schema_privilege(n.oid, 'USAGE') AND has_table_privilege(ct.oid, 'SELECT')
    )
FROM pg_catalog.pg_class AS c
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
WHERE c.relname = 'authentik_tasks_schedules_schedule' AND c.relkind IN ('r', 'p')
ORDER BY n.nspname = %(task_schema)s DESC, n.nspname
LIMIT %(limit)s
"""

# Tenants by schema name, to name the tenant of each schedule table.
TENANTS_BY_SCHEMA = "SELECT schema_name, name FROM authentik_tenants_tenant LIMIT %(limit)s"

# The schedule content type as one schema numbers it ({schema}: a quoted identifier).
SCHEDULE_CONTENT_TYPE = """
SELECT id FROM {schema}.django_content_type WHERE app_label = 'authentik_tasks_schedules' AND model = 'schedule'
"""


def schedules(schema: str, task_select: str) -> str:
    """Every schedule of one schema ({schema}: a quoted identifier, `%` doubled) with its latest
    task (by mtime) in the console's row shape (`task_select`, read by
    tasktui.core.sql.tasks.read_task); at most %(limit)s schedules. %(content_type)s is the
    schema's schedule content type (NULL: no task can link)."""
    return f"""
SELECT s.id::text, s.actor_name, s._uid, s.identifier, s.crontab, s.paused, s.next_run, now(), latest.*
FROM {schema}.authentik_tasks_schedules_schedule AS s
LEFT JOIN LATERAL ({task_select}
    WHERE t.rel_obj_content_type_id = %(content_type)s AND t.rel_obj_id = s.id::text
    ORDER BY t.mtime DESC LIMIT 1) AS latest ON true
ORDER BY s.actor_name, s._uid NULLS FIRST, s.id
LIMIT %(limit)s
"""


def unfinished_tasks(task_select: str) -> str:
    """Unfinished tasks sent by schedules (related to one of the %(content_types)s), oldest first:
    a few rows found over authentik's (state, mtime) index, whatever the size of the table."""
    return (
        f"{task_select} WHERE t.state = ANY (%(unfinished)s::text[])"
        " AND t.rel_obj_content_type_id = ANY (%(content_types)s::int[])"
        " ORDER BY t.mtime LIMIT %(limit)s"
    )
