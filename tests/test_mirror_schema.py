"""The standalone mirror is authentik's schema (reference §1-§3), checked from the catalog.

The expectations below are written out as data from the reference, not derived from
schema/authentik_mirror.sql, so a drift in either shows up here.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import psycopg
import pytest

from tasktui.demo import broker
from tests.notify_helpers import Listener, execute

TASK_TABLES = (
    "authentik_tasks_task",
    "authentik_tasks_tasklog",
    "authentik_tasks_workerstatus",
    "authentik_tasks_schedules_schedule",
)

# (column, type as format_type prints it, NOT NULL), in column order.
EXPECTED_COLUMNS = {
    "authentik_tasks_task": [
        ("message_id", "uuid", True),
        ("queue_name", "text", True),
        ("actor_name", "text", True),
        ("message", "bytea", False),
        ("state", "character varying", True),
        ("mtime", "timestamp with time zone", True),
        ("result", "bytea", False),
        ("result_expiry", "timestamp with time zone", False),
        ("rel_obj_id", "text", False),
        ("_uid", "text", False),
        ("_messages", "jsonb", True),
        ("_previous_messages", "jsonb", True),
        ("aggregated_status", "text", True),
        ("rel_obj_content_type_id", "integer", False),
        ("tenant_id", "uuid", True),
        ("eta", "timestamp with time zone", False),
        ("retries", "bigint", True),
    ],
    "authentik_tasks_tasklog": [
        ("id", "uuid", True),
        ("event", "text", True),
        ("log_level", "text", True),
        ("logger", "text", True),
        ("timestamp", "timestamp with time zone", True),
        ("attributes", "jsonb", True),
        ("previous", "boolean", True),
        ("task_id", "uuid", True),
    ],
    "authentik_tasks_workerstatus": [
        ("id", "uuid", True),
        ("hostname", "text", True),
        ("version", "text", True),
        ("last_seen", "timestamp with time zone", True),
    ],
    # Reference §1.4 (authentik_tasks_schedules 0001-0003).
    "authentik_tasks_schedules_schedule": [
        ("id", "uuid", True),
        ("actor_name", "text", True),
        ("args", "bytea", True),
        ("kwargs", "bytea", True),
        ("options", "bytea", True),
        ("crontab", "text", True),
        ("paused", "boolean", True),
        ("next_run", "timestamp with time zone", True),
        ("identifier", "text", False),
        ("_uid", "text", False),
        ("rel_obj_id", "text", False),
        ("rel_obj_content_type_id", "integer", False),
    ],
}

# (table, constraint name) -> pg_get_constraintdef.
EXPECTED_CONSTRAINTS = {
    ("authentik_tasks_task", "authentik_tasks_task_pkey"): "PRIMARY KEY (message_id)",
    ("authentik_tasks_task", "authentik_tasks_task_retries_check"): "CHECK ((retries >= 0))",
    (
        "authentik_tasks_task",
        "authentik_tasks_task_tenant_id_a04bb198_fk_authentik",
    ): "FOREIGN KEY (tenant_id) REFERENCES authentik_tenants_tenant(tenant_uuid) DEFERRABLE INITIALLY DEFERRED",
    (
        "authentik_tasks_task",
        "authentik_tasks_task_rel_obj_content_type_2a021136_fk_django_co",
    ): "FOREIGN KEY (rel_obj_content_type_id) REFERENCES django_content_type(id) DEFERRABLE INITIALLY DEFERRED",
    ("authentik_tasks_tasklog", "authentik_tasks_tasklog_pkey"): "PRIMARY KEY (id)",
    (
        "authentik_tasks_tasklog",
        "authentik_tasks_task_task_id_a82f0835_fk_authentik",
    ): "FOREIGN KEY (task_id) REFERENCES authentik_tasks_task(message_id) DEFERRABLE INITIALLY DEFERRED",
    ("authentik_tasks_workerstatus", "authentik_tasks_workerstatus_pkey"): "PRIMARY KEY (id)",
    ("authentik_tasks_schedules_schedule", "authentik_tasks_schedules_schedule_pkey"): "PRIMARY KEY (id)",
    (
        "authentik_tasks_schedules_schedule",
        "authentik_tasks_schedule_actor_name_identifier_d0a4a3ab_uniq",
    ): "UNIQUE (actor_name, identifier)",
    (
        "authentik_tasks_schedules_schedule",
        "authentik_tasks_sche_rel_obj_content_type_3e3dcef8_fk_django_co",
    ): "FOREIGN KEY (rel_obj_content_type_id) REFERENCES django_content_type(id) DEFERRABLE INITIALLY DEFERRED",
}

# (table, index name) -> (columns, unique).
EXPECTED_INDEXES = {
    ("authentik_tasks_task", "authentik_tasks_task_pkey"): (("message_id",), True),
    ("authentik_tasks_task", "authentik_tasks_task_tenant_id_a04bb198"): (("tenant_id",), False),
    ("authentik_tasks_task", "authentik_tasks_task_rel_obj_content_type_id_2a021136"): (
        ("rel_obj_content_type_id",),
        False,
    ),
    ("authentik_tasks_task", "authentik_t_rel_obj_3a177a_idx"): (("rel_obj_content_type_id", "rel_obj_id"), False),
    ("authentik_tasks_task", "authentik_t_queue_n_7b09fb_idx"): (("queue_name",), False),
    ("authentik_tasks_task", "authentik_t_queue_n_7ff882_idx"): (("queue_name", "state"), False),
    ("authentik_tasks_task", "authentik_t_message_8ee59b_idx"): (("message_id", "queue_name", "state", "eta"), False),
    ("authentik_tasks_task", "authentik_t_message_74b8d7_idx"): (("message_id", "state", "eta"), False),
    ("authentik_tasks_task", "authentik_t_message_affe69_idx"): (("message_id", "queue_name", "state"), False),
    ("authentik_tasks_task", "authentik_t_state_bef902_idx"): (("state", "mtime", "result_expiry"), False),
    ("authentik_tasks_task", "authentik_t_queue_n_099d0d_idx"): (("queue_name", "state", "eta"), False),
    ("authentik_tasks_tasklog", "authentik_tasks_tasklog_pkey"): (("id",), True),
    ("authentik_tasks_tasklog", "authentik_tasks_tasklog_task_id_a82f0835"): (("task_id",), False),
    ("authentik_tasks_tasklog", "authentik_tasks_tasklog_previous_1dd5542a"): (("previous",), False),
    ("authentik_tasks_tasklog", "authentik_t_task_id_aa504e_idx"): (("task_id", "previous"), False),
    ("authentik_tasks_workerstatus", "authentik_tasks_workerstatus_pkey"): (("id",), True),
    ("authentik_tasks_schedules_schedule", "authentik_tasks_schedules_schedule_pkey"): (("id",), True),
    ("authentik_tasks_schedules_schedule", "authentik_tasks_schedule_actor_name_identifier_d0a4a3ab_uniq"): (
        ("actor_name", "identifier"),
        True,
    ),
    ("authentik_tasks_schedules_schedule", "authentik_t_rel_obj_575af2_idx"): (
        ("rel_obj_content_type_id", "rel_obj_id"),
        False,
    ),
    ("authentik_tasks_schedules_schedule", "authentik_tasks_schedules__rel_obj_content_type_id_3e3dcef8"): (
        ("rel_obj_content_type_id",),
        False,
    ),
}

# authentik's two pgtrigger triggers on the task table (reference §2.1, §2.2): definition and
# the pgtrigger hash kept in the trigger's comment.
EXPECTED_TRIGGERS = {
    "pgtrigger_update_aggregated_status_f18c4": (
        "CREATE TRIGGER pgtrigger_update_aggregated_status_f18c4 BEFORE INSERT OR UPDATE"
        " ON public.authentik_tasks_task FOR EACH ROW"
        " EXECUTE FUNCTION pgtrigger_update_aggregated_status_f18c4()",
        "ebc09bc08c1624966c0c58a52f243fe25a842058",
    ),
    "pgtrigger_notify_enqueueing_0bc94": (
        "CREATE CONSTRAINT TRIGGER pgtrigger_notify_enqueueing_0bc94 AFTER INSERT OR UPDATE"
        " ON public.authentik_tasks_task DEFERRABLE INITIALLY DEFERRED FOR EACH ROW"
        " WHEN (((new.eta IS NULL) AND ((new.state)::text = 'queued'::text)))"
        " EXECUTE FUNCTION pgtrigger_notify_enqueueing_0bc94()",
        "da36b9a6344d384e5cf4de889a06bf578eaa10ef",
    ),
}

ENQUEUE_CHANNEL = "authentik.tasks.default.enqueue"


def _rows(conn: psycopg.Connection, query: str) -> list[tuple[Any, ...]]:
    return conn.execute(query, {"tables": list(TASK_TABLES)}).fetchall()  # type: ignore[arg-type]


def test_columns_types_and_nullability(mirror_dsn: str) -> None:
    with psycopg.connect(mirror_dsn) as conn:
        rows = _rows(
            conn,
            """
            SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull
            FROM pg_attribute AS a JOIN pg_class AS c ON c.oid = a.attrelid
            WHERE c.relname = ANY (%(tables)s) AND a.attnum > 0 AND NOT a.attisdropped
            ORDER BY c.relname, a.attnum
            """,
        )
    found: dict[str, list[tuple[str, str, bool]]] = {}
    for table, column, type_name, not_null in rows:
        found.setdefault(table, []).append((column, type_name, not_null))
    assert found == EXPECTED_COLUMNS


def test_no_column_defaults(mirror_dsn: str) -> None:
    """Django applies defaults in Python: a writer that forgets a value must fail, as on authentik."""
    with psycopg.connect(mirror_dsn) as conn:
        defaults = _rows(
            conn,
            """
            SELECT c.relname, a.attname, pg_get_expr(d.adbin, d.adrelid)
            FROM pg_attrdef AS d
            JOIN pg_class AS c ON c.oid = d.adrelid
            JOIN pg_attribute AS a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
            WHERE c.relname = ANY (%(tables)s)
            """,
        )
        identities = _rows(
            conn,
            """
            SELECT c.relname, a.attname FROM pg_attribute AS a JOIN pg_class AS c ON c.oid = a.attrelid
            WHERE c.relname = ANY (%(tables)s) AND (a.attidentity <> '' OR a.attgenerated <> '')
            """,
        )
    assert defaults == []
    assert identities == []


def test_constraints_and_foreign_keys(mirror_dsn: str) -> None:
    with psycopg.connect(mirror_dsn) as conn:
        rows = _rows(
            conn,
            """
            SELECT c.relname, k.conname, pg_get_constraintdef(k.oid), k.contype,
                   k.condeferrable, k.condeferred, k.confdeltype, k.confupdtype
            FROM pg_constraint AS k JOIN pg_class AS c ON c.oid = k.conrelid
            WHERE c.relname = ANY (%(tables)s) AND k.contype <> 't'  -- constraint triggers: see below
            """,
        )
    assert {(r[0], r[1]): r[2] for r in rows} == EXPECTED_CONSTRAINTS
    foreign_keys = [r for r in rows if r[3] == "f"]
    assert len(foreign_keys) == 4
    for table, name, _, _, deferrable, deferred, on_delete, on_update in foreign_keys:
        # 'a' is NO ACTION: Django cascades in Python, so a raw DELETE of a task with logs fails.
        assert (deferrable, deferred, on_delete, on_update) == (True, True, "a", "a"), (table, name)


def test_index_names_and_columns(mirror_dsn: str) -> None:
    with psycopg.connect(mirror_dsn) as conn:
        rows = _rows(
            conn,
            """
            SELECT t.relname, i.relname, x.indisunique,
                   array(SELECT a.attname FROM unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, n)
                         JOIN pg_attribute AS a ON a.attrelid = t.oid AND a.attnum = k.attnum ORDER BY k.n)
            FROM pg_index AS x
            JOIN pg_class AS t ON t.oid = x.indrelid
            JOIN pg_class AS i ON i.oid = x.indexrelid
            WHERE t.relname = ANY (%(tables)s)
            """,
        )
    assert {(r[0], r[1]): (tuple(r[3]), r[2]) for r in rows} == EXPECTED_INDEXES


def test_authentik_triggers_and_their_hashes(mirror_dsn: str) -> None:
    rows = execute(
        mirror_dsn,
        """
        SELECT t.tgname, pg_get_triggerdef(t.oid), obj_description(t.oid, 'pg_trigger')
        FROM pg_trigger AS t WHERE t.tgrelid = 'authentik_tasks_task'::regclass AND NOT t.tgisinternal
        """,
    )
    assert {name: (definition, comment) for name, definition, comment in rows} == EXPECTED_TRIGGERS


def test_schedule_trigger_and_its_hash(mirror_dsn: str) -> None:
    rows = execute(
        mirror_dsn,
        """
        SELECT t.tgname, pg_get_triggerdef(t.oid), obj_description(t.oid, 'pg_trigger')
        FROM pg_trigger AS t WHERE t.tgrelid = 'authentik_tasks_schedules_schedule'::regclass AND NOT t.tgisinternal
        """,
    )
    assert rows == [
        (
            "pgtrigger_set_next_run_on_paused_95c6d",
            "CREATE TRIGGER pgtrigger_set_next_run_on_paused_95c6d BEFORE UPDATE"
            " ON public.authentik_tasks_schedules_schedule FOR EACH ROW WHEN ((new.paused AND (NOT old.paused)))"
            " EXECUTE FUNCTION pgtrigger_set_next_run_on_paused_95c6d()",
            "7fe580a86de70723522cfcbac712785984000f92",
        )
    ]


def test_pausing_a_schedule_parks_its_next_run_at_the_epoch(mirror_dsn: str) -> None:
    with psycopg.connect(mirror_dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO authentik_tasks_schedules_schedule (id, actor_name, args, kwargs, options, crontab, paused,"
            " next_run) VALUES (%s, 'authentik.core.tasks.clean_expired_models', '', '', '', '*/5 * * * *', false,"
            " now() + interval '5 minutes')",
            (uuid.uuid4(),),
        )

        def next_run() -> Any:
            return conn.execute(
                "SELECT extract(epoch FROM next_run) FROM authentik_tasks_schedules_schedule"
            ).fetchone()

        conn.execute("UPDATE authentik_tasks_schedules_schedule SET crontab = '*/10 * * * *'")
        assert next_run()[0] > 0  # other updates leave it alone
        conn.execute("UPDATE authentik_tasks_schedules_schedule SET paused = true")
        assert next_run() == (0,)
        conn.execute("UPDATE authentik_tasks_schedules_schedule SET paused = false, next_run = now()")
        assert next_run()[0] > 0  # unpausing is authentik's to reschedule


def test_retries_check_rejects_negative(mirror_dsn: str) -> None:
    with psycopg.connect(mirror_dsn) as conn, pytest.raises(psycopg.errors.CheckViolation):
        conn.execute(
            "INSERT INTO authentik_tasks_task (message_id, queue_name, actor_name, state, mtime, _messages,"
            " _previous_messages, aggregated_status, tenant_id, retries)"
            " SELECT gen_random_uuid(), 'default', 'a', 'queued', now(), '[]', '[]', '', tenant_uuid, -1"
            " FROM authentik_tenants_tenant"
        )


# ---------------------------------------------------------------------------------------------
# Aggregated status (reference §2.2): a task that is not done shows its state; a done task the
# worst level in `_messages`: error > warning > info, anything else (or nothing) is 'done'.

NOT_DONE_STATES = ("queued", "consumed", "preprocess", "running", "postprocess", "rejected")
LEVEL_CASES: list[tuple[list[str], str]] = [
    ([], "done"),
    (["debug"], "done"),
    (["critical"], "done"),  # only the three exact levels count, as in authentik
    (["info"], "info"),
    (["debug", "info"], "info"),
    (["warning"], "warning"),
    (["info", "warning", "info"], "warning"),
    (["error"], "error"),
    (["error", "info"], "error"),
    (["info", "warning", "error"], "error"),
    (["warning", "error", "debug"], "error"),
    (["Error"], "done"),  # case-sensitive, as in authentik
]


def _messages(levels: list[str]) -> str:
    return json.dumps([{"event": f"e{i}", "log_level": level, "logger": "t"} for i, level in enumerate(levels)])


def _insert_task(conn: psycopg.Connection, state: str, levels: list[str]) -> uuid.UUID:
    message_id = uuid.uuid4()
    conn.execute(
        "INSERT INTO authentik_tasks_task (message_id, queue_name, actor_name, state, mtime, _messages,"
        " _previous_messages, aggregated_status, tenant_id, retries)"
        " SELECT %s, 'default', 'authentik.test', %s, now(), %s, '[]', 'bogus', tenant_uuid, 0"
        " FROM authentik_tenants_tenant",
        (message_id, state, _messages(levels)),
    )
    return message_id


def _status(conn: psycopg.Connection, message_id: uuid.UUID) -> str:
    row = conn.execute(
        "SELECT aggregated_status FROM authentik_tasks_task WHERE message_id = %s", (message_id,)
    ).fetchone()
    assert row is not None
    return row[0]


def test_aggregated_status_on_insert_every_state_and_level(mirror_dsn: str) -> None:
    with psycopg.connect(mirror_dsn, autocommit=True) as conn:
        for levels, done_status in LEVEL_CASES:
            for state in NOT_DONE_STATES:
                message_id = _insert_task(conn, state, levels)
                assert _status(conn, message_id) == state, (state, levels)
            message_id = _insert_task(conn, "done", levels)
            assert _status(conn, message_id) == done_status, levels


def test_aggregated_status_follows_updates(mirror_dsn: str) -> None:
    with psycopg.connect(mirror_dsn, autocommit=True) as conn:
        message_id = _insert_task(conn, "running", ["error"])
        assert _status(conn, message_id) == "running"
        conn.execute("UPDATE authentik_tasks_task SET state = 'done' WHERE message_id = %s", (message_id,))
        assert _status(conn, message_id) == "error"
        conn.execute(
            "UPDATE authentik_tasks_task SET _messages = %s WHERE message_id = %s", (_messages(["info"]), message_id)
        )
        assert _status(conn, message_id) == "info"
        # A stored status written by hand is overwritten: the trigger owns the column.
        conn.execute("UPDATE authentik_tasks_task SET aggregated_status = 'error' WHERE message_id = %s", (message_id,))
        assert _status(conn, message_id) == "info"
        conn.execute("UPDATE authentik_tasks_task SET state = 'queued' WHERE message_id = %s", (message_id,))
        assert _status(conn, message_id) == "queued"


# ---------------------------------------------------------------------------------------------
# authentik's enqueue NOTIFY (reference §2.1): at commit, payload = message id, only for a row
# left queued with no eta.


async def test_enqueue_notifies_at_commit_with_the_message_id(mirror_dsn: str) -> None:
    with Listener(mirror_dsn, ENQUEUE_CHANNEL) as listener:
        async with await psycopg.AsyncConnection.connect(mirror_dsn, autocommit=True) as conn:
            tenant = await broker.default_tenant(conn)
            async with conn.transaction():
                message_id = await broker.enqueue(conn, "authentik.test.actor", tenant_id=tenant)
                assert listener.collect() == [], "nothing may arrive before commit"
            notes = listener.collect()
            assert [(n.channel, n.payload) for n in notes] == [(ENQUEUE_CHANNEL, message_id)]


async def test_enqueue_notify_for_a_manual_retry_but_not_for_other_changes(mirror_dsn: str) -> None:
    with Listener(mirror_dsn, ENQUEUE_CHANNEL) as listener:
        async with (
            await psycopg.AsyncConnection.connect(mirror_dsn, autocommit=True) as conn,
            await psycopg.AsyncConnection.connect(mirror_dsn, autocommit=True) as locks,
        ):
            tenant = await broker.default_tenant(conn)
            message_id = await broker.enqueue(conn, "authentik.test.actor", tenant_id=tenant)
            assert [n.payload for n in listener.collect()] == [message_id]

            # consumed, preprocess, running, postprocess, a retry later (eta set), then rejected:
            # none of these wakes workers.
            assert await broker.claim(locks, message_id)
            await broker.start_processing(conn, message_id)
            await broker.fail(conn, message_id, "ValueError", "boom", retry_delay_ms=60_000, retries=0)
            assert listener.collect() == []
            row = execute(mirror_dsn, "SELECT state, eta IS NOT NULL FROM authentik_tasks_task")
            assert row == [("queued", True)]
            await broker.release(locks, message_id)

            await conn.execute("UPDATE authentik_tasks_task SET state = 'running', eta = NULL")
            await broker.fail(conn, message_id, "ValueError", "boom", retry_delay_ms=None, retries=5)
            assert listener.collect() == []

            # The SQL form of authentik's manual retry (reference §5): rejected -> queued, eta NULL.
            await conn.execute(
                "UPDATE authentik_tasks_task SET state = 'queued', eta = NULL"
                " WHERE message_id = %s AND state = 'rejected'",
                (message_id,),
            )
            assert [n.payload for n in listener.collect()] == [message_id]

            # Queued once more with an eta (a delayed re-enqueue): no wake-up.
            await conn.execute("UPDATE authentik_tasks_task SET eta = now() + interval '1 hour'")
            assert listener.collect() == []


async def test_no_enqueue_notify_on_rollback(mirror_dsn: str) -> None:
    with Listener(mirror_dsn, ENQUEUE_CHANNEL) as listener:
        async with await psycopg.AsyncConnection.connect(mirror_dsn, autocommit=True) as conn:
            tenant = await broker.default_tenant(conn)
            with pytest.raises(RuntimeError):
                async with conn.transaction():
                    await broker.enqueue(conn, "authentik.test.actor", tenant_id=tenant)
                    raise RuntimeError("roll back")
            assert execute(mirror_dsn, "SELECT count(*) FROM authentik_tasks_task") == [(0,)]
            assert listener.collect() == []


async def test_enqueue_notify_uses_the_queue_name_in_the_channel(mirror_dsn: str) -> None:
    with Listener(mirror_dsn, ENQUEUE_CHANNEL, "authentik.tasks.other.enqueue") as listener:
        async with await psycopg.AsyncConnection.connect(mirror_dsn, autocommit=True) as conn:
            tenant = await broker.default_tenant(conn)
            message_id = await broker.enqueue(conn, "authentik.test.actor", tenant_id=tenant, queue="other")
            delayed = await broker.enqueue(conn, "authentik.test.actor", tenant_id=tenant, delay_ms=60_000)
            notes = listener.collect()
    assert [(n.channel, n.payload) for n in notes] == [("authentik.tasks.other.enqueue", message_id)]
    assert delayed not in {n.payload for n in notes}
