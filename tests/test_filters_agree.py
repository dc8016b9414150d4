"""One filter, two evaluations: `TaskFilter.matches` (the console's window, in memory) and
`TaskFilter.where_sql` (bulk retry, in the database) must select the same tasks. Hypothesis
generates tasks and filters; the tasks go into a real database (authentik's trigger skipped, so
that stored statuses can be anything a database may hold); the rows read back by the console's
own query are filtered in memory and compared with what the WHERE clause selects."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg.types.json import Jsonb

from tasktui.core.filters import FIELDS, TaskFilter, fold
from tasktui.core.session import detect_shape
from tasktui.core.sql.tasks import TaskQueries, read_task
from tasktui.core.status import STATES, STATUSES

# Text as a database holds it: any character but NUL and lone surrogates, with the ones LIKE and
# case folding care about (%, _, \, capitals, non-ASCII capitals) drawn often.
CHARACTERS = st.one_of(
    st.sampled_from(list("aAzZ%_\\:?.-0 éÉİß")),
    st.characters(exclude_categories=("Cs",), exclude_characters="\x00"),
)
TEXT = st.text(CHARACTERS, max_size=6)
NAMES = st.one_of(st.sampled_from(["authentik.a.Sync", "authentik.b.sync", "x_%"]), TEXT)
STORED_STATUSES = [*STATUSES, "", "paused"]  # what authentik stores, and what a newer one might
LEVELS = [None, "debug", "info", "INFO", "warning", "warn", "error", "critical", "exception", "trace"]
NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Spec:
    actor: str
    uid: str | None
    queue: str
    state: str
    aggregated_status: str
    tenant: int  # index into the database's tenants
    content_type: int | None  # index into its content types
    rel_obj_id: str | None
    current_level: str | None  # a log line of the current attempt
    previous_level: str | None  # one of an earlier attempt (never counts)


SPECS = st.builds(
    Spec,
    actor=NAMES,
    uid=st.one_of(st.none(), NAMES),
    queue=st.one_of(st.sampled_from(["default", "Slow"]), TEXT),
    state=st.sampled_from([*STATES, "paused"]),
    aggregated_status=st.sampled_from(STORED_STATUSES),
    tenant=st.integers(0, 1),
    content_type=st.one_of(st.none(), st.integers(0, 1)),
    rel_obj_id=st.one_of(st.none(), TEXT),
    current_level=st.sampled_from(LEVELS),
    previous_level=st.sampled_from(LEVELS),
)


@pytest.fixture(scope="module")
def database(pg_server) -> Iterator[psycopg.Connection]:
    """One database for every example (each starts from empty tables), with two tenants and two
    content types whose names need folding."""
    name = pg_server.create_database("mirror")
    conn = psycopg.connect(pg_server.dsn(name), autocommit=True)
    try:
        conn.execute(
            "INSERT INTO authentik_tenants_tenant (tenant_uuid, schema_name, name, ready)"
            " VALUES (%s, 't_acme', 'ACME Éclair', true)",
            (uuid.UUID(int=2),),
        )
        conn.execute(
            "INSERT INTO django_content_type (app_label, model)"
            " VALUES ('authentik_core', 'User'), ('authentik_sources_ldap', 'ldapsource')"
        )
        yield conn
    finally:
        conn.close()
        pg_server.drop_database(name)


def _store(conn: psycopg.Connection, specs: list[Spec]) -> list[str]:
    tenants = [row[0] for row in conn.execute("SELECT tenant_uuid FROM authentik_tenants_tenant ORDER BY name")]
    content_types = [row[0] for row in conn.execute("SELECT id FROM django_content_type ORDER BY id")]
    ids = []
    with conn.transaction():
        # Skip authentik's trigger: a stored status can be anything (an older or newer release's).
        conn.execute("SET LOCAL session_replication_role = replica")
        conn.execute("DELETE FROM authentik_tasks_tasklog")
        conn.execute("DELETE FROM authentik_tasks_task")
        for index, spec in enumerate(specs):
            message_id = str(uuid.UUID(int=index + 1))
            ids.append(message_id)
            conn.execute(
                "INSERT INTO authentik_tasks_task (message_id, queue_name, actor_name, message, state, mtime,"
                " _uid, _messages, _previous_messages, aggregated_status, tenant_id, rel_obj_content_type_id,"
                " rel_obj_id, retries) VALUES (%s, %s, %s, ''::bytea, %s, %s, %s, '[]', '[]', %s, %s, %s, %s, 0)",
                (
                    message_id, spec.queue, spec.actor, spec.state, NOW - timedelta(seconds=index), spec.uid,
                    spec.aggregated_status, tenants[spec.tenant],
                    None if spec.content_type is None else content_types[spec.content_type], spec.rel_obj_id,
                ),
            )  # fmt: skip
            for previous, level in ((False, spec.current_level), (True, spec.previous_level)):
                if level is not None:
                    conn.execute(
                        'INSERT INTO authentik_tasks_tasklog (id, event, log_level, logger, "timestamp", attributes,'
                        " previous, task_id) VALUES (gen_random_uuid(), 'e', %s, 'l', now(), %s, %s, %s)",
                        (level, Jsonb({}), previous, message_id),
                    )
    return ids


def _filters(draw: st.DrawFn, rows: list) -> TaskFilter:
    """A filter made of values the rows have (so that it selects something) and of others."""

    def some(values: list[str]) -> frozenset[str]:
        return (
            frozenset(draw(st.lists(st.one_of(st.sampled_from(values), TEXT), max_size=3))) if values else frozenset()
        )

    def part_of(values: list[str]) -> str:
        value = draw(st.sampled_from(values)) if values else ""
        start = draw(st.integers(0, len(value)))
        end = draw(st.integers(start, len(value)))
        return draw(st.one_of(st.just(""), st.just(value[start:end]), st.just(value[start:end].upper()), TEXT))

    texts = [v for r in rows for v in (r.actor_name, r.uid, r.display_uid, r.message_id) if v]
    return TaskFilter(
        text=part_of(texts),
        statuses=some([r.effective_status for r in rows] + STORED_STATUSES),
        actors=some([r.actor_name for r in rows]),
        queues=some([r.queue_name for r in rows]),
        tenants=some([v for r in rows for v in (r.tenant_name, r.tenant_id) if v]),
        related=part_of([r.related for r in rows if r.related]),
        message_ids=frozenset(draw(st.lists(st.sampled_from([r.message_id for r in rows]), max_size=3)))
        if rows and draw(st.booleans())
        else frozenset(),
        hide_successful=draw(st.booleans()),
    )


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(specs=st.lists(SPECS, max_size=8), data=st.data())
@pytest.mark.slow
def test_sql_and_memory_select_the_same_tasks(database: psycopg.Connection, specs: list[Spec], data) -> None:
    ids = _store(database, specs)
    shape = _shape(database)
    queries = TaskQueries.for_shape(shape)
    rows = [read_task(r) for r in database.execute(queries.by_ids, {"ids": ids}).fetchall()]
    # In the order they were made: the filter is drawn from the rows' values, and hypothesis must
    # draw the same way when it replays an example (the server returns them in no set order).
    rows.sort(key=lambda row: ids.index(row.message_id))
    task_filter = _filters(data.draw, rows)
    where, params = task_filter.where_sql(queries)
    selected = {read_task(r).message_id for r in database.execute(f"{queries.select} WHERE {where}", params).fetchall()}
    in_memory = {row.message_id for row in rows if task_filter.matches(row)}
    disagreeing = [row for row in rows if (row.message_id in selected) != (row.message_id in in_memory)]
    assert selected == in_memory, (task_filter, disagreeing)


def test_every_facet_of_the_filter_is_defined_once() -> None:
    """Each TaskFilter field (but the free text's description) comes from FIELDS, exactly once."""
    from dataclasses import fields

    assert sorted(f.name for f in FIELDS) == sorted(f.name for f in fields(TaskFilter))


def test_case_folding_is_ascii_only_in_both() -> None:
    assert fold("ACME Éclair İ") == "acme Éclair İ"


_shapes: dict[int, object] = {}


def _shape(conn: psycopg.Connection):
    """The table shape, read once per connection (as a session does)."""
    if id(conn) not in _shapes:
        import asyncio

        async def read() -> object:
            aconn = await psycopg.AsyncConnection.connect(conn.info.dsn, autocommit=True)
            try:
                return await detect_shape(aconn)
            finally:
                await aconn.close()

        _shapes[id(conn)] = asyncio.run(read())
    return _shapes[id(conn)]
