"""Whole-screen snapshots of the console at 80×24 and 160×48, on fixed data and a frozen clock.

Review changes with the HTML report, then `pytest --snapshot-update` (Textual is pinned in
pyproject.toml because snapshots change with its releases).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg.types.json import Jsonb

from tasktui.core.events import FeedMode
from tasktui.ui.app import TaskTuiApp
from tasktui.ui.widgets.task_table import TaskRows
from tests.ui_helpers import make_app, wait_for

FROZEN_NOW = datetime(2026, 1, 15, 12, 0, 0, tzinfo=UTC)

# (actor, uid, state, minutes ago, retries, eta in minutes or None, worst log level of the attempt)
TASKS = [
    ("authentik.sources.ldap.tasks.ldap_sync", "corp-directory", "running", 1, 0, None, None),
    ("authentik.outposts.tasks.outpost_controller", "k8s-embedded", "rejected", 3, 5, None, "error"),
    ("authentik.providers.scim.tasks.scim_sync", "okta-scim", "queued", 0, 2, 4, None),
    ("authentik.events.tasks.notification_transport", "webhook", "done", 5, 0, None, "warning"),
    ("authentik.blueprints.v1.tasks.apply_blueprint", "default/flows", "done", 7, 0, None, "error"),
    ("authentik.core.tasks.clean_expired_models", None, "done", 9, 0, None, "info"),
    ("authentik.tasks.tasks.clean_worker_statuses", None, "consumed", 2, 0, None, None),
    ("authentik.sources.ldap.tasks.ldap_sync_page", "corp-directory:users:3", "preprocess", 1, 0, None, None),
    ("authentik.outposts.tasks.outpost_send_update", "proxy", "postprocess", 1, 0, None, None),
    ("authentik.crypto.tasks.certificate_discovery", None, "queued", 11, 0, None, None),
]


@pytest.fixture
def snapshot_dsn(live_dsn: str) -> str:
    with psycopg.connect(live_dsn, autocommit=True) as conn:
        tenant = conn.execute("SELECT tenant_uuid FROM authentik_tenants_tenant").fetchone()[0]
        for index, (actor, uid, state, ago, retries, eta, level) in enumerate(TASKS):
            # 11111111-1111-…, 22222222-2222-…: distinct prefixes for the short id column, and
            # in the same order as the index (ties in mtime are broken by message id).
            message_id = uuid.UUID(int=(index + 1) * int("1" * 32, 16))
            mtime = FROZEN_NOW - timedelta(minutes=ago)
            conn.execute(
                "INSERT INTO authentik_tasks_task (message_id, queue_name, actor_name, message, state, mtime,"
                " _uid, _messages, _previous_messages, aggregated_status, tenant_id, eta, retries)"
                " VALUES (%s, 'default', %s, ''::bytea, %s, %s, %s, '[]', '[]', '', %s, %s, %s)",
                (
                    message_id, actor, state, mtime, uid, tenant,
                    None if eta is None else FROZEN_NOW + timedelta(minutes=eta), retries,
                ),
            )  # fmt: skip
            if level:
                conn.execute(
                    "INSERT INTO authentik_tasks_tasklog VALUES (%s, 'event', %s, 'l', %s, %s, false, %s)",
                    (uuid.UUID(int=1000 + index), level, mtime, Jsonb({}), message_id),
                )
    return live_dsn


def _app(dsn: str) -> TaskTuiApp:
    return make_app(dsn, clock=lambda: FROZEN_NOW, label="tasktui@db.example/authentik")


async def _loaded(pilot) -> None:
    app = pilot.app
    await wait_for(pilot, lambda: app.service.feed.mode == FeedMode.LIVE, what="live")
    await wait_for(pilot, lambda: len(app.main_screen.query_one(TaskRows).rows) == 9, what="rows")
    await wait_for(
        pilot,
        lambda: (
            app.main_screen.header_state.counts is not None
            and app.main_screen.header_state.counts.finished_counted_at is not None
        ),
        what="finished tasks counted",
    )
    await wait_for(pilot, lambda: app.main_screen.worker_report is not None, what="worker report")
    app.main_screen.header_state.rate = [0] * 60
    app.main_screen.header_state.last_event_at = None
    app.service.feed.last_event_at = None
    app.main_screen.redraw(force=True)
    app.main_screen.show_header()
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_console_snapshot(snap_compare, snapshot_dsn: str, size: tuple[int, int]) -> None:
    assert snap_compare(_app(snapshot_dsn), terminal_size=size, run_before=_loaded)
