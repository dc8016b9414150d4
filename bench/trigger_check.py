"""What the notify trigger's "anyone watching?" check costs per row written, in version 1
(SECURITY INVOKER, a table anyone could write) and version 2 (SECURITY DEFINER with a fixed
search_path, the table locked down), with no console registered and with one.

    python bench/trigger_check.py [--updates 30000] [--rounds 5] [--rows 10000]

Method
- A throwaway cluster (this machine's binaries, else the wheel) and one database holding three
  copies of the mirror, one per schema: `plain` (no tasktui trigger), `v1` (the version 1 script
  kept in tests/data), `v2` (the current install), each with `--rows` tasks.
- One server-side loop (a DO block) makes `--updates` single-row UPDATEs of a visible column in
  each schema, interleaved row by row in a rotating order, and adds up each one's time with
  clock_timestamp(): the three configurations are measured microseconds apart, so a machine
  busy with other work slows them alike and their differences stand out of its noise.
- With a console, the registrations are real: version 2's register function on a connection of
  its own (which then LISTENs), version 1's INSERT and a LISTEN; the notifications are drained.
- `--rounds` loops; per configuration the median of the rounds' µs per row, and the trigger's
  cost as the difference to `plain`, the median of the per-round differences.
Client and server share the machine; the loop runs on the server alone.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import psycopg
from psycopg.conninfo import make_conninfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tasktui.core import db
from tasktui.core.schema_files import read_schema_file
from tasktui.core.session import detect_shape
from tasktui.core.trigger import install, render_install_sql
from tasktui.embedded.localpg import SystemCluster, WheelServer, find_system_bindir

V1_SCRIPT = Path(__file__).resolve().parent.parent / "tests" / "data" / "tasktui_notify_v1.sql"
SCHEMAS = ("plain", "v1", "v2")

SEED = """
INSERT INTO authentik_tasks_task (
    message_id, queue_name, actor_name, message, state, mtime, _uid, _messages, _previous_messages,
    aggregated_status, tenant_id, retries)
SELECT md5(n::text)::uuid, 'default', 'authentik.bench.check', ''::bytea, 'running', now(), 'uid-' || n,
       '[]', '[]', '', (SELECT tenant_uuid FROM authentik_tenants_tenant LIMIT 1), 0
FROM generate_series(1, %(rows)s) AS n
"""

# {updates} and {rows} are integers. The order of the three schemas rotates with every row;
# static statements, so that each is planned once.
_UPDATE = (
    "UPDATE {schema}.authentik_tasks_task"
    " SET state = CASE WHEN state = 'running' THEN 'postprocess' ELSE 'running' END, mtime = now()"
    " WHERE message_id = md5((1 + i % {{rows}})::text)::uuid;"
)
LOOP = (
    """
CREATE TEMP TABLE IF NOT EXISTS bench_result (schema_name text, micros float8);
TRUNCATE bench_result;
DO $$
DECLARE
    totals float8[] := ARRAY[0, 0, 0];
    started timestamptz;
    k int;
BEGIN
    FOR i IN 1..{updates} LOOP
        FOR j IN 0..2 LOOP
            k := 1 + (i + j) % 3;
            started := clock_timestamp();
            IF k = 1 THEN """
    + _UPDATE.format(schema="plain")
    + """
            ELSIF k = 2 THEN """
    + _UPDATE.format(schema="v1")
    + """
            ELSE """
    + _UPDATE.format(schema="v2")
    + """
            END IF;
            totals[k] := totals[k] + extract(epoch FROM clock_timestamp() - started) * 1e6;
        END LOOP;
    END LOOP;
    INSERT INTO bench_result
    SELECT (ARRAY['plain', 'v1', 'v2'])[n], totals[n] / {updates} FROM generate_series(1, 3) AS n;
END
$$;
"""
)


async def prepare(dsn: str, rows: int) -> None:
    conn = await db.connect(db.Target.resolve(dsn))
    await conn.execute("SET statement_timeout = 0")
    mirror = read_schema_file("authentik_mirror.sql")
    for schema in SCHEMAS:
        await conn.execute(f"CREATE SCHEMA {schema}")  # type: ignore[arg-type]
        await conn.execute(f"SET search_path = {schema}")  # type: ignore[arg-type]
        await conn.execute(mirror)  # type: ignore[arg-type]  # the mirror names nothing by schema
        await conn.execute(SEED, {"rows": rows})
        shape = await detect_shape(conn)
        assert shape.schema == schema, shape.schema
        if schema == "v1":
            await conn.execute(render_install_sql(shape, V1_SCRIPT.read_text(), version=1))  # type: ignore[arg-type]
        elif schema == "v2":
            await install(conn, shape)
        await conn.execute(f"VACUUM ANALYZE {schema}.authentik_tasks_task")  # type: ignore[arg-type]
    await conn.close()


@contextmanager
def consoles(dsn: str) -> Iterator[list[psycopg.Connection]]:
    """A registered console in v1 and in v2: connections that LISTEN on their channels."""
    with ExitStack() as stack:
        v1 = stack.enter_context(psycopg.connect(dsn, autocommit=True))
        v1.execute(
            "INSERT INTO v1.tasktui_console VALUES (%s, 'tasktui', now(), now(), current_user, 'bench',"
            " pg_backend_pid())",
            (str(uuid.uuid4()),),
        )
        v1.execute("LISTEN tasktui")
        v2 = stack.enter_context(psycopg.connect(dsn, autocommit=True))
        v2.execute("SELECT v2.tasktui_register(%s, 'tasktui', 'bench')", (str(uuid.uuid4()),))
        yield [v1, v2]


def one_round(dsn: str, updates: int, rows: int, listeners: list[psycopg.Connection]) -> dict[str, float]:
    # Fresh heartbeats: a round may outlast the 20 s after which a console stops counting.
    if listeners:
        listeners[0].execute("UPDATE v1.tasktui_console SET heartbeat = now()")
        listeners[1].execute("SELECT v2.tasktui_heartbeat(console_id) FROM v2.tasktui_console")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET statement_timeout = 0")
        # authentik's own trigger functions call a helper by its bare name (pgtrigger does):
        # each schema has an identical one.
        conn.execute("SET search_path = plain, v1, v2")
        conn.execute(LOOP.format(updates=updates, rows=rows))  # type: ignore[arg-type]
        result = {schema: float(micros) for schema, micros in conn.execute("SELECT * FROM bench_result")}
    for listener in listeners:
        received = sum(1 for _ in listener.notifies(timeout=2.0, stop_after=updates))
        assert received == updates, f"a console received {received} of {updates} notifications"
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--updates", type=int, default=30_000, help="updates per schema and round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--rows", type=int, default=10_000)
    args = parser.parse_args()
    bindir = find_system_bindir()
    server = SystemCluster(bindir) if bindir else WheelServer()
    admin = server.start()
    try:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("CREATE DATABASE trigger_check")
            row = conn.execute("SELECT current_setting('server_version')").fetchone()
        dsn = make_conninfo(admin, dbname="trigger_check")
        asyncio.run(prepare(dsn, args.rows))
        print(f"PostgreSQL {row[0] if row else '?'}; {args.rows:,} tasks per schema; {args.rounds} rounds of")
        print(f"{args.updates:,} single-row updates per schema, interleaved row by row in one server-side loop")
        print(f"{'':<16} {'µs/row, median of rounds':>26} {'trigger µs/row (vs plain)':>27}   rounds")
        for watched in (False, True):
            rounds: list[dict[str, float]] = []
            with ExitStack() as stack:
                listeners = stack.enter_context(consoles(dsn)) if watched else []
                for _ in range(args.rounds):
                    rounds.append(one_round(dsn, args.updates, args.rows, listeners))
            for schema in SCHEMAS:
                label = f"{schema}{' + console' if watched and schema != 'plain' else ''}"
                median = statistics.median(r[schema] for r in rounds)
                cost = statistics.median(r[schema] - r["plain"] for r in rounds)
                runs = " ".join(f"{r[schema]:.1f}" for r in rounds)
                print(f"{label:<16} {median:>26.2f} {cost:>27.2f}   {runs}")
            paired = statistics.median(r["v2"] - r["v1"] for r in rounds)
            print(f"{'v2 - v1':<16} {'':>26} {paired:>+27.2f}   ({'one console' if watched else 'no console'})")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
