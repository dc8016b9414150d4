"""Retrying rejected tasks: the guarded retry transaction, its diagnosis, and the bulk plan.

A retry does in one transaction what authentik's `POST …/tasks/{id}/retry/` does (reference §5):
the task row goes back to `queued` with no eta (message bytes kept, mtime untouched, as
`update_or_create` leaves it) and `retries` set from the message's options, the current attempt's
logs become previous ones and a "Task will be retried" log opens the new attempt.

authentik re-enqueues `Message.decode(task.message)`, and its broker writes `retries` from that
message's `options["retries"]` (0 when absent). dramatiq 1.17's Retries middleware raises that
count before it finds the retries spent, and the nack stores the message so raised: the column
goes 1 → 2 on a retry of a task rejected after one automatic retry (and stays put for one whose
exception the actor `throws`, which is aborted before the count is raised). authentik's deferred constraint trigger then
sends `NOTIFY "authentik.tasks.<queue>.enqueue"` at commit, which wakes a real worker.

The task row is updated first (as authentik's enqueue does) and guarded by `state = 'rejected'`:
a concurrent retry waits on the row lock, re-reads the row once the winner commits and no longer
matches, so exactly one of them retries. The log writes run only if the guarded update matched.
"""

from __future__ import annotations

from tasktui.core.shape import TableShape
from tasktui.core.sql.errors import last_error
from tasktui.core.sql.tasks import TaskQueries

MIDDLEWARE_LOGGER = "authentik.tasks.middleware.TaskLogMiddleware"
RETRY_EVENT = "Task will be retried"

# States in which a task is waiting for or going through a worker: a retry of the same work
# (same actor, uid and tenant) would only run it twice.
ACTIVE_STATES = ("queued", "consumed", "preprocess", "running", "postprocess")

# The retry transaction waits at most this long for the task row (a worker never holds a
# rejected row; another console's retry holds it for milliseconds).
RETRY_LOCK_TIMEOUT = "SET LOCAL lock_timeout = '1s'"

# Legacy (2025.8) log entry, shaped like authentik's LogEvent dict with sanitize_item's
# ISO timestamp ("…Z").
_LEGACY_RETRY_ENTRY = (
    "jsonb_build_object('event', %(event)s::text, 'log_level', 'info', 'logger', %(logger)s::text,"
    " 'timestamp', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"
    " 'attributes', jsonb_build_object('delay', NULL))"
)


def _twin_condition(shape: TableShape, task: str) -> str:
    """SQL: another task with the same actor, uid (and tenant) is waiting or running.

    Tasks without a uid are never twins: uid-less actors (notifications, one-off jobs) carry
    their identity in their arguments, which the database cannot compare."""
    if "_uid" not in shape.task_columns:
        return "false"
    tenant = f" AND d.tenant_id = {task}.tenant_id" if shape.has_tenant else ""
    return (
        f"({task}._uid IS NOT NULL AND EXISTS (SELECT 1 FROM authentik_tasks_task AS d"
        f" WHERE d.state = ANY (%(active_states)s) AND d.actor_name = {task}.actor_name"
        f" AND d._uid = {task}._uid{tenant} AND d.message_id <> {task}.message_id))"
    )


def twin_lock(shape: TableShape) -> str | None:
    """Serialises twin-checked retries of the same work (actor, uid, tenant) across consoles for
    the rest of the transaction. Without it two consoles bulk-retrying two rejected twins at the
    same moment would each see the other still rejected and both queue the work. The statement
    after it reads a new snapshot (READ COMMITTED), so it sees a twin the other just queued.
    The two-key form lives apart from authentik's one-key task and worker locks."""
    if "_uid" not in shape.task_columns:
        return None
    tenant = " || ':' || coalesce(t.tenant_id::text, '')" if shape.has_tenant else ""
    return (
        "SELECT pg_advisory_xact_lock(hashtext('tasktui.retry'), hashtext(t.actor_name || ':' || t._uid"
        + tenant
        + ")) FROM authentik_tasks_task AS t WHERE t.message_id = %(message_id)s AND t._uid IS NOT NULL"
        " AND t.state = 'rejected'"
    )


# The rejected task's message, read (and its row locked) at the start of the retry transaction:
# its options hold the retry count authentik's retry re-enqueues with. A message larger than
# the decoder takes is not read (NULL: the column's count is kept).
REJECTED_MESSAGE = """
SELECT CASE WHEN octet_length(t.message) <= %(max_bytes)s THEN t.message END
FROM authentik_tasks_task AS t WHERE t.message_id = %(message_id)s AND t.state = 'rejected'
FOR UPDATE
"""


def guarded_retry(shape: TableShape, *, skip_if_twin: bool) -> str:
    """The task row's half of a retry: %(message_id)s back to queued only if still rejected
    (and, for bulk runs, only if no twin is waiting or running), `retries` set to %(retries)s
    (NULL keeps the column's). RETURNING queue_name."""
    assignments = ["state = 'queued'"]
    if shape.has_eta:
        assignments.append("eta = NULL")
    if shape.has_retries:
        assignments.append("retries = COALESCE(%(retries)s::bigint, t.retries)")
    if not shape.has_tasklog and shape.has_legacy_messages:
        # authentik 2025.8 kept logs in the row: the current attempt's become previous ones
        # and the new attempt starts with the retry entry (MessagesMiddleware.after_enqueue).
        assignments.append("_previous_messages = t._previous_messages || t._messages")
        assignments.append(f"_messages = jsonb_build_array({_LEGACY_RETRY_ENTRY})")
    twin = f" AND NOT {_twin_condition(shape, 't')}" if skip_if_twin else ""
    return (
        "UPDATE authentik_tasks_task AS t SET " + ", ".join(assignments) + " WHERE t.message_id = %(message_id)s"
        " AND t.state = 'rejected'" + twin + " RETURNING t.queue_name"
    )


# The task log's half (2025.10+) is TaskLogMiddleware.after_enqueue on a re-enqueued message
# (event RETRY_EVENT, level info, logger MIDDLEWARE_LOGGER, attributes {"delay": null}); the demo's
# simulated broker runs the same two statements.
# TaskLogMiddleware: one log row per event, visible at once.
INSERT_LOG = """
INSERT INTO authentik_tasks_tasklog (id, event, log_level, logger, "timestamp", attributes, previous, task_id)
VALUES (gen_random_uuid(), %(event)s, %(level)s, %(logger)s, now(), %(attributes)s, false, %(task_id)s)
"""

# On re-enqueue of an existing message: earlier logs belong to previous attempts.
MARK_LOGS_PREVIOUS = "UPDATE authentik_tasks_tasklog SET previous = true WHERE task_id = %(task_id)s AND NOT previous"


def _retried_marker(shape: TableShape, task: str) -> str:
    """SQL: the task's current attempt was opened by a retry (ours or authentik's)."""
    markers = []
    if shape.has_tasklog:
        markers.append(
            "EXISTS (SELECT 1 FROM authentik_tasks_tasklog AS l WHERE l.task_id = "
            f"{task}.message_id AND NOT l.previous AND l.event = %(event)s AND l.logger = %(logger)s)"
        )
    if shape.has_legacy_messages:
        markers.append(f"{task}._messages @> jsonb_build_array(jsonb_build_object('event', %(event)s::text))")
    return "(" + " OR ".join(markers) + ")" if markers else "false"


def diagnose(shape: TableShape) -> str:
    """Why a guarded retry matched nothing: the task's state now, whether its current attempt
    was opened by a retry, and a twin that is waiting or running (its message id)."""
    twin_id = "NULL::text"
    if "_uid" in shape.task_columns:
        tenant = " AND d.tenant_id = t.tenant_id" if shape.has_tenant else ""
        twin_id = (
            "(SELECT d.message_id::text FROM authentik_tasks_task AS d WHERE t._uid IS NOT NULL"
            " AND d.state = ANY (%(active_states)s) AND d.actor_name = t.actor_name AND d._uid = t._uid"
            f"{tenant} AND d.message_id <> t.message_id LIMIT 1)"
        )
    return (
        f"SELECT t.state, {_retried_marker(shape, 't')}, {twin_id}"
        " FROM authentik_tasks_task AS t WHERE t.message_id = %(message_id)s"
    )


# A bulk preview's count, plan and sample read one snapshot, so they agree with each other.
SNAPSHOT = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"

# The plan's cost estimates are large enough to trigger JIT compilation, which then costs more
# (over a second) than the whole plan on 100k tasks; and its sorts of up to `limit` rows would
# spill to disk with the default work_mem. For this one read-only transaction only.
PREVIEW_SETTINGS = "SET LOCAL jit = off; SET LOCAL work_mem = '32MB'"

# Whether this session may write at all (a hot standby or a read-only default refuses).
SERVER_READ_ONLY = "SELECT pg_is_in_recovery() OR current_setting('transaction_read_only') = 'on'"


def _matching(queries: TaskQueries, where: str, *, limit: str, newest_first: bool) -> str:
    """The rejected tasks that match a filter, as a subquery `m` over the console's row shape
    (so the filter's SQL, written against `queries.select`, applies unchanged), bounded by
    the %(<limit>)s parameter."""
    order = " ORDER BY t.mtime DESC, t.message_id" if newest_first else ""
    return f"({queries.select} WHERE t.state = 'rejected' AND ({where}){order} LIMIT %({limit})s) AS m"


def count_matching(queries: TaskQueries, where: str) -> str:
    """How many rejected tasks match, counted up to %(cap)s rows (then "at least")."""
    return f"SELECT count(*) FROM {_matching(queries, where, limit='cap', newest_first=False)}"


def plan(shape: TableShape, queries: TaskQueries, where: str) -> str:
    """The newest %(limit)s matching rejected tasks, newest first, one row each: message id,
    actor, skip reason ('active_twin' | 'older_duplicate' | NULL), error group number, and the
    group's error text (its first %(error_chars)s characters) on the group's first row only, so
    a plan of 100k tasks carries each distinct error once. Errors are looked up for the newest
    %(error_sample)s tasks only (NULL beyond), which bounds the lookups and the texts sent."""
    matching = _matching(queries, where, limit="limit", newest_first=True)
    if "_uid" not in shape.task_columns:
        keys = "NULL::text AS uid, ''::text AS tenant_key"
        active = ""
        twin = "false"
    else:
        # tenant_key: '' when the layout has no tenant, so identities compare with plain equality.
        keys = "m._uid AS uid, " + ("COALESCE(m.tenant_id, '')" if shape.has_tenant else "''::text") + " AS tenant_key"
        tenant = "COALESCE(a.tenant_id::text, '')" if shape.has_tenant else "''::text"
        # Waiting or running work, by identity (a handful of rows: the unfinished tasks).
        active = f"""
active AS MATERIALIZED (
    SELECT DISTINCT a.actor_name, a._uid AS uid, {tenant} AS tenant_key
    FROM authentik_tasks_task AS a
    WHERE a._uid IS NOT NULL AND a.state = ANY (%(active_states)s)
),"""
        # Not correlated, in the select list: a hashed subplan, one hash probe per planned task.
        twin = "(c.actor_name, c.uid, c.tenant_key) IN (SELECT a.actor_name, a.uid, a.tenant_key FROM active AS a)"
    # Sorts that only group (duplicates, errors) use the "C" collation: byte order, several
    # times faster than a linguistic collation on 100k text keys, and no person sees that order.
    return f"""
WITH matching AS MATERIALIZED (
    SELECT m.message_id::uuid AS message_id, m.actor_name, {keys}, m.mtime,
        row_number() OVER (ORDER BY m.mtime DESC, m.message_id) AS position
    FROM {matching}
),{active}
classified AS (
    SELECT c.message_id, c.actor_name, c.position,
        CASE
            WHEN c.uid IS NULL THEN NULL
            WHEN {twin} THEN 'active_twin'
            WHEN row_number() OVER (PARTITION BY c.actor_name COLLATE "C", c.uid COLLATE "C", c.tenant_key
                                    ORDER BY c.mtime DESC, c.message_id) > 1 THEN 'older_duplicate'
        END AS skip,
        CASE WHEN c.position <= %(error_sample)s THEN left({last_error(shape, "c")}, %(error_chars)s) END AS error
    FROM matching AS c
)
SELECT k.message_id::text, k.actor_name, k.skip,
    dense_rank() OVER (ORDER BY k.error COLLATE "C") AS error_group,
    CASE WHEN row_number() OVER (PARTITION BY k.error COLLATE "C" ORDER BY k.message_id) = 1 THEN k.error END
FROM classified AS k
ORDER BY k.position
"""
