"""Retrying rejected tasks (tasktui.core.retry) on a real Postgres: authentik's exact writes,
its enqueue NOTIFY at commit, one winner among concurrent consoles, no partial effect on any
failure, the bulk preview and throttled run, and the audit journal."""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from pathlib import Path

import psycopg
import pytest

from tasktui.core import db
from tasktui.core.audit import Journal
from tasktui.core.bulk_retry import BulkProgress, preview_bulk_retry, run_bulk_retry
from tasktui.core.filters import TaskFilter
from tasktui.core.retry import Outcome, SkipReason, retry_capability, retry_selected, retry_task
from tasktui.core.session import Session, open_session
from tasktui.core.sql import retry as retry_sql
from tasktui.demo import broker
from tasktui.render.bulk import bulk_summary_text
from tests.notify_helpers import Listener, execute
from tests.retry_helpers import (
    ENQUEUE_CHANNEL,
    insert_legacy_rejected,
    journal_lines,
    legacy_entry,
    make_legacy,
    reject,
    role,
    states,
    task_logs,
    task_row,
)

ACTOR = "authentik.sources.ldap.tasks.ldap_sync"


@pytest.fixture(autouse=True)
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every journal line of these tests lands here, never in the real ~/.local/state."""
    folder = tmp_path / "state"
    monkeypatch.setenv("TASKTUI_STATE_DIR", str(folder))
    return folder


# ---------------------------------------------------------------------------------------------
# One task: authentik's writes, exactly


async def test_retry_makes_authentiks_writes_and_nothing_else(mirror_dsn: str, session: Session) -> None:
    message_id = await reject(session.conn, ACTOR, uid="source-1", exc_type="LDAPException", automatic_retries=1)
    before = task_row(mirror_dsn, message_id)
    logs_before = task_logs(mirror_dsn, message_id)
    assert before["state"] == "rejected" and before["retries"] == 1 and before["eta"] is None
    assert sum(not log["previous"] for log in logs_before) == 3  # retried, processing, error

    outcome = await retry_task(session, message_id)

    assert outcome.outcome is Outcome.RETRIED and outcome.describe() == "retried"
    after = task_row(mirror_dsn, message_id)
    assert after["state"] == "queued" and after["aggregated_status"] == "queued"
    assert after["eta"] is None
    # Issue 11 item 9: authentik re-enqueues the decoded message, whose count dramatiq raised
    # before it rejected the task: 1 -> 2 (tasktui used to keep 1).
    assert after["retries"] == 2
    assert after["message"] == before["message"] and after["result"] == before["result"]
    assert after["mtime"] == before["mtime"]  # update_or_create leaves mtime alone
    logs = task_logs(mirror_dsn, message_id)
    assert logs[: len(logs_before)] == [{**log, "previous": True} for log in logs_before]
    assert logs[len(logs_before) :] == [
        {
            "event": "Task will be retried",
            "level": "info",
            "logger": "authentik.tasks.middleware.TaskLogMiddleware",
            "attributes": {"delay": None},
            "previous": False,
        }
    ]


async def test_retries_follow_the_message_as_authentik_writes_them(mirror_dsn: str, session: Session) -> None:
    """The retried task fails for good again: 2 -> 3, as seen against real workers. A task whose
    exception the actor `throws` was aborted before dramatiq raised the count: it keeps it. A
    message tasktui cannot decode keeps the column's count (authentik could not retry it at all)."""
    message_id = await reject(session.conn, ACTOR, uid="again", automatic_retries=1)
    assert (await retry_task(session, message_id)).retried
    assert task_row(mirror_dsn, message_id)["retries"] == 2
    assert await broker.claim(session.conn, message_id, "default")
    await broker.start_processing(session.conn, message_id)
    await broker.fail(session.conn, message_id, "ValueError", "boom", retry_delay_ms=None, retries=2, actor=ACTOR)
    await broker.release(session.conn, message_id, "default")
    assert task_row(mirror_dsn, message_id)["retries"] == 2
    assert (await retry_task(session, message_id)).retried
    assert task_row(mirror_dsn, message_id)["retries"] == 3

    tenant = await broker.default_tenant(session.conn)
    thrown = await broker.enqueue(session.conn, ACTOR, tenant_id=tenant, uid="thrown")
    assert await broker.claim(session.conn, thrown, "default")
    await broker.start_processing(session.conn, thrown)
    await broker.fail(
        session.conn, thrown, "LDAPException", "no", retry_delay_ms=None, retries=0, actor=ACTOR, thrown=True
    )
    await broker.release(session.conn, thrown, "default")
    assert (await retry_task(session, thrown)).retried
    assert task_row(mirror_dsn, thrown)["retries"] == 0

    garbled = await reject(session.conn, ACTOR, uid="garbled", automatic_retries=1)
    execute(mirror_dsn, "UPDATE authentik_tasks_task SET message = '\\x00ff'::bytea WHERE message_id = %s", (garbled,))
    assert (await retry_task(session, garbled)).retried
    assert task_row(mirror_dsn, garbled)["retries"] == 1


async def test_a_stray_eta_is_cleared(mirror_dsn: str, session: Session) -> None:
    message_id = await reject(session.conn)
    execute(mirror_dsn, "UPDATE authentik_tasks_task SET eta = now() + interval '1 hour'")
    assert (await retry_task(session, message_id)).retried
    assert task_row(mirror_dsn, message_id)["eta"] is None


async def test_authentiks_enqueue_notify_wakes_workers_at_commit(mirror_dsn: str, session: Session) -> None:
    message_id = await reject(session.conn)
    with Listener(mirror_dsn, ENQUEUE_CHANNEL) as listener:
        assert listener.collect() == []
        assert (await retry_task(session, message_id)).retried
        notes = listener.collect()
    assert [(n.channel, n.payload) for n in notes] == [(ENQUEUE_CHANNEL, message_id)]


async def test_the_notify_waits_for_the_commit(mirror_dsn: str, session: Session) -> None:
    """Mid-retry (task row updated, log rows locked by someone else) nothing is sent; the wake-up
    arrives once the retry's transaction commits."""
    message_id = await reject(session.conn)
    with Listener(mirror_dsn, ENQUEUE_CHANNEL) as listener, psycopg.connect(mirror_dsn) as blocker:
        blocker.execute("SELECT 1 FROM authentik_tasks_tasklog WHERE task_id = %s FOR UPDATE", (message_id,))
        retrying = asyncio.create_task(retry_task(session, message_id))
        await _wait_for_lock_wait(mirror_dsn, session.conn.info.backend_pid)
        assert listener.collect() == []  # the task row is already updated, uncommitted
        blocker.rollback()
        outcome = await retrying
        assert outcome.retried
        assert [n.payload for n in listener.collect()] == [message_id]


async def _wait_for_lock_wait(dsn: str, pid: int) -> None:
    for _ in range(200):
        rows = execute(dsn, "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,))
        if rows and rows[0][0] == "Lock":
            return
        await asyncio.sleep(0.005)
    raise AssertionError("the retry never waited for the lock")


async def test_two_consoles_retrying_at_once_retry_once(mirror_dsn: str) -> None:
    target = db.Target.resolve(mirror_dsn)
    async with await open_session(target) as one, await open_session(target) as two:
        ids = [await reject(one.conn, uid=f"u{i}") for i in range(5)]
        with Listener(mirror_dsn, ENQUEUE_CHANNEL) as listener:
            for message_id in ids:
                outcomes = await asyncio.gather(retry_task(one, message_id), retry_task(two, message_id))
                assert sorted(o.outcome for o in outcomes) == [Outcome.ALREADY_RETRIED, Outcome.RETRIED]
                loser = next(o for o in outcomes if not o.retried)
                assert loser.describe() == "already retried (now queued)"
                current = [log for log in task_logs(mirror_dsn, message_id) if not log["previous"]]
                assert [log["event"] for log in current] == ["Task will be retried"]
            assert sorted(n.payload for n in listener.collect()) == sorted(ids)


async def test_two_consoles_bulk_retrying_twins_at_once_queue_the_work_once(mirror_dsn: str) -> None:
    """Two rejected runs of the same work (actor and uid), each retried by another console's bulk
    run at the same moment: one is queued, the other skipped as its twin."""
    target = db.Target.resolve(mirror_dsn)
    async with await open_session(target) as one, await open_session(target) as two:
        for i in range(5):
            first, second = [await reject(one.conn, uid=f"twin-{i}") for _ in range(2)]
            outcomes = await asyncio.gather(
                retry_task(one, first, skip_if_twin=True), retry_task(two, second, skip_if_twin=True)
            )
            assert sorted(o.outcome for o in outcomes) == [Outcome.RETRIED, Outcome.SKIPPED]
            skipped = next(o for o in outcomes if not o.retried)
            assert skipped.skip is SkipReason.ACTIVE_TWIN
            assert skipped.twin_id == next(o.message_id for o in outcomes if o.retried)


async def test_outcomes_for_tasks_that_cannot_be_retried(mirror_dsn: str, session: Session) -> None:
    tenant = await broker.default_tenant(session.conn)
    queued = await broker.enqueue(session.conn, ACTOR, tenant_id=tenant)
    done = await broker.enqueue(session.conn, ACTOR, tenant_id=tenant)
    assert await broker.claim(session.conn, done)
    await broker.start_processing(session.conn, done)
    await broker.succeed(session.conn, done)
    retried_and_done = await reject(session.conn)
    assert (await retry_task(session, retried_and_done)).retried
    assert await broker.claim(session.conn, retried_and_done)
    await broker.start_processing(session.conn, retried_and_done)
    await broker.succeed(session.conn, retried_and_done)
    before = states(mirror_dsn)

    outcomes = {
        name: await retry_task(session, message_id)
        for name, message_id in {
            "queued": queued,
            "done": done,
            "retried_and_done": retried_and_done,
            "missing": "0b6f1a4e-27b4-4e70-9a39-3d2a0d7b0e11",
            "garbage": "not-a-uuid",
        }.items()
    }
    assert outcomes["queued"].outcome is Outcome.NOT_RETRYABLE and outcomes["queued"].state == "queued"
    assert outcomes["done"].describe() == "not retryable (state done; only rejected tasks are retried)"
    assert outcomes["retried_and_done"].describe() == "already retried (now done)"
    assert outcomes["missing"].outcome is Outcome.NOT_FOUND
    assert outcomes["garbage"].outcome is Outcome.NOT_FOUND
    assert outcomes["garbage"].describe() == "not found (not a UUID)"
    assert states(mirror_dsn) == before


# ---------------------------------------------------------------------------------------------
# Failures leave nothing behind


async def test_a_locked_task_row_fails_cleanly(mirror_dsn: str, session: Session) -> None:
    message_id = await reject(session.conn)
    with psycopg.connect(mirror_dsn) as blocker:
        blocker.execute("SELECT 1 FROM authentik_tasks_task WHERE message_id = %s FOR UPDATE", (message_id,))
        started = time.monotonic()
        outcome = await retry_task(session, message_id)
        waited = time.monotonic() - started
    assert outcome.outcome is Outcome.FAILED and not outcome.fatal and not outcome.uncertain
    assert "another transaction holds the task row" in (outcome.error or "")
    assert waited < 3  # the retry's own short lock_timeout, not the session's
    assert task_row(mirror_dsn, message_id)["state"] == "rejected"
    assert (await retry_task(session, message_id)).retried  # the connection is fine afterwards


async def test_a_connection_lost_mid_retry_changes_nothing(mirror_dsn: str, session: Session) -> None:
    message_id = await reject(session.conn)
    logs_before = task_logs(mirror_dsn, message_id)
    with Listener(mirror_dsn, ENQUEUE_CHANNEL) as listener, psycopg.connect(mirror_dsn) as blocker:
        blocker.execute("SELECT 1 FROM authentik_tasks_tasklog WHERE task_id = %s FOR UPDATE", (message_id,))
        retrying = asyncio.create_task(retry_task(session, message_id))
        pid = session.conn.info.backend_pid
        await _wait_for_lock_wait(mirror_dsn, pid)
        execute(mirror_dsn, "SELECT pg_terminate_backend(%s)", (pid,))
        outcome = await retrying
        blocker.rollback()
        assert listener.collect() == []
    assert outcome.outcome is Outcome.FAILED and outcome.fatal and not outcome.uncertain
    assert "nothing changed" in (outcome.error or "")
    assert task_row(mirror_dsn, message_id)["state"] == "rejected"
    assert task_logs(mirror_dsn, message_id) == logs_before
    again = await retry_task(session, message_id)
    assert again.outcome is Outcome.FAILED and again.fatal


async def test_a_select_only_role_is_read_only(mirror_dsn: str, state_dir: Path) -> None:
    async with await open_session(db.Target.resolve(mirror_dsn)) as admin:
        message_id = await reject(admin.conn)
    with role(mirror_dsn, "SELECT ON ALL TABLES IN SCHEMA public") as dsn:
        async with await open_session(db.Target.resolve(dsn)) as viewer:
            allowed, reason = await retry_capability(viewer)
            assert not allowed
            assert "lacks UPDATE on authentik_tasks_task and INSERT, UPDATE on authentik_tasks_tasklog" in reason
            assert reason.startswith("role 'tasktui_test_")
            result = await retry_selected(viewer, [message_id])
    (outcome,) = result.outcomes
    assert outcome.outcome is Outcome.FAILED and outcome.fatal
    assert "permission denied" in (outcome.error or "")
    assert task_row(mirror_dsn, message_id)["state"] == "rejected"
    assert journal_lines(state_dir)[-1]["tasks"][0]["outcome"] == "failed"


async def test_a_role_that_may_update_tasks_but_not_write_logs_changes_nothing(mirror_dsn: str) -> None:
    """The task row is updated before the log writes fail: the whole retry rolls back."""
    async with await open_session(db.Target.resolve(mirror_dsn)) as admin:
        message_id = await reject(admin.conn)
    logs_before = task_logs(mirror_dsn, message_id)
    grants = ("SELECT ON ALL TABLES IN SCHEMA public", "UPDATE ON authentik_tasks_task")
    with role(mirror_dsn, *grants) as dsn, Listener(mirror_dsn, ENQUEUE_CHANNEL) as listener:
        async with await open_session(db.Target.resolve(dsn)) as writer:
            allowed, reason = await retry_capability(writer)
            assert not allowed and reason.endswith(
                "lacks INSERT, UPDATE on authentik_tasks_tasklog, needed to retry tasks"
            )
            outcome = await retry_task(writer, message_id)
        assert listener.collect() == []
    assert outcome.outcome is Outcome.FAILED and outcome.fatal
    assert "authentik_tasks_tasklog" in (outcome.error or "")
    assert task_row(mirror_dsn, message_id)["state"] == "rejected"
    assert task_logs(mirror_dsn, message_id) == logs_before


async def test_a_role_with_the_needed_privileges_may_retry(mirror_dsn: str) -> None:
    async with await open_session(db.Target.resolve(mirror_dsn)) as admin:
        message_id = await reject(admin.conn)
    grants = (
        "SELECT ON ALL TABLES IN SCHEMA public",
        "UPDATE ON authentik_tasks_task",
        "INSERT, UPDATE ON authentik_tasks_tasklog",
    )
    with role(mirror_dsn, *grants) as dsn:
        async with await open_session(db.Target.resolve(dsn)) as writer:
            allowed, reason = await retry_capability(writer)
            assert allowed, reason
            assert (await retry_task(writer, message_id)).retried


async def test_a_read_only_server_is_reported(mirror_dsn: str) -> None:
    dsn = mirror_dsn + " options='-c default_transaction_read_only=on'"
    async with await open_session(db.Target.resolve(dsn)) as session:
        allowed, reason = await retry_capability(session)
    assert not allowed and "accepts no writes" in reason


# ---------------------------------------------------------------------------------------------
# authentik 2025.8: logs in the row


async def test_legacy_layout_moves_the_log_list(mirror_dsn: str) -> None:
    make_legacy(mirror_dsn)
    error = legacy_entry(
        "boom", "error", {"exception": [{"exc_type": "KeyError", "exc_value": "'dn' 42", "frames": []}]}
    )
    current = [legacy_entry("Task is being processed"), error]
    previous = [legacy_entry("Task has been queued")]
    message_id = insert_legacy_rejected(mirror_dsn, current, previous, uid="legacy")
    async with await open_session(db.Target.resolve(mirror_dsn)) as session:
        assert not session.shape.has_tasklog and not session.shape.has_eta
        assert (await retry_capability(session))[0]
        preview = await preview_bulk_retry(session, TaskFilter())
        assert [(t.message_id, t.error) for t in preview.tasks] == [(message_id, "KeyError: 'dn' <n>")]
        with Listener(mirror_dsn, ENQUEUE_CHANNEL) as listener:
            assert (await retry_task(session, message_id)).retried
            assert [n.payload for n in listener.collect()] == [message_id]
        again = await retry_task(session, message_id)
    assert again.describe() == "already retried (now queued)"
    ((state, messages, previous_after, message),) = execute(
        mirror_dsn,
        "SELECT state, _messages, _previous_messages, message FROM authentik_tasks_task WHERE message_id = %s",
        (message_id,),
    )
    assert state == "queued" and message == b"legacy-message"
    assert previous_after == previous + current
    (entry,) = messages
    assert entry["event"] == "Task will be retried" and entry["log_level"] == "info"
    assert entry["logger"] == "authentik.tasks.middleware.TaskLogMiddleware"
    assert entry["attributes"] == {"delay": None} and entry["timestamp"].endswith("Z")


async def test_layout_without_tenant_column(mirror_dsn: str, session: Session) -> None:
    """A later authentik drops `tenant_id`: twins are then the same actor and uid anywhere."""
    older = await reject(session.conn, ACTOR, uid="source-1")
    newer = await reject(session.conn, ACTOR, uid="source-1")
    twin_of = await reject(session.conn, ACTOR, uid="source-2")
    tenant = await broker.default_tenant(session.conn)
    await broker.enqueue(session.conn, ACTOR, tenant_id=tenant, uid="source-2")
    execute(mirror_dsn, "ALTER TABLE authentik_tasks_task DROP COLUMN tenant_id CASCADE")
    async with await open_session(db.Target.resolve(mirror_dsn)) as dropped:
        assert not dropped.shape.has_tenant
        preview = await preview_bulk_retry(dropped, TaskFilter())
        assert {t.message_id: t.skip for t in preview.tasks} == {
            newer: None,
            older: SkipReason.OLDER_DUPLICATE,
            twin_of: SkipReason.ACTIVE_TWIN,
        }
        summary = await run_bulk_retry(dropped, preview, rate=None)
        assert (summary.retried, summary.skipped) == (1, 2)
        skipped = await retry_task(dropped, twin_of, skip_if_twin=True)
        assert skipped.outcome is Outcome.SKIPPED and skipped.twin_id is not None


# ---------------------------------------------------------------------------------------------
# Bulk: preview


async def _bulk_fixture(session: Session) -> dict[str, list[str]]:
    """Rejected tasks of several kinds, plus work that must stay out of any plan."""
    tenant = await broker.default_tenant(session.conn)
    made: dict[str, list[str]] = {"plain": [], "older": [], "newer": [], "twin": [], "other_queue": []}
    for i in range(3):
        # uid-less: never duplicates of each other; errors differ only by ids and numbers
        made["plain"].append(
            await reject(
                session.conn,
                "authentik.events.tasks.notify",
                exc_type="TimeoutError",
                message=f"request 3fa85f64-5717-4562-b3fc-2c963f66afa{i} timed out after {10 + i}s",
            )
        )
    made["older"].append(await reject(session.conn, ACTOR, uid="source-1", exc_type="LDAPException", message="bind"))
    made["newer"].append(await reject(session.conn, ACTOR, uid="source-1", exc_type="LDAPException", message="bind"))
    made["twin"].append(await reject(session.conn, ACTOR, uid="source-2", exc_type="LDAPException", message="bind"))
    await broker.enqueue(session.conn, ACTOR, tenant_id=tenant, uid="source-2")  # the same work, queued again
    made["other_queue"].append(await reject(session.conn, ACTOR, uid="source-3", queue="other"))
    return made


async def test_preview_counts_groups_and_skips(mirror_dsn: str, session: Session) -> None:
    made = await _bulk_fixture(session)
    before = states(mirror_dsn)

    preview = await preview_bulk_retry(session, TaskFilter(queues=frozenset({"default"})), sample_size=4)

    assert states(mirror_dsn) == before  # a preview changes nothing
    assert preview.matching == 6 and not preview.matching_capped and not preview.limited
    assert preview.describe_matching() == "6"
    plan = {t.message_id: t for t in preview.tasks}
    assert set(plan) == {m for kind in ("plain", "older", "newer", "twin") for m in made[kind]}
    assert plan[made["older"][0]].skip is SkipReason.OLDER_DUPLICATE
    assert plan[made["twin"][0]].skip is SkipReason.ACTIVE_TWIN
    assert {plan[m].skip for m in made["plain"] + made["newer"]} == {None}
    assert preview.skipped == Counter({SkipReason.OLDER_DUPLICATE: 1, SkipReason.ACTIVE_TWIN: 1})
    assert len(preview.to_retry) == 4
    assert [t.message_id for t in preview.tasks][:2] == [made["twin"][0], made["newer"][0]]  # newest first
    assert [(g.key, g.planned, g.to_retry) for g in preview.by_actor] == [
        ("authentik.events.tasks.notify", 3, 3),
        (ACTOR, 3, 1),
    ]
    assert [(g.key, g.planned, g.to_retry) for g in preview.by_error] == [
        ("LDAPException: bind", 3, 1),
        ("TimeoutError: request <id> timed out after <n>s", 3, 3),
    ]
    assert [s.task.message_id for s in preview.sample] == [t.message_id for t in preview.tasks[:4]]
    assert preview.sample[0].task.state == "rejected" and preview.sample[0].skip is SkipReason.ACTIVE_TWIN
    assert preview.sample[0].error == "LDAPException: bind"


async def test_preview_applies_the_filter_and_the_limit(session: Session) -> None:
    made = await _bulk_fixture(session)
    only_ldap = await preview_bulk_retry(session, TaskFilter(text="ldap_sync"))
    assert only_ldap.matching == 4 and {t.actor_name for t in only_ldap.tasks} == {ACTOR}
    other_queue = await preview_bulk_retry(session, TaskFilter(queues=frozenset({"other"})))
    assert [t.message_id for t in other_queue.tasks] == made["other_queue"]
    nothing = await preview_bulk_retry(session, TaskFilter(text="no such actor"))
    assert nothing.matching == 0 and nothing.tasks == () and nothing.sample == ()

    limited = await preview_bulk_retry(session, TaskFilter(), limit=2)
    assert limited.matching == 7 and limited.limited and len(limited.tasks) == 2
    assert [t.message_id for t in limited.tasks] == [made["other_queue"][0], made["twin"][0]]


async def test_errors_are_grouped_over_the_newest_tasks_only(session: Session) -> None:
    ids = [await reject(session.conn, uid=f"u{i}", message=f"failure {i}") for i in range(3)]
    preview = await preview_bulk_retry(session, TaskFilter(), error_sample=2)
    assert [t.message_id for t in preview.tasks] == ids[::-1]
    assert [t.error for t in preview.tasks] == ["ValueError: failure <n>", "ValueError: failure <n>", None]
    assert preview.errors_analysed == 2
    assert [(g.key, g.planned, g.to_retry) for g in preview.by_error] == [("ValueError: failure <n>", 2, 2)]
    assert len(preview.to_retry) == 3  # the run still covers every planned task


async def test_a_task_without_error_logs_has_an_empty_error(mirror_dsn: str, session: Session) -> None:
    message_id = await reject(session.conn)
    execute(mirror_dsn, "DELETE FROM authentik_tasks_tasklog WHERE log_level = 'error'")
    preview = await preview_bulk_retry(session, TaskFilter())
    assert [(t.message_id, t.error) for t in preview.tasks] == [(message_id, "")]


async def test_preview_groups_real_errors_whole(session: Session) -> None:
    """Messages from authentik's real failures: names with digits stay, closing brackets stay,
    and tasks whose errors differ only in ids and ports share a group."""
    ldap = "80090308: LdapErr: DSID-0C0903E8, comment: AcceptSecurityContext error, data 52e, v4563"
    docker = (
        "Failed to connect to Docker: Error while fetching server API version:"
        " ('Connection aborted.', FileNotFoundError(2, 'No such file or directory'))"
    )
    for i in range(2):
        await reject(session.conn, ACTOR, uid=f"ldap-{i}", exc_type="LDAPException", message=ldap)
        await reject(
            session.conn,
            "authentik.outposts.tasks.outpost_controller",
            uid=f"docker-{i}",
            exc_type="authentik.outposts.controllers.base.ControllerException",
            message=docker,
        )
    for task, port in (("3fa85f64-5717-4562-b3fc-2c963f66afa6", 443), ("0b6f1a4e-27b4-4e70-9a39-3d2a0d7b0e11", 8443)):
        await reject(
            session.conn,
            "authentik.events.tasks.notify",
            exc_type="ConnectTimeout",
            message=f"task {task}: HTTPSConnectionPool(host='hooks.example.com', port={port}) timed out",
        )
    huge = await reject(session.conn, uid="huge", message="(" + "detail " * 300 + ")")

    preview = await preview_bulk_retry(session, TaskFilter())

    groups = {g.key: g.planned for g in preview.by_error}
    assert (
        groups.pop("LDAPException: <n>: LdapErr: DSID-0C0903E8, comment: AcceptSecurityContext error, data 52e, v4563")
        == 2
    )
    assert (
        groups.pop(
            "authentik.outposts.controllers.base.ControllerException: Failed to connect to Docker: Error while"
            " fetching server API version: ('Connection aborted.', FileNotFoundError(<n>, 'No such file or"
            " directory'))"
        )
        == 2
    )
    assert (
        groups.pop("ConnectTimeout: task <id>: HTTPSConnectionPool(host='hooks.example.com', port=<n>) timed out") == 2
    )
    ((long_key, count),) = groups.items()  # the 2,100-character error: cut, and it says so
    assert count == 1 and len(long_key) == 500 and long_key.startswith("ValueError: (detail detail")
    assert long_key.endswith("…")
    assert next(t.error for t in preview.tasks if t.message_id == huge) == long_key


# ---------------------------------------------------------------------------------------------
# Bulk: the run


async def test_bulk_run_retries_throttled_and_journals(mirror_dsn: str, session: Session, state_dir: Path) -> None:
    made = await _bulk_fixture(session)
    task_filter = TaskFilter(queues=frozenset({"default"}))
    preview = await preview_bulk_retry(session, task_filter)
    progress: list[BulkProgress] = []

    with Listener(mirror_dsn, ENQUEUE_CHANNEL) as listener:
        summary = await run_bulk_retry(session, preview, rate=20, on_progress=progress.append)
        woken = [n.payload for n in listener.collect()]

    to_retry = [t.message_id for t in preview.to_retry]
    assert [p.last.message_id for p in progress] == to_retry  # in plan order, one report each
    assert [p.attempted for p in progress] == [1, 2, 3, 4] and progress[-1].total == 4
    assert summary.elapsed >= 3 / 20 * 0.9  # 4 tasks at 20/s: 3 gaps of 50 ms at least
    assert summary.complete is False  # two were skipped
    assert (summary.retried, summary.skipped, summary.failed, summary.not_attempted) == (4, 2, 0, 0)
    assert summary.planned == 6 and summary.skipped_when_rechecked == Counter()
    assert sorted(woken) == sorted(to_retry)
    now = states(mirror_dsn)
    assert {now[m] for m in to_retry} == {"queued"}
    assert now[made["older"][0]] == now[made["twin"][0]] == now[made["other_queue"][0]] == "rejected"

    lines = journal_lines(state_dir)
    assert [line["action"] for line in lines] == ["bulk_retry_start", "bulk_retry_tasks", "bulk_retry_end"]
    start, tasks, end = lines
    assert {line["run"] for line in lines} == {summary.run_id}
    for line in lines:
        assert line["database"] == session.target.label and line["user"] and line["host"]
        assert line["at"].endswith("+00:00")
    assert start["filter"]["queues"] == ["default"] and start["filter"]["description"] == task_filter.describe()
    assert start["planned"] == 6 and start["to_retry"] == 4 and start["rate"] == 20
    assert start["skipped"] == {"older_duplicate": 1, "active_twin": 1}
    outcomes = {entry["id"]: entry["outcome"] for entry in tasks["tasks"]}
    assert outcomes == {t.message_id: ("retried" if t.skip is None else "skipped") for t in preview.tasks}
    skips = {entry["id"]: (entry["skip"], entry["skipped_at"]) for entry in tasks["tasks"] if "skip" in entry}
    assert skips == {made["older"][0]: ("older_duplicate", "preview"), made["twin"][0]: ("active_twin", "preview")}
    assert end["counts"] == {"retried": 4, "skipped": 2} and end["aborted"] is False
    assert end["planned"] == 6 and end["skipped"] == {"active_twin": 1, "older_duplicate": 1}
    assert end["skipped_when_rechecked"] == {}


async def test_the_throttle_does_not_burst_after_a_slow_retry(mirror_dsn: str, session: Session) -> None:
    for i in range(4):
        await reject(session.conn, uid=f"u{i}")
    preview = await preview_bulk_retry(session, TaskFilter())
    slow = preview.tasks[1].message_id
    finished: list[float] = []
    with psycopg.connect(mirror_dsn) as blocker:
        # The second task's row is busy for 0.6 s: its retry waits (within its lock timeout).
        blocker.execute("SELECT 1 FROM authentik_tasks_task WHERE message_id = %s FOR UPDATE", (slow,))
        released = time.monotonic() + 0.6
        asyncio.get_running_loop().call_later(0.6, blocker.rollback)
        summary = await run_bulk_retry(
            session, preview, rate=10, on_progress=lambda progress: finished.append(time.monotonic())
        )
    assert summary.retried == 4
    # The slow one waited for the lock (measured from its release: how long the first retry took
    # on a loaded machine does not matter).
    assert finished[1] >= released - 0.05
    # Behind schedule by ~0.5 s, yet the next two are not fired back to back to catch up.
    assert finished[3] - finished[2] >= 0.08


async def test_bulk_run_rechecks_each_task(mirror_dsn: str, session: Session) -> None:
    """What changed between the preview and the run is reported, never overridden."""
    made = await _bulk_fixture(session)
    preview = await preview_bulk_retry(session, TaskFilter(queues=frozenset({"default"})))
    retried_meanwhile, gets_a_twin = made["plain"][0], made["newer"][0]
    assert (await retry_task(session, retried_meanwhile)).retried
    tenant = await broker.default_tenant(session.conn)
    twin = await broker.enqueue(session.conn, ACTOR, tenant_id=tenant, uid="source-1")

    summary = await run_bulk_retry(session, preview, rate=None)

    by_id = {o.message_id: o for o in summary.outcomes}
    # Changed since the preview: skipped, with the reason and the fact that the re-check found it.
    assert by_id[retried_meanwhile].outcome is Outcome.SKIPPED and by_id[retried_meanwhile].rechecked
    assert by_id[retried_meanwhile].skip is SkipReason.ALREADY_RETRIED
    assert by_id[retried_meanwhile].describe() == (
        "skipped when re-checked (changed meanwhile: already retried by someone else, now queued)"
    )
    assert by_id[gets_a_twin].outcome is Outcome.SKIPPED and by_id[gets_a_twin].twin_id == twin
    assert by_id[gets_a_twin].skip is SkipReason.ACTIVE_TWIN and by_id[gets_a_twin].rechecked
    assert (summary.retried, summary.skipped, summary.failed, summary.not_attempted) == (2, 4, 0, 0)
    assert summary.skipped_by_reason == Counter(
        {SkipReason.ACTIVE_TWIN: 2, SkipReason.OLDER_DUPLICATE: 1, SkipReason.ALREADY_RETRIED: 1}
    )
    assert summary.skipped_when_rechecked == Counter({SkipReason.ACTIVE_TWIN: 1, SkipReason.ALREADY_RETRIED: 1})
    assert task_row(mirror_dsn, gets_a_twin)["state"] == "rejected"


async def test_abort_mid_run_leaves_a_correct_count(mirror_dsn: str, session: Session, state_dir: Path) -> None:
    ids = [await reject(session.conn, uid=f"u{i}") for i in range(8)]
    preview = await preview_bulk_retry(session, TaskFilter())
    abort = asyncio.Event()

    def stop_after_three(progress: BulkProgress) -> None:
        if progress.attempted == 3:
            abort.set()

    summary = await run_bulk_retry(session, preview, rate=50, abort=abort, on_progress=stop_after_three)

    assert summary.aborted and summary.stopped is None
    assert (summary.retried, summary.not_attempted) == (3, 5)
    retried = {o.message_id for o in summary.outcomes if o.retried}
    assert retried == {t.message_id for t in preview.tasks[:3]}
    now = states(mirror_dsn)
    assert {m for m in ids if now[m] == "queued"} == retried
    end = journal_lines(state_dir)[-1]
    assert end["action"] == "bulk_retry_end" and end["aborted"] is True
    assert end["counts"] == {"retried": 3, "not_attempted": 5}


async def test_an_aborted_run_adds_up_and_says_why_each_task_was_skipped(
    mirror_dsn: str, session: Session, state_dir: Path
) -> None:
    """The trial: the preview said "to retry 5, skipped 2"; y then a at once; the newest task's
    work had been queued again meanwhile. The summary says "Aborted", adds up, and names the
    reason of every skip — the re-check's as such — and so does the journal."""
    older = await reject(session.conn, ACTOR, uid="source-1")
    await reject(session.conn, ACTOR, uid="source-1")  # a newer rejected one: the older is skipped
    twin_of = await reject(session.conn, ACTOR, uid="source-2")
    tenant = await broker.default_tenant(session.conn)
    await broker.enqueue(session.conn, ACTOR, tenant_id=tenant, uid="source-2")  # its work is already queued
    plain = [await reject(session.conn, uid=f"u{i}") for i in range(4)]
    preview = await preview_bulk_retry(session, TaskFilter())
    assert (len(preview.tasks), len(preview.to_retry)) == (7, 5)
    assert preview.to_retry[0].message_id == plain[-1]  # the newest goes first
    requeued = await broker.enqueue(session.conn, "authentik.test.sync", tenant_id=tenant, uid="u3")
    abort = asyncio.Event()

    summary = await run_bulk_retry(session, preview, rate=1, abort=abort, on_progress=lambda _: abort.set())

    assert summary.aborted and summary.stopped is None
    assert (summary.planned, summary.retried, summary.skipped, summary.failed, summary.not_attempted) == (7, 0, 3, 0, 4)
    assert summary.planned == summary.retried + summary.skipped + summary.failed + summary.not_attempted
    first = summary.outcomes[0]
    assert (first.message_id, first.skip, first.twin_id, first.rechecked) == (
        plain[-1],
        SkipReason.ACTIVE_TWIN,
        requeued,
        True,
    )
    headline, *rest = bulk_summary_text(summary).splitlines()
    assert re.fullmatch(
        r"Aborted after (<0\.1|\d\.\d)s: 7 planned = 0 retried \+ 3 skipped \+ 0 failed \+ 4 not attempted", headline
    ), headline
    assert rest == [
        "  skipped 3, by reason:",
        "          1  the same actor and uid is already queued or running",
        "          1  the same actor and uid is already queued or running (found when re-checked)",
        "          1  a newer rejected task of the same actor and uid is retried instead",
        "  not attempted 4: aborted before their turn",
        f"  {plain[-1]}  skipped when re-checked (the same actor and uid is already queued or running: {requeued})",
    ]
    assert summary.describe() == headline

    lines = journal_lines(state_dir)
    entries = {entry["id"]: entry for line in lines if line["action"] == "bulk_retry_tasks" for entry in line["tasks"]}
    assert entries[plain[-1]] == {
        "id": plain[-1],
        "outcome": "skipped",
        "state": "rejected",
        "skip": "active_twin",
        "twin": requeued,
        "skipped_at": "run",
    }
    assert entries[older] == {
        "id": older,
        "outcome": "skipped",
        "state": "rejected",
        "skip": "older_duplicate",
        "skipped_at": "preview",
    }
    assert (entries[twin_of]["skip"], entries[twin_of]["skipped_at"]) == ("active_twin", "preview")
    assert {entries[m]["outcome"] for m in plain[:-1]} == {"not_attempted"}
    end = lines[-1]
    assert end["action"] == "bulk_retry_end" and end["aborted"] is True and end["planned"] == 7
    assert end["counts"] == {"skipped": 3, "not_attempted": 4} and sum(end["counts"].values()) == 7
    assert end["skipped"] == {"active_twin": 2, "older_duplicate": 1}
    assert end["skipped_when_rechecked"] == {"active_twin": 1}
    assert set(states(mirror_dsn).values()) == {"rejected", "queued"}
    assert states(mirror_dsn)[plain[-1]] == "rejected"


async def test_tasks_that_changed_since_the_preview_are_skipped_with_the_reason(
    mirror_dsn: str, session: Session, state_dir: Path
) -> None:
    retried, finished, deleted, untouched = [await reject(session.conn, uid=f"u{i}") for i in range(4)]
    preview = await preview_bulk_retry(session, TaskFilter())
    assert (await retry_task(session, retried)).retried  # another console got there first
    execute(mirror_dsn, "UPDATE authentik_tasks_task SET state = 'done' WHERE message_id = %s", (finished,))
    # authentik's clean-up of expired tasks (Django deletes the logs with the task)
    execute(mirror_dsn, "DELETE FROM authentik_tasks_tasklog WHERE task_id = %s", (deleted,))
    execute(mirror_dsn, "DELETE FROM authentik_tasks_task WHERE message_id = %s", (deleted,))

    summary = await run_bulk_retry(session, preview, rate=None)

    assert (summary.planned, summary.retried, summary.skipped, summary.failed, summary.not_attempted) == (4, 1, 3, 0, 0)
    assert summary.skipped_when_rechecked == Counter(
        {SkipReason.ALREADY_RETRIED: 1, SkipReason.NO_LONGER_REJECTED: 1, SkipReason.NOT_FOUND: 1}
    )
    headline, *rest = bulk_summary_text(summary).splitlines()
    assert headline.startswith("Done in ") and headline.endswith(
        ": 4 planned = 1 retried + 3 skipped + 0 failed + 0 not attempted"
    )
    assert rest[:4] == [
        "  skipped 3, by reason:",
        "          1  changed meanwhile: already retried by someone else (found when re-checked)",
        "          1  changed meanwhile: no longer rejected (found when re-checked)",
        "          1  changed meanwhile: not found (deleted) (found when re-checked)",
    ]
    assert sorted(rest[4:]) == sorted(
        [
            f"  {retried}  skipped when re-checked (changed meanwhile: already retried by someone else, now queued)",
            f"  {finished}  skipped when re-checked (changed meanwhile: no longer rejected, now done)",
            f"  {deleted}  skipped when re-checked (changed meanwhile: not found (deleted))",
        ]
    )
    entries = {e["id"]: e for line in journal_lines(state_dir) if "tasks" in line for e in line["tasks"]}
    assert {m: (entries[m]["outcome"], entries[m].get("skip"), entries[m].get("skipped_at")) for m in entries} == {
        retried: ("skipped", "already_retried", "run"),
        finished: ("skipped", "no_longer_rejected", "run"),
        deleted: ("skipped", "not_found", "run"),
        untouched: ("retried", None, None),
    }
    assert journal_lines(state_dir)[-1]["skipped_when_rechecked"] == {
        "already_retried": 1,
        "no_longer_rejected": 1,
        "not_found": 1,
    }


async def test_abort_wakes_a_slow_throttle_at_once(session: Session) -> None:
    for i in range(3):
        await reject(session.conn, uid=f"u{i}")
    preview = await preview_bulk_retry(session, TaskFilter())
    abort = asyncio.Event()

    def stop(progress: BulkProgress) -> None:
        asyncio.get_running_loop().call_later(0.05, abort.set)

    started = time.monotonic()
    summary = await run_bulk_retry(session, preview, rate=0.1, abort=abort, on_progress=stop)
    assert time.monotonic() - started < 5  # not the 10 s gap the rate asks for
    assert (summary.retried, summary.not_attempted) == (1, 2)


async def test_a_fatal_failure_stops_the_run(mirror_dsn: str) -> None:
    async with await open_session(db.Target.resolve(mirror_dsn)) as admin:
        for i in range(4):
            await reject(admin.conn, uid=f"u{i}")
    with role(mirror_dsn, "SELECT ON ALL TABLES IN SCHEMA public") as dsn:
        async with await open_session(db.Target.resolve(dsn)) as viewer:
            preview = await preview_bulk_retry(viewer, TaskFilter())  # any reader may preview
            assert len(preview.to_retry) == 4
            summary = await run_bulk_retry(viewer, preview, rate=None)
    assert (summary.failed, summary.not_attempted) == (1, 3)
    assert summary.stopped and "permission denied" in summary.stopped
    assert summary.describe().startswith("Stopped after ")
    assert "4 planned = 0 retried + 0 skipped + 1 failed + 3 not attempted (stopped: permission denied" in (
        summary.describe()
    )
    text = bulk_summary_text(summary)
    assert "  stopped by: permission denied" in text
    assert "  not attempted 3: the run stopped before their turn" in text
    assert set(states(mirror_dsn).values()) == {"rejected"}


# ---------------------------------------------------------------------------------------------
# The journal


async def test_a_selection_is_journaled_as_one_line(mirror_dsn: str, session: Session, state_dir: Path) -> None:
    first = await reject(session.conn, uid="a")
    second = await reject(session.conn, uid="b")
    assert (await retry_task(session, second)).retried

    result = await retry_selected(session, [first, second])

    assert [o.outcome for o in result.outcomes] == [Outcome.RETRIED, Outcome.ALREADY_RETRIED]
    assert result.journal_error is None and not result.all_retried
    (line,) = journal_lines(state_dir)
    assert line["action"] == "retry" and line["database"] == session.target.label
    assert line["tasks"] == [
        {"id": first, "outcome": "retried"},
        {"id": second, "outcome": "already_retried", "state": "queued"},
    ]
    assert (state_dir / "retries.jsonl").stat().st_mode & 0o777 == 0o600


async def test_the_journal_never_holds_a_password(mirror_dsn: str, state_dir: Path) -> None:
    async with await open_session(db.Target.resolve(mirror_dsn)) as admin:
        message_id = await reject(admin.conn)
    grants = ("ALL ON ALL TABLES IN SCHEMA public",)
    with role(mirror_dsn, *grants) as dsn:
        password = psycopg.conninfo.conninfo_to_dict(dsn)["password"]
        async with await open_session(db.Target.resolve(dsn)) as session:
            assert (await retry_selected(session, [message_id])).all_retried
    text = (state_dir / "retries.jsonl").read_text()
    assert password and password not in text and "tasktui_test_" in text


async def test_an_unwritable_journal_is_reported_and_the_retry_still_happens(
    mirror_dsn: str, session: Session, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    message_id = await reject(session.conn)
    result = await retry_selected(session, [message_id], journal=Journal(blocker / "retries.jsonl"))
    assert result.all_retried
    assert result.journal_error and "not written" in result.journal_error
    assert task_row(mirror_dsn, message_id)["state"] == "queued"


def test_elapsed_time_is_precise_under_ten_seconds() -> None:
    """A run aborted at once took 0.4s, not "0s"."""
    from tasktui.core.timefmt import elapsed

    assert [elapsed(s) for s in (0.01, 0.4, 0.449, 9.94, 12.4, 150)] == ["<0.1s", "0.4s", "0.4s", "9.9s", "12s", "2m"]


def test_active_states_are_the_unfinished_states() -> None:
    from tasktui.core.status import FINAL_STATES, STATES

    assert set(retry_sql.ACTIVE_STATES) == set(STATES) - set(FINAL_STATES)
