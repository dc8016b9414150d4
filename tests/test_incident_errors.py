"""What is failing, grouped (tasktui.core.incidents.errors and `tasktui errors`), on real Postgres
with a known workload made through authentik's broker life cycle."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from tasktui.core import db
from tasktui.core.bulk_retry import preview_bulk_retry
from tasktui.core.incidents.errors import ErrorReport, Trend, group_id, load_errors, retry_filter, trend_of
from tasktui.core.session import Session, open_session
from tasktui.core.shape import TableShape
from tasktui.core.sql import errors as errors_sql
from tasktui.demo import broker
from tests.conftest import run_cli
from tests.retry_helpers import (
    insert_legacy_rejected,
    journal_lines,
    legacy_entry,
    make_legacy,
    reject,
    run_cli_stdin,
    states,
)

LDAP = "authentik.sources.ldap.tasks.ldap_sync"
MAIL = "authentik.stages.email.tasks.send_mail"
SOCKET = "socket connection error while opening: [Errno 111] Connection refused to 10.0.{n}.7:389"
SOCKET_KEY = "LDAPSocketOpenError: socket connection error while opening: [Errno <n>] Connection refused to <n>:<n>"


async def _age(conn: psycopg.AsyncConnection, message_id: str, minutes: float) -> None:
    """Make a task look as if it had finished `minutes` ago."""
    await conn.execute(
        "UPDATE authentik_tasks_task SET mtime = now() - %s * interval '1 minute' WHERE message_id = %s",
        (minutes, message_id),
    )


async def _second_tenant(conn: psycopg.AsyncConnection) -> uuid.UUID:
    tenant = uuid.uuid4()
    await conn.execute(
        "INSERT INTO authentik_tenants_tenant (tenant_uuid, schema_name, name, ready)"
        " VALUES (%s, 't_acme', 'ACME', true)",
        (tenant,),
    )
    return tenant


async def _done_with_logged_error(conn: psycopg.AsyncConnection, actor: str, text: str) -> str:
    """A task that logs an error and still finishes: authentik stores it as plain `done`."""
    tenant = await broker.default_tenant(conn)
    message_id = await broker.enqueue(conn, actor, tenant_id=tenant)
    assert await broker.claim(conn, message_id)
    await broker.start_processing(conn, message_id)
    await broker.log(conn, message_id, text, level="error", logger=actor)
    await broker.succeed(conn, message_id)
    await broker.release(conn, message_id)
    return message_id


async def _done_with_warning(conn: psycopg.AsyncConnection, actor: str) -> str:
    tenant = await broker.default_tenant(conn)
    message_id = await broker.enqueue(conn, actor, tenant_id=tenant)
    assert await broker.claim(conn, message_id)
    await broker.start_processing(conn, message_id)
    await broker.log(conn, message_id, "slow server", level="warning", logger=actor)
    await broker.succeed(conn, message_id)
    await broker.release(conn, message_id)
    return message_id


async def _workload(conn: psycopg.AsyncConnection) -> dict[str, list[str]]:
    """Four socket errors of the LDAP sync (different addresses, one ACME task), two bad
    credentials of it, the same socket error from another actor, a mail task that logged an
    error but finished, one that only warned, and an old rejected task (3 h ago)."""
    acme = await _second_tenant(conn)
    made: dict[str, list[str]] = {"socket": [], "credentials": [], "mail_socket": [], "logged": [], "old": []}
    for n in range(4):
        made["socket"].append(
            await reject(conn, LDAP, uid=f"src{n}", exc_type="LDAPSocketOpenError", message=SOCKET.format(n=n))
        )
    await conn.execute(
        "UPDATE authentik_tasks_task SET tenant_id = %s WHERE message_id = %s", (acme, made["socket"][0])
    )
    for _ in range(2):
        made["credentials"].append(
            await reject(
                conn,
                LDAP,
                exc_type="LDAPInvalidCredentialsResult",
                message="invalidCredentials - 80090308: LdapErr: DSID-0C09044E, data 52e, v4563",
            )
        )
    made["mail_socket"].append(await reject(conn, MAIL, exc_type="LDAPSocketOpenError", message=SOCKET.format(n=9)))
    made["logged"].append(await _done_with_logged_error(conn, MAIL, "Recipient anna@example.com refused: 550 5.1.1"))
    await _done_with_warning(conn, MAIL)
    made["old"].append(await reject(conn, LDAP, exc_type="TimeoutError", message="read timed out after 30s"))
    await _age(conn, made["old"][0], 180)
    # A spread of finishing times: the socket errors 50, 25, 15 and 1 minutes ago (the ACME one oldest).
    for message_id, minutes in zip(made["socket"], (50, 25, 15, 1), strict=True):
        await _age(conn, message_id, minutes)
    return made


def _by_key(report: ErrorReport) -> dict[tuple[str, str], object]:
    return {(g.actor_name, g.signature): g for g in report.groups}


async def test_failures_are_grouped_by_actor_and_masked_signature(
    conn: psycopg.AsyncConnection, session: Session
) -> None:
    made = await _workload(conn)
    report = await load_errors(session, since=timedelta(hours=1))

    groups = _by_key(report)
    assert set(groups) == {
        (LDAP, SOCKET_KEY),
        (LDAP, "LDAPInvalidCredentialsResult: invalidCredentials - <n>: LdapErr: DSID-0C09044E, data 52e, v4563"),
        (MAIL, SOCKET_KEY),  # the same error from another actor is another group
        (MAIL, "Recipient <email> refused: <n> <n>"),
    }
    assert report.failed == 8  # the warning and the 3-hour-old failure are not in the last hour
    socket = groups[(LDAP, SOCKET_KEY)]
    assert (socket.count, socket.rejected, socket.logged) == (4, 4, 0)
    assert set(socket.message_ids) == set(made["socket"])
    assert socket.example_id == made["socket"][3]  # the newest, a minute ago
    assert socket.tenants == ("ACME", "Default")
    assert timedelta(minutes=49) < report.checked_at - socket.first_seen < timedelta(minutes=51)
    assert timedelta(seconds=50) < report.checked_at - socket.last_seen < timedelta(seconds=70)
    assert socket.example_error == "LDAPSocketOpenError: " + SOCKET.format(n=3)
    assert socket.id == group_id(LDAP, SOCKET_KEY) and len(socket.id) == 8
    # Ten-minute buckets, the newest last: 50 minutes ago in the first, then 25, 15 and 1.
    assert socket.trend_buckets == (1, 0, 0, 1, 1, 1)
    assert socket.trend is Trend.STEADY  # 1 then 3: too few more to call it rising
    logged = groups[(MAIL, "Recipient <email> refused: <n> <n>")]
    assert (logged.count, logged.rejected, logged.logged) == (1, 0, 1)
    assert logged.rejected_ids == ()
    # Most failures first.
    assert report.groups[0] is socket
    assert not report.capped and report.covered_from == report.window_start

    longer = await load_errors(session, since=timedelta(hours=6))
    assert longer.failed == 9
    assert (LDAP, "TimeoutError: read timed out after <n>s") in _by_key(longer)


async def test_a_group_goes_to_the_guarded_bulk_retry_as_its_rejected_tasks(
    conn: psycopg.AsyncConnection, session: Session
) -> None:
    made = await _workload(conn)
    report = await load_errors(session, since=timedelta(hours=1))
    socket = _by_key(report)[(LDAP, SOCKET_KEY)]
    task_filter = retry_filter(socket)
    assert task_filter.message_ids == frozenset(made["socket"]) and task_filter.actors == frozenset({LDAP})
    preview = await preview_bulk_retry(session, task_filter)
    assert {t.message_id for t in preview.tasks} == set(made["socket"])
    # The bulk retry's own error grouping agrees with the group: one key, the same signature.
    assert [g.key for g in preview.by_error] == [SOCKET_KEY]
    # Retried since the report: the preview no longer plans it.
    await conn.execute("UPDATE authentik_tasks_task SET state = 'queued' WHERE message_id = %s", (made["socket"][0],))
    preview = await preview_bulk_retry(session, task_filter)
    assert {t.message_id for t in preview.tasks} == set(made["socket"][1:])


@pytest.mark.parametrize(
    ("earlier", "recent", "trend"),
    [
        (0, 0, Trend.STEADY),
        (1, 2, Trend.STEADY),  # too few to call
        (0, 3, Trend.RISING),  # failed before the trend's span, none in its older half
        (10, 14, Trend.STEADY),  # 1.4x
        (10, 16, Trend.RISING),  # 1.6x and 6 more
        (4, 7, Trend.RISING),
        (3, 0, Trend.FALLING),  # stopped
        (16, 10, Trend.FALLING),
        (2, 0, Trend.STEADY),
        (100, 140, Trend.STEADY),
    ],
)
def test_trend_compares_the_last_half_hour_with_the_one_before(earlier: int, recent: int, trend: Trend) -> None:
    assert trend_of(earlier, recent) is trend


def test_a_group_that_just_appeared_is_new_however_few() -> None:
    assert trend_of(0, 1, appeared=True) is Trend.NEW
    assert trend_of(0, 30, appeared=True) is Trend.NEW
    assert trend_of(0, 0, appeared=True) is Trend.STEADY


async def test_trend_over_the_last_hour_from_finishing_times(conn: psycopg.AsyncConnection, session: Session) -> None:
    async def failures(actor: str, minutes_ago: list[float]) -> None:
        for minutes in minutes_ago:
            await _age(conn, await reject(conn, actor, message="boom"), minutes)

    await failures("a.rising", [45, 20, 15, 10, 5, 1])
    await failures("a.falling", [55, 50, 45, 40, 35, 10])
    await failures("a.steady", [50, 40, 20, 10])
    # Seen 90 minutes ago too, but the window is 2 hours: the trend reads the last hour of it.
    await failures("a.window", [90, 55, 50, 45, 40, 5])
    await failures("a.new", [0.1])  # first seen seconds ago: new, not steady
    report = await load_errors(session, since=timedelta(hours=2))
    assert report.trend_span == timedelta(hours=1) and report.trend_series_label == "last 1h per 10m"
    trends = {g.actor_name: (g.trend, g.count) for g in report.groups}
    assert trends == {
        "a.rising": (Trend.RISING, 6),
        "a.falling": (Trend.FALLING, 6),
        "a.steady": (Trend.STEADY, 4),
        "a.window": (Trend.FALLING, 6),
        "a.new": (Trend.NEW, 1),
    }


async def test_a_short_window_has_a_trend_of_its_own_span(conn: psycopg.AsyncConnection, session: Session) -> None:
    """`--since 10m` shows ten minutes of buckets, not an hour; "new" still looks back an hour."""

    async def failures(actor: str, minutes_ago: list[float]) -> None:
        for minutes in minutes_ago:
            await _age(conn, await reject(conn, actor, message="boom"), minutes)

    await failures("a.back", [40, 2])  # failed 40 minutes ago too: back, not new
    await failures("a.new", [0.05])
    await failures("a.rising", [8, 4, 3, 2, 1])
    report = await load_errors(session, since=timedelta(minutes=10))
    assert report.trend_span == timedelta(minutes=10) and report.trend_series_label == "last 10m per 100s"
    groups = {g.actor_name: g for g in report.groups}
    assert {name: g.trend for name, g in groups.items()} == {
        "a.back": Trend.STEADY,
        "a.new": Trend.NEW,
        "a.rising": Trend.RISING,
    }
    assert groups["a.rising"].trend_buckets == (0, 1, 0, 1, 2, 1)
    assert groups["a.back"].count == 1


def test_cli_trend_buckets_follow_a_short_since(mirror_dsn: str) -> None:
    asyncio.run(_reject_now(mirror_dsn))
    short = run_cli("errors", "--dsn", mirror_dsn, "--since", "10m")
    assert short.returncode == 0, short.stderr
    assert "last 10m per 100s: 0 0 0 0 0 1" in short.stdout and "last 1h" not in short.stdout
    assert "  new  " in short.stdout
    default = run_cli("errors", "--dsn", mirror_dsn)
    assert "last 1h per 10m: 0 0 0 0 0 1" in default.stdout


async def _reject_now(dsn: str) -> None:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await reject(conn, LDAP, message="boom")


async def test_legacy_2025_8_rows_are_grouped_from_their_messages(mirror_dsn: str) -> None:
    make_legacy(mirror_dsn)
    rejected = insert_legacy_rejected(
        mirror_dsn,
        [legacy_entry("Task is being processed"), legacy_entry("boom 42", "error")],
        [],
    )
    async with await open_session(db.Target.resolve(mirror_dsn)) as session:
        report = await load_errors(session)
    (group,) = report.groups
    assert (group.actor_name, group.signature, group.example_id) == ("authentik.legacy.sync", "boom <n>", rejected)


async def test_report_as_json_has_no_id_lists(conn: psycopg.AsyncConnection, session: Session) -> None:
    await _workload(conn)
    data = json.loads(json.dumps((await load_errors(session)).to_json()))
    group = data["groups"][0]
    assert "message_ids" not in group and "rejected_ids" not in group
    assert group["trend"] in {"rising", "steady", "falling"}
    assert data["since"] == 3600


def test_cli_text_and_json(mirror_dsn: str) -> None:
    hostile = "\x1b]0;pwned\x07[bold red]fake[/] \x1b[31m"
    with psycopg.connect(mirror_dsn, autocommit=True) as conn:
        tenant = conn.execute("SELECT tenant_uuid FROM authentik_tenants_tenant").fetchone()[0]  # type: ignore[index]
        message_id = str(uuid.uuid4())
        conn.execute(
            "INSERT INTO authentik_tasks_task (message_id, queue_name, actor_name, message, state, mtime, _messages,"
            " _previous_messages, aggregated_status, tenant_id, retries) VALUES"
            " (%s, 'default', %s, '', 'rejected', now(), '[]', '[]', '', %s, 0)",
            (message_id, "evil.actor" + hostile, tenant),
        )
        conn.execute(
            "INSERT INTO authentik_tasks_tasklog (id, event, log_level, logger, timestamp, attributes, previous,"
            " task_id) VALUES (gen_random_uuid(), %s, 'error', 'x', now(), '{}', false, %s)",
            ("failed: " + hostile, message_id),
        )
    result = run_cli("errors", "--dsn", mirror_dsn)
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "\\x1b]0;pwned\\x07[bold red]fake[/]" in result.stdout
    assert "Failing in the last 1h: 1 failed task in 1 group" in result.stdout
    assert "(1 rejected, 0 logged an error)" in result.stdout
    as_json = run_cli("errors", "--dsn", mirror_dsn, "--json", "--since", "2d")
    assert as_json.returncode == 0, as_json.stderr
    (group,) = json.loads(as_json.stdout)["groups"]
    assert group["actor_name"] == "evil.actor" + hostile  # JSON is exact
    assert group["example_id"] == message_id


@pytest.mark.slow
def test_cli_refuses_a_bad_span_in_one_line(mirror_dsn: str) -> None:
    for span in ("1w", "0m", "8d", "soon"):
        result = run_cli("errors", "--dsn", mirror_dsn, "--since", span)
        assert result.returncode == 2
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


async def test_cli_retries_a_group_through_the_guarded_bulk_retry(
    conn: psycopg.AsyncConnection, mirror_dsn: str, tmp_path: Path
) -> None:
    made = await _workload(conn)
    env = {"TASKTUI_STATE_DIR": str(tmp_path)}
    gid = group_id(LDAP, SOCKET_KEY)
    dry = run_cli_stdin("errors", "--dsn", mirror_dsn, "--retry", gid[:5], "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert "4 listed tasks" in dry.stdout
    refused = run_cli_stdin("errors", "--dsn", mirror_dsn, "--retry", gid, env=env)
    assert refused.returncode == 7 and "nothing was changed" in refused.stderr
    assert {states(mirror_dsn)[m] for m in made["socket"]} == {"rejected"}
    done = run_cli_stdin("errors", "--dsn", mirror_dsn, "--retry", gid, "--yes", "--rate", "0", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    now = states(mirror_dsn)
    assert {now[m] for m in made["socket"]} == {"queued"}
    assert {now[m] for m in made["credentials"] + made["mail_socket"]} == {"rejected"}
    (start,) = [line for line in journal_lines(tmp_path) if line["action"] == "bulk_retry_start"]
    assert sorted(start["filter"]["message_ids"]) == sorted(made["socket"])
    unknown = run_cli_stdin("errors", "--dsn", mirror_dsn, "--retry", "ffffffff", env=env)
    assert unknown.returncode == 1 and "no error group 'ffffffff'" in unknown.stderr


def test_a_filter_of_listed_tasks_matches_only_them() -> None:
    from tasktui.core.filters import TaskFilter
    from tasktui.core.models import TaskRow

    def task(message_id: str) -> TaskRow:
        return TaskRow(
            message_id, "default", LDAP, None, "rejected", "rejected", "rejected", None, None, None, None, 0, None,
            datetime.now(UTC), None,
        )  # fmt: skip

    listed = TaskFilter(message_ids=frozenset({"a"}), hide_successful=False)
    assert listed.matches(task("a")) and not listed.matches(task("b"))
    assert listed.describe() == "1 listed task"


async def test_a_cut_scan_says_from_when_the_counts_are_complete(
    conn: psycopg.AsyncConnection, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tasktui.core.incidents.errors as errors_module

    old_failure = await _done_with_logged_error(conn, MAIL, "boom")
    await _age(conn, old_failure, 30)
    fine = [await _done_with_warning(conn, MAIL) for _ in range(3)]
    for minutes, message_id in enumerate(fine, start=1):
        await _age(conn, message_id, minutes)
    rejected = [await reject(conn, LDAP, message="down") for _ in range(3)]
    for minutes, message_id in enumerate(rejected, start=1):
        await _age(conn, message_id, minutes * 2)
    complete = await load_errors(session)
    assert (complete.failed, complete.capped, complete.covered_from) == (4, False, complete.window_start)

    # Only the 3 newest done tasks are looked at: the failure 30 minutes ago is beyond them.
    monkeypatch.setattr(errors_module, "MAX_SCANNED_PER_STATE", 3)
    cut = await load_errors(session)
    assert cut.failed == 3 and cut.capped
    assert timedelta(minutes=2, seconds=50) < cut.checked_at - cut.covered_from < timedelta(minutes=3, seconds=10)
    # At most 2 rejected kept: complete from the older of them (4 minutes ago) on.
    monkeypatch.setattr(errors_module, "MAX_SCANNED_PER_STATE", 100)
    monkeypatch.setattr(errors_module, "MAX_TASKS_PER_STATE", 2)
    kept = await load_errors(session)
    assert kept.capped and kept.failed == 3  # 2 rejected + the done one
    assert timedelta(minutes=3, seconds=50) < kept.checked_at - kept.covered_from < timedelta(minutes=4, seconds=10)


def test_the_window_is_read_by_index_lookups_never_a_scan_of_the_task_log(mirror_dsn: str) -> None:
    """Which done tasks logged an error is one (task_id) look-up per task of the window; the task
    log as a whole (millions of rows on a busy installation) is never read."""
    with psycopg.connect(mirror_dsn, autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute(
            "INSERT INTO authentik_tasks_task (message_id, queue_name, actor_name, message, state, mtime, _messages,"
            " _previous_messages, aggregated_status, tenant_id, retries)"
            " SELECT gen_random_uuid(), 'default', 'a.b', '', CASE WHEN g % 50 = 0 THEN 'rejected' ELSE 'done' END,"
            " now() - g * interval '1 second', '[]', '[]', 'done', (SELECT tenant_uuid FROM authentik_tenants_tenant),"
            " 0 FROM generate_series(1, 20000) AS g"
        )
        conn.execute(
            "INSERT INTO authentik_tasks_tasklog (id, event, log_level, logger, timestamp, attributes, previous,"
            " task_id) SELECT gen_random_uuid(), 'x', CASE WHEN t.state = 'rejected' THEN 'error' ELSE 'info' END,"
            " 'l', t.mtime, '{}', false, t.message_id FROM authentik_tasks_task AS t, generate_series(1, 3)"
        )
        conn.execute("ANALYZE")
        shape = asyncio.run(_shape(mirror_dsn))
        params = {
            "states": ["rejected", "done"],
            "since": datetime.now(UTC) - timedelta(hours=1),
            "limit": 50_000,
            "scan": 100_000,
            "error_chars": 1001,
        }
        plan = "\n".join(row[0] for row in conn.execute("EXPLAIN " + errors_sql.failed_tasks(shape), params).fetchall())
    assert "authentik_tasks_tasklog" in plan
    assert "Seq Scan on authentik_tasks_tasklog" not in plan, plan


async def _shape(dsn: str) -> TableShape:
    async with await open_session(db.Target.resolve(dsn)) as session:
        return session.shape
