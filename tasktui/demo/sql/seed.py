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

SCHEDULE_TABLE_EXISTS = "SELECT to_regclass('authentik_tasks_schedules_schedule') IS NOT NULL"

# authentik_tasks_schedules is a tenant app: a schedule table in every tenant schema, with the
# pgtrigger the mirror defines for the default tenant's ({schema} is an Identifier).
CREATE_TENANT_SCHEDULES = """
CREATE TABLE IF NOT EXISTS {schema}.authentik_tasks_schedules_schedule
    (LIKE authentik_tasks_schedules_schedule INCLUDING ALL)
"""
CREATE_TENANT_SCHEDULE_TRIGGER = """
CREATE OR REPLACE TRIGGER pgtrigger_set_next_run_on_paused_95c6d
    BEFORE UPDATE ON {schema}.authentik_tasks_schedules_schedule
    FOR EACH ROW WHEN (NEW.paused AND NOT OLD.paused)
    EXECUTE PROCEDURE pgtrigger_set_next_run_on_paused_95c6d()
"""

# A schedule as authentik's reconcile creates it (pickled args, kwargs and options); a paused one
# has its next run parked at the epoch. Existing rows are left as they are (a second run).
INSERT_SCHEDULE = """
INSERT INTO {schema}.authentik_tasks_schedules_schedule (
    id, actor_name, args, kwargs, options, crontab, paused, next_run, identifier, _uid,
    rel_obj_id, rel_obj_content_type_id)
VALUES (
    %(id)s, %(actor)s, %(args)s, %(kwargs)s, %(options)s, %(crontab)s, %(paused)s,
    CASE WHEN %(paused)s THEN to_timestamp(0) ELSE now() - %(overdue)s * interval '1 minute' END,
    %(uid)s, %(uid)s, %(rel_obj_id)s, %(rel_obj_content_type_id)s)
ON CONFLICT (id) DO NOTHING
"""

# A message sent %(minutes_ago)s minutes before the demo started (the stuck schedule's task),
# with the log authentik's enqueue writes; nothing when it exists already (a second run).
INSERT_SENT_TASK = """
WITH sent AS (
    INSERT INTO authentik_tasks_task (
        message_id, queue_name, actor_name, message, state, mtime, result, result_expiry,
        rel_obj_id, _uid, _messages, _previous_messages, aggregated_status,
        rel_obj_content_type_id, tenant_id, eta, retries)
    VALUES (
        %(message_id)s, %(queue)s, %(actor)s, %(message)s, 'queued', now() - %(minutes_ago)s * interval '1 minute',
        NULL, NULL, %(rel_obj_id)s, %(uid)s, '[]', '[]', 'queued', %(rel_obj_content_type_id)s, %(tenant_id)s, NULL, 0)
    ON CONFLICT (message_id) DO NOTHING
    RETURNING message_id, mtime
)
INSERT INTO authentik_tasks_tasklog (id, event, log_level, logger, "timestamp", attributes, previous, task_id)
SELECT gen_random_uuid(), 'Task has been queued', 'info', %(logger)s, sent.mtime, '{"delay": null}', false,
    sent.message_id
FROM sent
"""
