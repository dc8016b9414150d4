"""The least a role needs, proven with real roles: SELECT on authentik's three task tables gives a
live, read-only console (names of tenants and related objects fall back to ids, said once), and
`show` and `retry --dry-run` work too. The README's privilege table is what these tests grant."""

from __future__ import annotations

import asyncio

import pytest

from tasktui.core.events import FeedMode
from tasktui.core.shape import CONTENT_TYPE_TABLE, TENANT_TABLE
from tasktui.demo import broker
from tasktui.ui.screens.task_detail import TaskDetailScreen
from tasktui.ui.widgets.task_table import TaskRows
from tests.conftest import run_cli
from tests.notify_helpers import execute
from tests.retry_helpers import rejected_after_a_retry, role
from tests.ui_helpers import make_app, screen_text, wait_for

READER = "SELECT ON TABLE authentik_tasks_task, authentik_tasks_tasklog, authentik_tasks_workerstatus"
IDS_NOTICE = "tenant names and related object types shown as ids"


def _notices(app) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def test_select_on_the_task_tables_is_a_live_read_only_console_with_ids(live_dsn: str, writer) -> None:
    message_id = await rejected_after_a_retry(writer)
    tenant = str(await broker.default_tenant(writer))
    content_type = execute(live_dsn, "SELECT id FROM django_content_type WHERE model = 'ldapsource'")[0][0]
    with role(live_dsn, READER) as reader:
        app = make_app(reader)
        async with app.run_test(size=(160, 40), notifications=True) as pilot:
            await wait_for(pilot, lambda: app.service.feed.mode == FeedMode.LIVE, within=15, what="a live feed")
            await wait_for(pilot, lambda: app.access.read_only, what="read-only: no right to retry")
            assert "lacks UPDATE on authentik_tasks_task" in app.access.reason
            rows = app.main_screen.query_one(TaskRows)
            await wait_for(pilot, lambda: message_id in [r.message_id for r in rows.rows], what="the task")
            task = next(r for r in rows.rows if r.message_id == message_id)
            assert (task.tenant_name, task.tenant_id, task.rel_obj_type) == (None, tenant, str(content_type))
            assert tenant[:11] in screen_text(app)  # the tenant column shows the id

            # Live, through the registration functions: a new task shows without polling.
            new_id = await broker.enqueue(
                writer, "authentik.after.start", tenant_id=await broker.default_tenant(writer)
            )
            await wait_for(pilot, lambda: new_id in [r.message_id for r in rows.rows], what="a live change")

            rows.move_to([r.message_id for r in rows.rows].index(message_id))
            await pilot.press("enter")
            await wait_for(
                pilot,
                lambda: isinstance(app.screen, TaskDetailScreen) and app.screen.detail is not None,
                what="the task's detail",
            )
            await wait_for(pilot, lambda: f"{content_type}:42" in screen_text(app), what="related object by id")
            await pilot.press("escape")

            # One notice, however long the console runs (no retry loop behind it).
            await asyncio.sleep(3)
            await pilot.pause()
            assert app.service.feed.mode == FeedMode.LIVE
            said = [n for n in _notices(app) if IDS_NOTICE in n]
            assert len(said) == 1, _notices(app)
            assert TENANT_TABLE in said[0] and CONTENT_TYPE_TABLE in said[0]


@pytest.mark.slow
async def test_show_and_retry_dry_run_for_a_select_only_role(live_dsn: str, writer) -> None:
    message_id = await rejected_after_a_retry(writer)
    tenant = str(await broker.default_tenant(writer))
    with role(live_dsn, READER) as reader:
        shown = run_cli("show", message_id, "--dsn", reader)
        assert shown.returncode == 0, shown.stderr
        assert tenant in shown.stdout and "LDAPException: server down" in shown.stdout
        assert shown.stderr.count("\n") == 1 and IDS_NOTICE in shown.stderr

        dry = run_cli("retry", message_id, "--dry-run", "--dsn", reader)
        assert dry.returncode == 0, dry.stderr
        assert f"{message_id}  would be retried" in dry.stdout

        bulk = run_cli("retry", "--filter", "--tenant", tenant, "--dry-run", "--dsn", reader)
        assert bulk.returncode == 0, bulk.stderr
        assert "to retry: 1" in bulk.stdout

        # Retrying for real is refused up front, with the missing privilege named.
        refused = run_cli("retry", message_id, "--dsn", reader)
        assert refused.returncode == 4 and "lacks UPDATE on authentik_tasks_task" in refused.stderr
