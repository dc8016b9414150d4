"""The main screen on the fake service: what the table, header and panels show, and what each key
does to them — search, facets, sort, pause, help, the worker panel, paging older tasks."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from textual.screen import Screen

from tasktui.core.events import FeedMode
from tasktui.errors import ConnectionFailed
from tasktui.ui.screens.facets import FacetScreen
from tasktui.ui.widgets.task_table import TaskRows
from tests.fake_console import NOW, FakeConsole, task, workers
from tests.ui_helpers import component_color, fake_app, main_rows, row_style, row_texts, screen_text, wait_for

LDAP = "authentik.sources.ldap.tasks.ldap_sync"
SCIM = "authentik.providers.scim.tasks.scim_sync"


async def test_each_row_has_its_status_colour() -> None:
    queued = task(1, LDAP, uid="corp", minutes_ago=1)
    rejected = task(2, "authentik.outposts.tasks.outpost_controller", uid="k8s", state="rejected", minutes_ago=2)
    app = fake_app(FakeConsole([queued, rejected]))
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: len(main_rows(app)) == 2, what="two rows")
        assert any("Waiting to run" in line and "ldap_sync:corp" in line for line in row_texts(app))
        rows = app.main_screen.query_one(TaskRows)
        rows.move_to(main_rows(app).index(rejected.message_id))  # the cursor's colour is its own
        await pilot.pause()
        assert row_style(app, queued.message_id).color == component_color(app, "queued")
        rows.move_to(main_rows(app).index(queued.message_id))
        await pilot.pause()
        assert row_style(app, rejected.message_id).color == component_color(app, "error")
        assert "LIVE" in screen_text(app)


async def test_the_header_counts_what_comes_in() -> None:
    fake = FakeConsole()
    app = fake_app(fake)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: "Error 0" in screen_text(app), what="Error 0")
        fake.put(
            task(1, "authentik.x.fails", uid="1", state="rejected"),
            task(2, "authentik.x.fails", uid="2", state="rejected"),
        )
        await wait_for(pilot, lambda: "Error 2" in screen_text(app), what="Error 2")


async def test_search_facets_and_hide_successful() -> None:
    ldap = task(1, LDAP, uid="corp", minutes_ago=3)
    scim = task(2, SCIM, uid="okta", minutes_ago=2)
    done = task(3, "authentik.core.tasks.clean_expired_models", state="done", minutes_ago=1)
    app = fake_app(FakeConsole([ldap, scim, done]))
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: {ldap.message_id, scim.message_id} <= set(main_rows(app)), what="tasks loaded")
        assert done.message_id not in main_rows(app), "successful tasks are hidden by default, as in authentik"
        await pilot.press("h")
        await wait_for(pilot, lambda: done.message_id in main_rows(app), what="successful task shown")
        await pilot.press("slash", *"scim")
        await wait_for(pilot, lambda: main_rows(app) == [scim.message_id], what="search narrows to scim")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "/scim" in screen_text(app), what="/scim")
        await pilot.press("c")
        await wait_for(pilot, lambda: len(main_rows(app)) == 3, what="filters cleared")
        # Searching by message id works too.
        await pilot.press("slash", *ldap.message_id[:8], "enter")
        await wait_for(pilot, lambda: main_rows(app) == [ldap.message_id], what="search by message id")
        await pilot.press("escape")
        await wait_for(pilot, lambda: len(main_rows(app)) == 3, what="Esc clears the search")


async def test_sort_by_column_and_invert() -> None:
    app = fake_app(FakeConsole([task(i + 1, actor) for i, actor in enumerate(("b.actor", "a.actor", "c.actor"))]))
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: len(main_rows(app)) == 3, what="three tasks")
        while app.main_screen.sort.column != "actor":
            await pilot.press("o")
        rows = app.main_screen.query_one(TaskRows)
        assert [r.actor_name for r in rows.rows] == ["a.actor", "b.actor", "c.actor"]
        await wait_for(pilot, lambda: "Actor:uid ▲" in screen_text(app), what="Actor:uid ▲")
        await pilot.press("i")
        await pilot.pause()
        assert [r.actor_name for r in rows.rows] == ["c.actor", "b.actor", "a.actor"]


async def test_pause_buffers_and_resume_applies_everything() -> None:
    fake = FakeConsole()
    app = fake_app(fake)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("space")
        await wait_for(pilot, lambda: "PAUSED" in screen_text(app), what="PAUSED")
        first, second = task(1, "authentik.paused.one"), task(2, "authentik.paused.two")
        fake.put(first)
        fake.put(second)
        # Said at once, not at the next second's tick.
        await wait_for(pilot, lambda: "2 changes buffered" in screen_text(app), within=0.5, what="buffered, said")
        assert first.message_id not in main_rows(app) and second.message_id not in main_rows(app)
        await pilot.press("space")
        await wait_for(pilot, lambda: {first.message_id, second.message_id} <= set(main_rows(app)), what="resumed")
        await wait_for(pilot, lambda: "PAUSED" not in screen_text(app), what="no PAUSED")


async def test_polling_is_said_with_how_to_go_live() -> None:
    reason = "tasktui's trigger is not installed: run `tasktui trigger install` for live updates"
    app = fake_app(FakeConsole([task(1)], mode=FeedMode.POLLING, detail=reason))
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: "POLLING" in screen_text(app), what="POLLING")
        assert "tasktui trigger install" in screen_text(app)


async def test_a_status_the_logs_made_worse_is_marked() -> None:
    done = task(1, "authentik.events.tasks.notification_transport", state="done", status="error")
    app = fake_app(FakeConsole([done]))
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: len(main_rows(app)) == 1, what="task shown")
        assert row_texts(app)[0].startswith("✗ Error*")


async def test_older_and_newer_table_shapes_show_the_status_they_give() -> None:
    legacy = replace(task(1, "authentik.legacy.actor", state="done", tenant=None), aggregated_status="warning")
    app = fake_app(FakeConsole([replace(legacy, effective_status="warning", retries=None)]))
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("h")  # show successful (and warning) tasks
        await wait_for(pilot, lambda: len(main_rows(app)) == 1, what="task shown")
        assert "Warning" in row_texts(app)[0]


async def test_help_lists_every_binding_and_read_only_hides_retry() -> None:
    app = fake_app(FakeConsole(), read_only=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        text = screen_text(app)
        assert "Pause / resume live updates" in text and "Search actor, uid or message id" in text
        assert "Retry this rejected task" not in text
        await pilot.press("escape")
        await pilot.pause()
        assert "Retry" not in screen_text(app).splitlines()[-1], "no retry key in the footer when read-only"
        assert "READ-ONLY (--read-only)" in screen_text(app)
        assert not any(name == "retry_capability" for name, _ in app.service.calls), "no need to ask the role"


async def test_terminal_escapes_in_actor_names_are_shown_literally() -> None:
    app = fake_app(FakeConsole([task(1, "evil.\x1b[31mred[bold]x[/bold]", uid="\x1b]0;title\x07")]))
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: len(main_rows(app)) == 1, what="task loaded")
        line = row_texts(app)[0]
        assert "\x1b" not in line
        assert "\\x1b[31mred[bold]x[/bold]" in line


async def test_the_worker_panel_and_the_header_alarm() -> None:
    fake = FakeConsole(report=workers())
    app = fake_app(fake)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: "⚠ no live worker" in screen_text(app), what="the header's alarm")
        fake.report = workers(("worker-a.example", "2026.5.0", 5, True))
        await pilot.press("w")
        await wait_for(pilot, lambda: "worker-a.example" in screen_text(app), what="the worker")
        text = screen_text(app)
        assert "ALIVE" in text and "No workers connected" not in text and "no live worker" not in text


async def test_a_failing_worker_check_says_why_in_the_panel() -> None:
    fake = FakeConsole()
    fake.fail("workers", ConnectionFailed("cannot reach the server at db: connection refused"), times=2)
    app = fake_app(fake)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("w")
        await wait_for(pilot, lambda: "workers: cannot reach the server" in screen_text(app), what="the reason")


async def test_facets_filter_by_status_and_queue() -> None:
    queued = task(1, "authentik.a", queue="default", minutes_ago=3)
    other_queue = task(2, "authentik.b", queue="slow", minutes_ago=2)
    rejected = task(3, "authentik.c", uid="1", state="rejected", minutes_ago=1)
    app = fake_app(FakeConsole([queued, other_queue, rejected]))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: len(main_rows(app)) == 3, what="loaded")
        await pilot.press("f")
        await wait_for(pilot, lambda: isinstance(app.screen, FacetScreen), what="facet picker")
        app.screen.query_one("#facet-status").select("rejected")

        def marked(key: str) -> bool:
            (line,) = [line for line in screen_text(app).splitlines() if f"({key})" in line]
            return "✓" in line

        # The selection shows as a tick, not only as a colour.
        await wait_for(pilot, lambda: marked("rejected") and not marked("done"), what="a tick on rejected only")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: main_rows(app) == [rejected.message_id], what="status facet")
        await wait_for(pilot, lambda: "status=rejected" in screen_text(app), what="status=rejected")
        await pilot.press("c", "f")
        await wait_for(pilot, lambda: isinstance(app.screen, FacetScreen), what="facet picker again")
        app.screen.query_one("#facet-queue").select("slow")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: main_rows(app) == [other_queue.message_id], what="queue facet")


async def test_load_older_says_how_many_came() -> None:
    fake = FakeConsole([task(1, state="done")])
    fake.older = [task(10 + i, f"authentik.old.{i}", state="done", minutes_ago=60 + i) for i in range(30)]
    app = fake_app(fake)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await pilot.press("m")
        await wait_for(pilot, lambda: "loaded 30 older finished tasks" in screen_text(app), what="notice")
        assert app.service.loaded == 31
        fake.fail("load_older", ConnectionFailed("not connected (reconnecting): try again once the feed is back"))
        await pilot.press("m")
        await wait_for(pilot, lambda: "could not load older tasks: not connected" in screen_text(app), what="why not")


async def test_live_updates_while_another_screen_is_on_top() -> None:
    fake = FakeConsole()
    app = fake_app(fake)
    async with app.run_test(size=(120, 36)) as pilot:
        await app.push_screen(Screen())  # a full screen on top, as the task detail is
        await pilot.pause()
        fake.put(task(1, "authentik.under.help"))
        await wait_for(pilot, lambda: len(main_rows(app)) == 1, what="table updated underneath")
        app.main_screen.tick()
        app.pop_screen()
        await pilot.pause()
        assert any("authentik.under.help" in line for line in row_texts(app))


async def test_reconnecting_says_why_and_how_long_then_the_news_fades() -> None:
    fake = FakeConsole([task(1)])
    clock = [NOW]
    app = fake_app(fake, clock=lambda: clock[0])
    async with app.run_test(size=(120, 36)) as pilot:
        fake.set_status(
            FeedMode.RECONNECTING, "cannot reach the server: connection refused", blind_since=NOW.timestamp() - 4
        )
        await wait_for(pilot, lambda: "RECONNECTING" in screen_text(app), what="RECONNECTING")
        assert "blind 4.0s" in screen_text(app) and "connection refused" in screen_text(app)
        fake.set_status(FeedMode.LIVE, "reconnected after 4.0s blind; reloaded", fades=True)
        await wait_for(pilot, lambda: "blind; reloaded" in screen_text(app), what="the news")
        assert "RECONNECTING" not in screen_text(app)
        clock[0] = NOW + timedelta(seconds=31)
        app.main_screen.show_header()
        await wait_for(pilot, lambda: "blind; reloaded" not in screen_text(app), what="the news faded")
