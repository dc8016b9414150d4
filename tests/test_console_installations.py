"""Two real databases in one console (`tasktui --dsn A --dsn B`): a tab, feed and summary row each,
built from the command line as `tasktui` builds it; one installation refused and its sessions
terminated (a real fault) while the other goes on live; the connections each one costs; and the
command line's one-line refusals."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from tasktui import cli, config
from tasktui.commands.console import consoles_app, installations
from tasktui.core.events import FeedMode
from tasktui.demo import broker
from tasktui.ui.app import TaskTuiApp
from tests.conftest import PgServer, run_cli
from tests.ui_helpers import main_rows, screen_text, wait_for

LDAP = "authentik.sources.ldap.tasks.ldap_sync"


@pytest.fixture
def second_live_dsn(pg_server: PgServer) -> Iterator[str]:
    """A second installation: another database of the same cluster, with the trigger."""
    name = pg_server.create_database("live")
    try:
        yield pg_server.dsn(name)
    finally:
        pg_server.drop_database(name)


def _app(tmp_path, *words: str) -> TaskTuiApp:
    """The console as `tasktui WORDS…` builds it (no config file)."""
    args = cli.build_parser(list(words)).parse_args(list(words))
    args.settings = config.resolve(args, config.load_config(tmp_path / "none.toml"), env={})
    return consoles_app(installations(args, args.watched))


async def _connections(admin: psycopg.AsyncConnection, dbname: str) -> list[str]:
    cursor = await admin.execute(
        "SELECT left(query, 60) FROM pg_stat_activity WHERE datname = %s AND application_name LIKE 'tasktui%%'",
        (dbname,),
    )
    return [row[0] for row in await cursor.fetchall()]


def _row(app: TaskTuiApp, number: int) -> str:
    return next(line for line in screen_text(app).splitlines() if f" {number} " in line[:5])


@pytest.mark.slow
async def test_two_databases_in_one_console_and_one_going_down_leaves_the_other_live(
    live_dsn: str, second_live_dsn: str, pg_server: PgServer, tmp_path
) -> None:
    first_db = conninfo_to_dict(live_dsn)["dbname"]
    second_db = conninfo_to_dict(second_live_dsn)["dbname"]
    ids = {}
    for dsn, uid in ((live_dsn, "corp-eu"), (second_live_dsn, "corp-us")):
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
            tenant = await broker.default_tenant(conn)
            ids[uid] = await broker.enqueue(conn, LDAP, tenant_id=tenant, uid=uid)
    admin = await psycopg.AsyncConnection.connect(pg_server.admin_dsn, autocommit=True)
    allow = sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS {}")
    app = _app(tmp_path, "--dsn", live_dsn, "--dsn", second_live_dsn)
    try:
        async with app.run_test(size=(120, 36)) as pilot:
            first, second = app.installations
            await wait_for(pilot, lambda: main_rows(app) == [ids["corp-eu"]], within=20, what="the first's table")
            await wait_for(
                pilot,
                lambda: first.summary is not None and second.summary is not None,
                within=20,
                what="both summaries",
            )
            await wait_for(pilot, lambda: all(i.service.mode == FeedMode.LIVE for i in app.installations), within=20)
            assert (first.summary.queued, second.summary.queued) == (1, 1)
            await wait_for(pilot, lambda: "LIVE" in _row(app, 2) and "queued 1" in _row(app, 2), what="the rows")
            # Each is named by its user@host/database.
            assert first_db in first.name and second_db in second.name
            await pilot.press("2")
            await wait_for(pilot, lambda: main_rows(app) == [ids["corp-us"]], what="the second's table")

            # What each installation costs, as a single console does: the feed's session, its
            # listener, the counts loop's, the on-demand reads' (workers, detail, x-ray, summary), the
            # incident views' (the header's schedule check) and the retries' (opened by the check of
            # the right to retry; none with --read-only).
            per_installation = [len(await _connections(admin, name)) for name in (first_db, second_db)]
            print(f"\nconnections per installation: {per_installation}")
            assert per_installation == [6, 6], [await _connections(admin, name) for name in (first_db, second_db)]

            # The second refuses connections, and its sessions are terminated: a real fault.
            await admin.execute(allow.format(sql.Identifier(second_db), sql.SQL("false")))
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (second_db,)
            )
            await wait_for(pilot, lambda: second.service.mode == FeedMode.RECONNECTING, within=20, what="down")
            app.refresh_summaries()
            await wait_for(pilot, lambda: "unreadable: cannot reach the server" in _row(app, 2), within=20, what="row")
            assert "RECONNECTING" in _row(app, 2)
            # Its session was terminated under it; the next read is refused.
            app.refresh_summaries()
            await wait_for(pilot, lambda: "not currently accepting" in second.summary_error, within=20, what="refused")
            # The first goes on: live, a new task on its table, its row unchanged in kind.
            await pilot.press("1")
            async with await psycopg.AsyncConnection.connect(live_dsn, autocommit=True) as conn:
                tenant = await broker.default_tenant(conn)
                later = await broker.enqueue(conn, LDAP, tenant_id=tenant, uid="corp-eu-2")
            await wait_for(pilot, lambda: later in main_rows(app), within=20, what="the first's new task")
            assert first.service.mode == FeedMode.LIVE
            app.refresh_summaries()
            await wait_for(pilot, lambda: first.summary is not None and first.summary.queued == 2, what="recount")
            assert "unreadable" not in _row(app, 1)

            # Back: the second reconnects on its own.
            await admin.execute(allow.format(sql.Identifier(second_db), sql.SQL("true")))
            await wait_for(pilot, lambda: second.service.mode == FeedMode.LIVE, within=30, what="the second back")
            app.refresh_summaries()
            await wait_for(pilot, lambda: "unreadable" not in _row(app, 2), within=20, what="its row healed")
    finally:
        await admin.execute(allow.format(sql.Identifier(second_db), sql.SQL("true")))
        await admin.close()


def test_the_command_line_refuses_in_one_line(live_dsn: str, tmp_path) -> None:
    nowhere = "host=/nonexistent dbname=authentik user=tasktui"
    env = {"TASKTUI_CONFIG": str(tmp_path / "none.toml")}
    both_down = run_cli("--dsn", nowhere, "--dsn", nowhere + "2", env=env)
    assert both_down.returncode == 2 and both_down.stderr.count("\n") == 1, both_down.stderr
    assert "cannot reach the server" in both_down.stderr
    labelled = run_cli("--dsn", live_dsn, "--dsn", nowhere, "--label", "prod", env=env)
    assert labelled.returncode == 2 and labelled.stderr.count("\n") == 1
    assert "--label names one database" in labelled.stderr


def test_profiles_name_their_installations(live_dsn: str, second_live_dsn: str, tmp_path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[profiles.prod-eu]\ndsn = "{live_dsn}"\nlabel = "prod-eu"\nread_only = true\n'
        f'[profiles.prod-us]\ndsn = "{second_live_dsn}"\n'
    )
    words = ["--profile", "prod-eu", "--profile", "prod-us"]
    args = cli.build_parser(words).parse_args(words)
    args.settings = config.resolve(args, config.load_config(path), env={})
    (first_target, first), (second_target, second) = installations(args, args.watched)
    assert (first["label"], first["read_only"]) == ("prod-eu", True)
    assert second["label"] == second_target.label and not second["read_only"]
    assert first_target.conninfo != second_target.conninfo
