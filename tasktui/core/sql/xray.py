"""Queries behind the x-ray of a task: who holds its advisory lock, what else that session
holds, and the Postgres sessions of the worker behind it.

Read-only: pg_locks and pg_stat_activity are read, no lock is taken, no backend is signalled.
pg_stat_activity hides the state, query and client of other roles' sessions unless the role is a
superuser or a member of pg_read_all_stats; their rows still come back, with NULLs (`state` is
never NULL for a visible client backend, so it tells which rows were visible).
"""

# Sessions of this database holding or waiting for one advisory key (bigint form: classid =
# high 32 bits, objid = low 32 bits, objsubid = 1). Holders first.
LOCK_HOLDERS = """
SELECT l.pid, l.granted
FROM pg_catalog.pg_locks AS l
WHERE l.locktype = 'advisory'
  AND l.database = (SELECT d.oid FROM pg_catalog.pg_database AS d WHERE d.datname = current_database())
  AND l.classid::bigint = %(classid)s AND l.objid::bigint = %(objid)s AND l.objsubid = 1
ORDER BY l.granted DESC, l.pid
LIMIT 20
"""

# Every bigint advisory lock one session holds in this database.
LOCKS_OF_SESSION = """
SELECT l.classid::bigint, l.objid::bigint
FROM pg_catalog.pg_locks AS l
WHERE l.locktype = 'advisory' AND l.pid = %(pid)s AND l.granted AND l.objsubid = 1
  AND l.database = (SELECT d.oid FROM pg_catalog.pg_database AS d WHERE d.datname = current_database())
ORDER BY l.classid, l.objid
LIMIT %(limit)s
"""

# Tasks whose lock a consumer may hold now: the unfinished ones, and those finished within
# %(recent)s (a consumer releases a finished task's lock lazily, at its next turn). Newest first,
# at most %(limit)s per state.
LOCK_CANDIDATES = """
SELECT r.* FROM unnest(%(states)s::text[]) AS s(state)
CROSS JOIN LATERAL (
    SELECT t.message_id::text, t.queue_name, t.actor_name, t.state
    FROM authentik_tasks_task AS t
    WHERE t.state = s.state
      AND (s.state <> ALL (%(final)s::text[]) OR t.mtime > now() - %(recent)s)
    ORDER BY t.mtime DESC
    LIMIT %(limit)s
) AS r
"""

# Sessions of this database by pid, plus (when %(addr)s is given) every session from that client
# address that is not a tasktui console. Never our own.
SESSIONS = """
SELECT a.pid, a.usename::text, a.application_name, host(a.client_addr), a.client_hostname, a.client_port,
    a.backend_start, a.xact_start, a.query_start, a.state_change, a.state,
    a.wait_event_type, a.wait_event, left(a.query, %(query_chars)s), now()
FROM pg_catalog.pg_stat_activity AS a
WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()
  AND (a.pid = ANY (%(pids)s::int[])
       OR (%(addr)s::inet IS NOT NULL AND a.client_addr = %(addr)s::inet
           AND a.application_name IS DISTINCT FROM %(own_application)s))
ORDER BY a.pid
LIMIT %(limit)s
"""

# One task's state now (re-read after pg_locks: a task that finished in between is no orphan).
TASK_STATE = "SELECT t.state FROM authentik_tasks_task AS t WHERE t.message_id = %(message_id)s"
