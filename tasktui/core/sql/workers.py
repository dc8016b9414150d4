"""Queries behind the worker panel: worker rows, who holds which advisory lock, stuck work.

Lock checks read `pg_locks` and never take a lock: `pg_try_advisory_lock` (what authentik's own
API uses) would, for an instant, steal the lock of a worker that is just reconnecting. A
bigint advisory key shows in pg_locks as classid = high 32 bits, objid = low 32 bits,
objsubid = 1 (see tasktui.core.locks.pg_locks_ids), in the database it was taken in.
"""

NOW = "SELECT now()"

# authentik's own record of the versions that ran on this database: lifecycle/migrate.py inserts
# (version, build) into authentik_version_history the first time a version starts, before Django's
# migrations. Its newest row names the deployed release — what authentik's server compares each
# worker's version with (its own authentik_full_version(): "<version>" or "<version>+<build>").
VERSION_HISTORY_READABLE = """
SELECT CASE WHEN to_regclass('authentik_version_history') IS NULL THEN false
    ELSE has_table_privilege(to_regclass('authentik_version_history'), 'SELECT') END
"""

NEWEST_AUTHENTIK_VERSION = """
SELECT h.version || CASE WHEN coalesce(h.build, '') <> '' THEN '+' || h.build ELSE '' END
FROM authentik_version_history AS h
ORDER BY h."timestamp" DESC
LIMIT 1
"""

WORKERS = """
SELECT w.id::text, w.hostname, w.version, w.last_seen, now()
FROM authentik_tasks_workerstatus AS w
ORDER BY w.hostname, w.last_seen DESC
LIMIT %(limit)s
"""

# Which of the given advisory keys (parallel arrays %(classids)s, %(objids)s) a session of
# this database holds right now, and which session (pid) holds it.
HELD_ADVISORY_LOCKS = """
SELECT l.classid::bigint, l.objid::bigint, l.pid
FROM pg_catalog.pg_locks AS l
WHERE l.locktype = 'advisory'
  AND l.database = (SELECT d.oid FROM pg_catalog.pg_database AS d WHERE d.datname = current_database())
  AND l.objsubid = 1
  AND l.granted
  AND (l.classid::bigint, l.objid::bigint) IN (
      SELECT k.classid, k.objid FROM unnest(%(classids)s::bigint[], %(objids)s::bigint[]) AS k(classid, objid)
  )
"""

# Tasks a worker is executing (authentik's in-flight states after the claim), newest first.
RUNNING_TASKS = """
SELECT t.message_id::text, t.queue_name, t.actor_name, {uid}, t.state, t.mtime
FROM authentik_tasks_task AS t
WHERE t.state = ANY (%(states)s::text[])
ORDER BY t.mtime DESC
LIMIT %(limit)s
"""


def running_tasks(has_uid: bool) -> str:
    return RUNNING_TASKS.format(uid="t._uid" if has_uid else "NULL::text")


# Re-read candidates' states: a task that finished between the two reads is no orphan.
TASK_STATES = """
SELECT t.message_id::text, t.state
FROM authentik_tasks_task AS t
WHERE t.message_id = ANY (%(ids)s::uuid[])
"""

# Queued tasks due for longer than %(minutes)s minutes (due = eta, else the last enqueue or
# claim time in mtime), counted up to %(cap)s + 1 over authentik's (state, mtime, …) index.
OVERDUE_QUEUED = """
SELECT count(*), min(due)
FROM (
    SELECT COALESCE({eta}, t.mtime) AS due
    FROM authentik_tasks_task AS t
    WHERE t.state = 'queued'
      AND COALESCE({eta}, t.mtime) < now() - %(minutes)s * interval '1 minute'
    LIMIT %(cap)s + 1
) AS overdue
"""


def overdue_queued(has_eta: bool) -> str:
    return OVERDUE_QUEUED.format(eta="t.eta" if has_eta else "NULL::timestamptz")
