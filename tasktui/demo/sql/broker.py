"""The writes authentik's dramatiq broker makes, step by step (reference §3), for the demo's
simulated workers and for tests. The re-enqueue log writes (MARK_LOGS_PREVIOUS, INSERT_LOG) are
the console's own when it retries a task: they live in tasktui.core.sql.retry."""

DEFAULT_TENANT = "SELECT tenant_uuid FROM authentik_tenants_tenant ORDER BY schema_name = 'public' DESC LIMIT 1"

# PostgresBroker.enqueue: update_or_create by message id; mtime only on insert.
ENQUEUE = """
INSERT INTO authentik_tasks_task (
    message_id, queue_name, actor_name, message, state, mtime, result, result_expiry,
    rel_obj_id, _uid, _messages, _previous_messages, aggregated_status,
    rel_obj_content_type_id, tenant_id, eta, retries)
VALUES (
    %(message_id)s, %(queue)s, %(actor)s, %(message)s, 'queued', now(), NULL, NULL,
    %(rel_obj_id)s, %(uid)s, '[]', '[]', 'queued',
    %(rel_obj_content_type_id)s, %(tenant_id)s, %(eta)s, %(retries)s)
ON CONFLICT (message_id) DO UPDATE
SET queue_name = EXCLUDED.queue_name, actor_name = EXCLUDED.actor_name, state = 'queued',
    retries = EXCLUDED.retries, eta = EXCLUDED.eta, message = EXCLUDED.message
"""

# _PostgresConsumer claim: no SKIP LOCKED, a session advisory lock on the locks connection.
CLAIM = """
UPDATE authentik_tasks_task SET state = 'consumed', mtime = now()
WHERE message_id = %(message_id)s AND state <> ALL ('{done,rejected}')
  AND (eta < now() + interval '30 seconds' OR eta IS NULL)
  AND pg_try_advisory_lock(%(lock_key)s)
RETURNING message_id
"""

# Pending work as the consumer's fallback poll sees it. Django writes `.exclude(eta__gte=…)` on
# a nullable column as NOT (… AND eta IS NOT NULL): rows with no eta (new, requeued, orphaned
# mid-run) are pending too.
PENDING = """
SELECT message_id FROM authentik_tasks_task
WHERE queue_name = %(queue)s AND state <> ALL ('{done,rejected}')
  AND NOT (eta >= now() + interval '30 seconds' AND eta IS NOT NULL)
ORDER BY eta ASC NULLS FIRST
LIMIT %(limit)s
"""

UNLOCK = "SELECT pg_advisory_unlock(%(lock_key)s)"

ADVANCE_STATE = """
UPDATE authentik_tasks_task SET state = %(to_state)s
WHERE message_id = %(message_id)s AND state = %(from_state)s
"""

# Results middleware on success, then ack (state <> 'queued' keeps a just-scheduled retry).
STORE_RESULT = """
UPDATE authentik_tasks_task SET result = %(result)s, result_expiry = now() + interval '10 minutes', mtime = now()
WHERE message_id = %(message_id)s
"""
ACK = """
UPDATE authentik_tasks_task SET state = 'done', message = ''::bytea, mtime = now(), eta = NULL
WHERE message_id = %(message_id)s AND state <> 'queued'
"""
# The message is stored re-encoded, as dramatiq's Retries middleware left it (its retry count raised).
NACK = """
UPDATE authentik_tasks_task SET state = 'rejected', message = %(message)s, mtime = now(), eta = NULL
WHERE message_id = %(message_id)s AND state <> 'queued'
"""
# Results.after_nack stores the exception in a second, otherwise invisible update.
STORE_EXCEPTION = """
UPDATE authentik_tasks_task SET result = %(result)s, result_expiry = now() + interval '10 minutes', mtime = now()
WHERE message_id = %(message_id)s
"""

# Retries middleware: the same message id, queued again with an eta and one more retry.
RETRY_LATER = """
UPDATE authentik_tasks_task
SET state = 'queued', retries = %(retries)s, eta = now() + %(delay)s * interval '1 millisecond', message = %(message)s
WHERE message_id = %(message_id)s
"""

# WorkerStatusMiddleware.
WORKER_DELETE_HOST = "DELETE FROM authentik_tasks_workerstatus WHERE hostname = %(hostname)s"
WORKER_INSERT = """
INSERT INTO authentik_tasks_workerstatus (id, hostname, version, last_seen)
VALUES (%(id)s, %(hostname)s, %(version)s, now())
"""
WORKER_HEARTBEAT = "UPDATE authentik_tasks_workerstatus SET last_seen = now() WHERE id = %(id)s"
ADVISORY_LOCK = "SELECT pg_advisory_lock(%(lock_key)s)"

# The consumer reads what it claimed (authentik decodes the pickled `message`; the demo's
# simulated workers need only these columns).
CLAIMED_TASK = """
SELECT actor_name, _uid, retries, tenant_id
FROM authentik_tasks_task
WHERE message_id = %(message_id)s
"""

# CurrentTask after postprocess: saves the non-broker fields, an UPDATE no viewer can see (§9).
SAVE_TASK_FIELDS = """
UPDATE authentik_tasks_task
SET tenant_id = tenant_id, rel_obj_content_type_id = rel_obj_content_type_id, rel_obj_id = rel_obj_id,
    _uid = _uid, _messages = _messages, _previous_messages = _previous_messages,
    aggregated_status = aggregated_status
WHERE message_id = %(message_id)s
"""

# Worker shutdown: prefetched (and interrupted) messages go back to the queue; mtime untouched.
REQUEUE = """
UPDATE authentik_tasks_task SET state = 'queued'
WHERE message_id = ANY (%(message_ids)s::uuid[]) AND state = ANY ('{consumed,preprocess,running,postprocess}')
"""

# Whether any task waits for a manual retry.
ANY_REJECTED = "SELECT EXISTS (SELECT 1 FROM authentik_tasks_task WHERE state = 'rejected')"

# Consumers wait for the enqueue NOTIFY on 'authentik.tasks.<queue>.enqueue' ({channel} is an
# Identifier: the dots need quoting).
LISTEN = "LISTEN {channel}"

# authentik's scheduler (authentik/tasks/schedules; reference §10), per tenant schema ({schema} is
# an Identifier): unpaused schedules past their next run with no unfinished task — one that has
# an unfinished task is skipped, for as long as that task stays unfinished.
DUE_SCHEDULES = """
SELECT s.id::text FROM {schema}.authentik_tasks_schedules_schedule AS s
WHERE NOT s.paused AND s.next_run < now()
  AND NOT EXISTS (
      SELECT 1 FROM authentik_tasks_task AS t
      WHERE t.rel_obj_content_type_id = %(content_type)s AND t.rel_obj_id = s.id::text
        AND t.state <> ALL ('{{done,rejected}}')
  )
ORDER BY s.next_run
"""
# …and after sending one, its next run (authentik computes it from the crontab).
SET_NEXT_RUN = """
UPDATE {schema}.authentik_tasks_schedules_schedule SET next_run = now() + %(seconds)s * interval '1 second'
WHERE id = %(id)s
"""
