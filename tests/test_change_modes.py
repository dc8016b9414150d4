"""The trigger's two modes (version 3), against real PostgreSQL: NOTIFY while the rate is low, an
unlogged change table drained by the consoles when one asks for it. The switch is a console's
wish through a function that checks the caller; the most demanding live console wins and a
crashed console's wish lapses with its heartbeat; drains read every committed change exactly
once whatever the commit order; the table is bounded; version 2 upgrades in place."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import psycopg
import pytest

from tasktui.core import db
from tasktui.core.changemode import ModePolicy
from tasktui.core.listener import DRAINED, Change, ChangeListener
from tasktui.core.session import detect_shape
from tasktui.core.trigger import DRAIN_MODE, NOTIFY_MODE, TRIGGER_VERSION, render_install_sql, status
from tasktui.demo import broker
from tests.conftest import run_cli
from tests.notify_helpers import Listener, execute
from tests.retry_helpers import role

NO_HEARTBEAT = 3600.0
V2_SCRIPT = Path(__file__).parent / "data" / "tasktui_notify_v2.sql"
READER = "SELECT ON TABLE authentik_tasks_task, authentik_tasks_tasklog, authentik_tasks_workerstatus"


async def _collect(
    changes: AsyncIterator[Change], until: Callable[[list[Change]], bool], within: float = 15.0
) -> list[Change]:
    """Changes from a running listener until `until(all so far)` holds."""
    got: list[Change] = []
    async with asyncio.timeout(within):
        async for change in changes:
            got.append(change)
            if until(got):
                return got
    raise AssertionError("the listener stopped")


def _drains(changes: list[Change]) -> int:
    return sum(1 for c in changes if c.table == DRAINED)


def _task_ids(changes: list[Change]) -> list[str]:
    return [c.id for c in changes if c.table == "task"]


async def _tasks(dsn: str, n: int) -> list[str]:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        tenant = await broker.default_tenant(conn)
        return [await broker.enqueue(conn, "authentik.test.modes", tenant_id=tenant) for _ in range(n)]


async def test_a_drain_reads_each_committed_change_once_whatever_the_commit_order(live_dsn: str) -> None:
    first, second = await _tasks(live_dsn, 2)
    target = db.Target.resolve(live_dsn)
    async with ChangeListener(target, mode="drain", heartbeat_seconds=NO_HEARTBEAT) as console:
        assert console.mode == DRAIN_MODE
        changes = console.changes()
        with Listener(live_dsn, console.channel) as channel:
            async with (
                await psycopg.AsyncConnection.connect(live_dsn, autocommit=True) as early,
                await psycopg.AsyncConnection.connect(live_dsn, autocommit=True) as late,
            ):
                # `early` takes its transaction id and records its change first, then commits
                # last; `late` records and commits in between. A drain by "newer than the last id
                # read" would pass over `early`'s row once `late`'s was read.
                await early.execute("BEGIN")
                await early.execute("UPDATE authentik_tasks_task SET retries = 7 WHERE message_id = %s", (first,))
                await late.execute("UPDATE authentik_tasks_task SET retries = 8 WHERE message_id = %s", (second,))
                seen = await _collect(changes, lambda got: second in _task_ids(got))
                # A few more drains while `early` is open: its change is not visible yet.
                seen += await _collect(changes, lambda got: _drains(got) >= 3)
                assert first not in _task_ids(seen)
                await early.execute("COMMIT")
                seen += await _collect(changes, lambda got: first in _task_ids(got))
                seen += await _collect(changes, lambda got: _drains(got) >= 3)
            # Each change exactly once; and no NOTIFY was sent for them (no commit lock).
            assert sorted(_task_ids(seen)) == sorted([first, second])
            assert channel.collect() == []
        await changes.aclose()


@pytest.mark.slow
async def test_the_most_demanding_console_wins_and_a_crashed_consoles_wish_lapses(live_dsn: str) -> None:
    target = db.Target.resolve(live_dsn)
    async with ChangeListener(target, mode="notify", heartbeat_seconds=NO_HEARTBEAT) as calm:
        with Listener(live_dsn, calm.channel) as channel:
            (task,) = await _tasks(live_dsn, 1)
            assert [p["table"] for p in channel.payloads()] == ["task", "tasklog"]
            assert "mode: notify" in run_cli("trigger", "status", "--dsn", live_dsn).stdout

            async with ChangeListener(target, mode="drain", heartbeat_seconds=NO_HEARTBEAT) as busy:
                # The switch is announced at once on every live console's channel ...
                assert channel.payloads() == [{"table": "mode", "mode": "drain"}]
                out = run_cli("trigger", "status", "--dsn", live_dsn).stdout
                user = psycopg.conninfo.conninfo_to_dict(live_dsn).get("user", "")
                assert f"mode: drain (asked by {user}@" in out and f"pid {busy_pid(live_dsn, busy)}" in out
                # ... and from then on the trigger records changes instead of notifying.
                changes = calm.changes()
                await _collect(changes, lambda got: calm.mode == DRAIN_MODE or _drains(got) > 0)
                execute(live_dsn, "UPDATE authentik_tasks_task SET retries = 1 WHERE message_id = %s", (task,))
                assert channel.payloads() == []
                seen = await _collect(changes, lambda got: task in _task_ids(got))
                assert seen[-1].payload.endswith('"via": "drain"}')

                # The asking console crashes: its wish lapses with its heartbeat.
                execute(
                    live_dsn,
                    "UPDATE tasktui_console SET heartbeat = now() - interval '1 minute' WHERE console_id = %s",
                    (busy.console_id,),
                )
                execute(live_dsn, "UPDATE authentik_tasks_task SET retries = 2 WHERE message_id = %s", (task,))
                assert [p["table"] for p in channel.payloads()] == ["task"]
                assert "mode: notify" in run_cli("trigger", "status", "--dsn", live_dsn).stdout
                # The console that drained hears it at its heartbeat and keeps draining a while.
                await calm.heartbeat()
                assert calm.mode == NOTIFY_MODE and calm.draining
                await changes.aclose()


def busy_pid(dsn: str, console: ChangeListener) -> int:
    return execute(dsn, "SELECT backend_pid FROM tasktui_console WHERE console_id = %s", (console.console_id,))[0][0]


async def test_only_a_registered_reader_sets_its_own_wish_and_drains(live_dsn: str) -> None:
    async with ChangeListener(db.Target.resolve(live_dsn), mode="notify", heartbeat_seconds=NO_HEARTBEAT) as owner:
        with role(live_dsn) as stranger, role(live_dsn, READER) as reader:
            for statement in (
                "SELECT tasktui_mode(%s, 'drain')",
                "SELECT * FROM tasktui_drain(%s, NULL, false)",
                "SELECT * FROM tasktui_changes",
            ):
                with (
                    psycopg.connect(stranger, autocommit=True) as conn,
                    pytest.raises(psycopg.errors.InsufficientPrivilege),
                ):
                    conn.execute(statement, (owner.console_id,) if "%s" in statement else None)
            with psycopg.connect(reader, autocommit=True) as conn:
                # Another role's console: no wish set, nothing drained.
                assert conn.execute("SELECT tasktui_mode(%s, 'drain')", (owner.console_id,)).fetchone() == (None,)
                with pytest.raises(psycopg.errors.InsufficientPrivilege, match="not registered"):
                    conn.execute("SELECT * FROM tasktui_drain(%s, NULL, false)", (owner.console_id,))
                with pytest.raises(psycopg.errors.InvalidParameterValue):
                    conn.execute("SELECT tasktui_mode(%s, 'shout')", (owner.console_id,))
        assert execute(live_dsn, "SELECT wants FROM tasktui_console") == [("notify",)]


async def test_the_change_table_stays_bounded(live_dsn: str) -> None:
    (task,) = await _tasks(live_dsn, 1)
    target = db.Target.resolve(live_dsn)
    async with ChangeListener(target, mode="drain", heartbeat_seconds=NO_HEARTBEAT) as console:
        for n in range(5):
            execute(live_dsn, "UPDATE authentik_tasks_task SET retries = %s WHERE message_id = %s", (n + 1, task))
        assert execute(live_dsn, "SELECT count(*) FROM tasktui_changes") == [(5,)]
        # Rows past their retention go with the next tidy drain, whoever makes it.
        execute(live_dsn, "UPDATE tasktui_changes SET written = written - interval '2 minutes'")
        await console._drain(tidy=True)
        assert execute(live_dsn, "SELECT count(*) FROM tasktui_changes") == [(0,)]
    # With no console watching, the trigger records nothing.
    execute(live_dsn, "UPDATE authentik_tasks_task SET retries = 99 WHERE message_id = %s", (task,))
    assert execute(live_dsn, "SELECT count(*) FROM tasktui_changes") == [(0,)]


async def test_version_2_upgrades_in_place_and_keeps_its_consoles(mirror_dsn: str) -> None:
    target = db.Target.resolve(mirror_dsn)
    async with await db.connect(target) as conn:
        shape = await detect_shape(conn)
        await conn.execute(render_install_sql(shape, V2_SCRIPT.read_text(), version=2))  # type: ignore[arg-type]
        assert (await status(conn, shape)).version == 2
    console_id = str(uuid.uuid4())
    with psycopg.connect(mirror_dsn, autocommit=True) as old_console:
        # A console of the previous release, registered through version 2's function.
        old_console.execute("SELECT tasktui_register(%s, 'tasktui', 'old-host')", (console_id,))
        # This release refuses version 2 clearly (and polls).
        result = run_cli("tail", "--dsn", mirror_dsn, timeout=30)
        assert result.returncode == 5 and "outdated; run `tasktui trigger install` to upgrade it" in result.stderr

        out = run_cli("trigger", "install", "--dsn", mirror_dsn)
        assert out.returncode == 0, out.stderr
        assert f"installed, version {TRIGGER_VERSION} (current); 1 console(s) watching now; mode: notify" in out.stdout
        # The old console's registration survives and its heartbeat still works.
        assert old_console.execute("SELECT tasktui_heartbeat(%s)", (console_id,)).fetchone() == (False,)
    assert execute(mirror_dsn, "SELECT hostname, wants FROM tasktui_console") == [("old-host", "notify")]
    async with ChangeListener(target, mode="drain", heartbeat_seconds=NO_HEARTBEAT) as console:
        assert console.mode == DRAIN_MODE


def test_the_policy_asks_for_drain_when_the_rate_climbs_and_back_after_a_calm_spell() -> None:
    policy = ModePolicy(up_rate=50, up_window=1, down_rate=10, down_window=30)
    for tenth in range(100):
        policy.count(4, now=1000 + tenth / 10)  # 40/s
    assert policy.decide(now=1009.95) == NOTIFY_MODE
    for tenth in range(100, 106):
        policy.count(10, now=1000 + tenth / 10)  # a burst: 60 changes in 0.6 s
    assert policy.decide(now=1010.6) == DRAIN_MODE
    # A short lull does not bring NOTIFY back; half a minute of calm does.
    for second in range(11, 30):
        policy.count(2, now=1000 + second)
    assert policy.decide(now=1030.1) == DRAIN_MODE
    for second in range(30, 45):
        policy.count(2, now=1000 + second)
    assert policy.decide(now=1045.1) == NOTIFY_MODE
