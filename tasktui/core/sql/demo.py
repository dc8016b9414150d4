"""The demo's own writes: its tenants, content types and bulk-seeded history (`tasktui demo`).

Life-cycle steps of the simulated workers live in broker.py; these statements only set the
scene a real installation would already have.
"""

# A real authentik database has migrations of many apps; tasktui's mirror only of the task app.
# The demo refuses to write fake tasks anywhere else.
FOREIGN_MIGRATIONS = "SELECT count(*) FROM django_migrations WHERE app <> 'authentik_tasks'"

TENANTS = "SELECT tenant_uuid, schema_name, name FROM authentik_tenants_tenant"

INSERT_TENANT = """
INSERT INTO authentik_tenants_tenant (tenant_uuid, schema_name, name, ready)
VALUES (%(tenant_uuid)s, %(schema_name)s, %(name)s, true)
ON CONFLICT (schema_name) DO NOTHING
"""

INSERT_CONTENT_TYPE = """
INSERT INTO django_content_type (app_label, model)
VALUES (%(app_label)s, %(model)s)
ON CONFLICT (app_label, model) DO NOTHING
"""

CONTENT_TYPES = "SELECT id, app_label, model FROM django_content_type"

# django.contrib.contenttypes is a tenant app: every tenant schema has its own table, with the
# same ids as the public one when the schemas were migrated alike. {schema} is an Identifier.
CREATE_TENANT_SCHEMA = "CREATE SCHEMA IF NOT EXISTS {schema}"
CREATE_TENANT_CONTENT_TYPES = """
CREATE TABLE IF NOT EXISTS {schema}.django_content_type (LIKE django_content_type INCLUDING ALL)
"""
COPY_TENANT_CONTENT_TYPES = """
INSERT INTO {schema}.django_content_type (id, app_label, model)
SELECT id, app_label, model FROM django_content_type
WHERE NOT EXISTS (SELECT 1 FROM {schema}.django_content_type AS t WHERE t.id = django_content_type.id)
"""

ANY_TASK = "SELECT EXISTS (SELECT 1 FROM authentik_tasks_task)"
TASK_EXISTS = "SELECT EXISTS (SELECT 1 FROM authentik_tasks_task WHERE message_id = %(message_id)s)"

# History goes in with COPY: thousands of rows in a fraction of a second.
COPY_TASKS = """
COPY authentik_tasks_task (
    message_id, queue_name, actor_name, message, state, mtime, result, result_expiry,
    rel_obj_id, _uid, _messages, _previous_messages, aggregated_status,
    rel_obj_content_type_id, tenant_id, eta, retries)
FROM STDIN
"""
COPY_TASKLOGS = """
COPY authentik_tasks_tasklog (id, event, log_level, logger, "timestamp", attributes, previous, task_id)
FROM STDIN
"""

TASK_COUNT = "SELECT count(*) FROM authentik_tasks_task"

# After a bulk load: statistics now rather than at autovacuum's next visit.
ANALYZE_TASK_TABLES = "ANALYZE authentik_tasks_task, authentik_tasks_tasklog"
