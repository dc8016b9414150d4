"""The console's bounded window keeps what an SRE looks for: each final state has its own budget,
so a stream of successful tasks never pushes out the few rejected ones, and "load older" pages
each state back on its own keyset."""

from __future__ import annotations

import asyncio

from tasktui.core.console import TaskConsole
from tasktui.core.events import FeedMode
from tasktui.core.window import FIRST_PAGE
from tasktui.demo import broker
from tests.feed_helpers import running_console, running_feed, until

OLD_TASKS = """
INSERT INTO authentik_tasks_task (message_id, queue_name, actor_name, message, state, mtime, _messages,
    _previous_messages, aggregated_status, tenant_id, retries)
SELECT gen_random_uuid(), 'default', %(prefix)s || g, ''::bytea, %(state)s::text,
       now() - %(age)s::interval - g * interval '1 minute',
       '[]', '[]', %(state)s::text, (SELECT tenant_uuid FROM authentik_tenants_tenant), 0
FROM generate_series(1, %(n)s) AS g
"""


async def _old(writer, prefix: str, state: str, n: int, age: str) -> None:
    await writer.execute(OLD_TASKS, {"prefix": prefix, "state": state, "n": n, "age": age})


def _actors(console: TaskConsole, state: str) -> set[str]:
    return {r.actor_name for r in console.store.rows.values() if r.state == state}


async def test_successful_tasks_streaming_past_never_push_out_rejected_ones(live_dsn: str, writer) -> None:
    await _old(writer, "authentik.failed.", "rejected", 3, "3 hours")
    async with running_console(live_dsn, window=10) as (console, _):
        await until(lambda: console.mode == FeedMode.LIVE, what="live feed")
        await until(lambda: len(_actors(console, "rejected")) == 3, what="rejected loaded")
        tenant = await broker.default_tenant(writer)
        for i in range(30):
            message_id = await broker.enqueue(writer, f"authentik.burst.{i}", tenant_id=tenant)
            assert await broker.claim(writer, message_id)
            await broker.start_processing(writer, message_id)
            await broker.succeed(writer, message_id)
        await until(lambda: "authentik.burst.29" in _actors(console, "done"), what="the last success")
        await asyncio.sleep(0.3)
        assert 10 <= len(_actors(console, "done")) <= 12  # successes are bounded…
        assert _actors(console, "rejected") == {f"authentik.failed.{g}" for g in (1, 2, 3)}  # …failures stay


async def test_load_older_pages_each_final_state_on_its_own(live_dsn: str, writer) -> None:
    await _old(writer, "authentik.done.", "done", 15, "1 minute")
    await _old(writer, "authentik.failed.", "rejected", 15, "5 hours")
    async with running_console(live_dsn, window=10) as (console, _):
        await until(lambda: console.loaded == 20, what="ten of each final state")
        assert len(_actors(console, "rejected")) == len(_actors(console, "done")) == 10
        # One page: the newest 10 older tasks across both states — the successes (minutes old).
        assert await console.feed.load_older(count=10) == 10
        assert len(_actors(console, "done")) == 15 and len(_actors(console, "rejected")) == 15
        assert await console.feed.load_older(count=10) == 0


async def test_the_first_screen_does_not_wait_for_the_whole_window(live_dsn: str, writer) -> None:
    """A (re)load reads every unfinished task and a first page of finished ones, reports, and only
    then reads the rest of the window: on a big table the first screen needs a few hundred rows, not
    thousands each with a look-up of its logs."""
    await _old(writer, "authentik.done.", "done", FIRST_PAGE + 300, "1 minute")
    await _old(writer, "authentik.queued.", "queued", 50, "1 hour")
    sizes: list[int] = []
    async with running_feed(live_dsn, window=1_000) as (_feed, store, sink):
        original = sink.feed_updated

        def record(update: object) -> None:
            sizes.append(len(store))
            original(update)

        sink.feed_updated = record  # type: ignore[method-assign]
        await until(lambda: len(store) == 50 + FIRST_PAGE + 300, what="the whole window")
    assert sizes[0] == 50 + FIRST_PAGE  # every unfinished task, the newest finished ones
    assert sizes[-1] == 50 + FIRST_PAGE + 300


async def test_tasks_paged_in_stay_while_tasks_finish_live_and_dropping_them_is_told(live_dsn: str, writer) -> None:
    """Tasks paged in with "load older" are what the user asked to read: tasks finishing live must
    not push them out seconds later (they did, without a word). Past the cap the oldest go, and
    the console says so."""
    await _old(writer, "authentik.old.", "done", 20, "1 hour")
    async with running_console(live_dsn, window=10) as (console, events):
        await until(lambda: console.loaded == 10, what="the window")
        console.feed._window.paged_cap = 40
        assert await console.feed.load_older(count=10) == 10
        assert len(_actors(console, "done")) == 20
        tenant = await broker.default_tenant(writer)

        async def finish(first: int, last: int) -> None:
            for i in range(first, last):
                message_id = await broker.enqueue(writer, f"authentik.burst.{i}", tenant_id=tenant)
                assert await broker.claim(writer, message_id)
                await broker.start_processing(writer, message_id)
                await broker.succeed(writer, message_id)
            await until(lambda: f"authentik.burst.{last - 1}" in _actors(console, "done"), what="the last success")
            await asyncio.sleep(0.3)

        await finish(0, 15)
        assert {f"authentik.old.{g}" for g in range(1, 21)} <= _actors(console, "done")  # all still there
        assert events.notices == []
        await finish(15, 40)  # 60 held: past the cap and its quarter
        assert len(_actors(console, "done")) <= 50
        assert "authentik.old.20" not in _actors(console, "done")  # the oldest went first
        assert "authentik.burst.39" in _actors(console, "done")
        await until(lambda: any("the window is full" in n for n in events.notices), what="the notice")
        (notice,) = [n for n in events.notices if "the window is full" in n]
        assert "loaded with 'load older'" in notice and "at most 40 per status" in notice
