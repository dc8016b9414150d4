"""`tasktui retry` through the real entry point: by id and by filter, preview, confirmation,
exit statuses, the read-only refusal and the audit journal."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tasktui.core import db
from tasktui.core.session import open_session
from tasktui.demo import broker
from tests.conftest import run_cli
from tests.retry_helpers import journal_lines, reject, role, run_cli_interrupted, run_cli_stdin, states

LDAP = "authentik.sources.ldap.tasks.ldap_sync"
NOTIFY = "authentik.events.tasks.notify"


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def env(state_dir: Path) -> dict[str, str]:
    return {"TASKTUI_STATE_DIR": str(state_dir)}


async def _rejected(dsn: str, actor: str = LDAP, uids: tuple[str | None, ...] = ("a",), **kwargs: object) -> list[str]:
    async with await open_session(db.Target.resolve(dsn)) as session:
        return [await reject(session.conn, actor, uid=uid, **kwargs) for uid in uids]  # type: ignore[arg-type]


async def _queued(dsn: str, actor: str = LDAP, uid: str | None = None) -> str:
    async with await open_session(db.Target.resolve(dsn)) as session:
        tenant = await broker.default_tenant(session.conn)
        return await broker.enqueue(session.conn, actor, tenant_id=tenant, uid=uid)


def _no_traceback(*texts: str) -> None:
    assert all("Traceback" not in text for text in texts)


# ---------------------------------------------------------------------------------------------
# By message id


async def test_retry_by_id(mirror_dsn: str, env: dict[str, str], state_dir: Path) -> None:
    first, second = await _rejected(mirror_dsn, uids=("a", "b"))
    result = run_cli("retry", first, second, "--dsn", mirror_dsn, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"{first}  retried", f"{second}  retried"]
    assert states(mirror_dsn) == {first: "queued", second: "queued"}
    (line,) = journal_lines(state_dir)
    assert line["action"] == "retry" and [t["outcome"] for t in line["tasks"]] == ["retried", "retried"]


async def test_retry_by_id_prefix(mirror_dsn: str, env: dict[str, str]) -> None:
    """The 8-digit ids the console's table shows. Every prefix is resolved before anything is
    retried: one that names no task stops the command with nothing changed."""
    first, second = await _rejected(mirror_dsn, uids=("a", "b"))
    unknown = "ffffffff" if not first.startswith("ffffffff") else "00000000"
    none = run_cli("retry", first[:8], unknown, "--dsn", mirror_dsn, env=env)
    assert none.returncode == 1
    assert f"no task whose message id starts with {unknown}" in none.stderr
    assert states(mirror_dsn) == {first: "rejected", second: "rejected"}
    result = run_cli("retry", first[:8].upper(), "--dsn", mirror_dsn, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"{first}  retried"]
    assert states(mirror_dsn) == {first: "queued", second: "rejected"}


@pytest.mark.parametrize("whole", [True, False], ids=["whole id", "prefix"])
@pytest.mark.slow
async def test_an_unknown_id_is_one_rule_across_retry_show_and_xray(
    mirror_dsn: str, env: dict[str, str], state_dir: Path, whole: bool
) -> None:
    """Issue 11 item 7: a whole unknown id used to exit 8 from `retry` (after retrying the others)
    while an unknown prefix exited 1 with nothing changed. Now whole or prefix, every command that
    takes ids says "not found" in one line and exits 1 before doing anything; --dry-run too."""
    (rejected,) = await _rejected(mirror_dsn)
    prefix = "ffffffff" if not rejected.startswith("ffffffff") else "00000000"
    unknown = f"{prefix}-0000-4000-8000-000000000000" if whole else prefix
    said = f"no task with message id {unknown}" if whole else f"no task whose message id starts with {unknown}"
    for args in (
        ("retry", rejected, unknown),
        ("retry", unknown, rejected, "--dry-run"),
        ("show", unknown),
        ("xray", unknown),
    ):
        result = run_cli(*args, "--dsn", mirror_dsn, env=env)
        assert result.returncode == 1, (args, result)
        assert result.stdout == "", args
        assert result.stderr.count("\n") == 1 and said in result.stderr, (args, result.stderr)
    assert states(mirror_dsn) == {rejected: "rejected"}
    assert journal_lines(state_dir) == []
    readme = " ".join((Path(__file__).parent.parent / "README.md").read_text().split())
    assert "An id that names no task, given whole or as a prefix, is *not found*" in readme


async def test_ids_retry_at_once_without_a_terminal_but_a_filter_refuses(
    mirror_dsn: str, env: dict[str, str], state_dir: Path
) -> None:
    """The asymmetry is on purpose (ids are explicit) — and both the help and the README say so."""
    by_id, by_filter = await _rejected(mirror_dsn, uids=("a", "b"))
    named = run_cli_stdin("retry", by_id, "--dsn", mirror_dsn, env=env)  # stdin is /dev/null: no terminal
    assert named.returncode == 0, named.stderr
    assert named.stdout.splitlines() == [f"{by_id}  retried"] and "confirm" not in named.stderr
    filtered = run_cli_stdin("retry", "--filter", "--dsn", mirror_dsn, env=env)
    assert filtered.returncode == 7 and "refusing to retry 1 tasks without confirmation" in filtered.stderr
    assert states(mirror_dsn) == {by_id: "queued", by_filter: "rejected"}

    help_text = " ".join(run_cli("retry", "--help", env=env).stdout.split())
    assert (
        "tasktui retry ID... retries the tasks named at once, with no preview and no question, on a terminal or not"
        in help_text
    )
    assert "with no terminal (scripts, cron, pipes) it refuses and changes nothing (exit 7) unless --yes" in help_text
    assert (
        "--yes, -y with --filter: do not ask for confirmation, needed without a terminal (message ids never ask)"
        in (help_text)
    )
    readme = " ".join((Path(__file__).parent.parent / "README.md").read_text().split())
    assert "`tasktui retry ID...` retries them at once, with no preview and no question, on a terminal or not" in readme
    assert (
        "without a terminal (a script, cron, a pipe) it refuses and changes nothing (exit 7) unless `--yes`" in readme
    )


async def test_retry_by_id_reports_what_was_not_retried(mirror_dsn: str, env: dict[str, str]) -> None:
    (rejected,) = await _rejected(mirror_dsn)
    queued = await _queued(mirror_dsn)
    result = run_cli("retry", rejected, queued, "--dsn", mirror_dsn, env=env)
    assert result.returncode == 8, result.stderr
    assert result.stdout.splitlines() == [
        f"{rejected}  retried",
        f"{queued}  not retryable (state queued; only rejected tasks are retried)",
    ]
    again = run_cli("retry", rejected, "--dsn", mirror_dsn, env=env)
    assert again.returncode == 8 and again.stdout.strip() == f"{rejected}  already retried (now queued)"


async def test_dry_run_by_id_changes_nothing(mirror_dsn: str, env: dict[str, str], state_dir: Path) -> None:
    (rejected,) = await _rejected(mirror_dsn)
    queued = await _queued(mirror_dsn)
    result = run_cli("retry", rejected, queued, "--dry-run", "--dsn", mirror_dsn, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"{rejected}  would be retried ({LDAP}:a)",
        f"{queued}  not retryable (state queued)",
    ]
    assert states(mirror_dsn) == {rejected: "rejected", queued: "queued"}
    assert journal_lines(state_dir) == []


# ---------------------------------------------------------------------------------------------
# By filter


async def _mixed(dsn: str) -> dict[str, list[str]]:
    """Two LDAP tasks of one source (one older duplicate), one of another, and a notify task."""
    return {
        "older": await _rejected(dsn, uids=("source-1",), exc_type="LDAPException", message="bind failed"),
        "newer": await _rejected(dsn, uids=("source-1",), exc_type="LDAPException", message="bind failed"),
        "other": await _rejected(dsn, uids=("source-2",), exc_type="LDAPException", message="bind failed"),
        "notify": await _rejected(dsn, NOTIFY, uids=(None,), exc_type="TimeoutError", message="timed out after 30s"),
    }


async def test_filter_dry_run_shows_the_preview_only(mirror_dsn: str, env: dict[str, str], state_dir: Path) -> None:
    made = await _mixed(mirror_dsn)
    before = states(mirror_dsn)
    result = run_cli("retry", "--filter", "--text", "ldap_sync", "--dry-run", "--dsn", mirror_dsn, env=env)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "filter: /ldap_sync, state rejected" in out
    assert "matching rejected tasks: 3" in out
    assert "to retry: 2   skipped: 1 (same actor and uid: 1 older than another rejected one)" in out
    assert f"        2 / 3       {LDAP}" in out
    assert "        2 / 3       LDAPException: bind failed" in out
    assert NOTIFY not in out
    assert made["newer"][0] in out and "UTC" in out
    assert "At 10/s: about 0s for 2 tasks." in out
    assert states(mirror_dsn) == before and journal_lines(state_dir) == []


async def test_filter_without_yes_refuses_when_stdin_is_not_a_terminal(mirror_dsn: str, env: dict[str, str]) -> None:
    await _mixed(mirror_dsn)
    before = states(mirror_dsn)
    result = run_cli_stdin("retry", "--filter", "--dsn", mirror_dsn, env=env)
    assert result.returncode == 7
    assert "matching rejected tasks: 4" in result.stdout  # the preview is still shown
    assert result.stderr.strip() == (
        "tasktui: refusing to retry 3 tasks without confirmation: stdin is not a terminal"
        " (check with --dry-run, then pass --yes); nothing was changed"
    )
    assert states(mirror_dsn) == before


async def test_filter_asks_on_a_terminal(mirror_dsn: str, env: dict[str, str], state_dir: Path) -> None:
    made = await _mixed(mirror_dsn)
    declined = run_cli_stdin("retry", "--filter", "--text", "notify", "--dsn", mirror_dsn, env=env, tty_input="no\n")
    assert declined.returncode == 7, declined.stderr
    assert "Type 'yes' to confirm" in declined.stderr and "not confirmed; nothing was changed" in declined.stderr
    assert states(mirror_dsn)[made["notify"][0]] == "rejected"

    confirmed = run_cli_stdin("retry", "--filter", "--text", "notify", "--dsn", mirror_dsn, env=env, tty_input="yes\n")
    assert confirmed.returncode == 0, confirmed.stderr
    assert re.search(
        r"^Done in \S+: 1 planned = 1 retried \+ 0 skipped \+ 0 failed \+ 0 not attempted$", confirmed.stdout, re.M
    ), confirmed.stdout
    assert states(mirror_dsn)[made["notify"][0]] == "queued"
    assert [line["action"] for line in journal_lines(state_dir)] == [
        "bulk_retry_start",
        "bulk_retry_tasks",
        "bulk_retry_end",
    ]


async def test_filter_yes_retries_and_exit_status_counts_the_skipped(
    mirror_dsn: str, env: dict[str, str], state_dir: Path
) -> None:
    made = await _mixed(mirror_dsn)
    result = run_cli("retry", "--filter", "--yes", "--rate", "0", "--dsn", mirror_dsn, env=env)
    _no_traceback(result.stdout, result.stderr)
    assert result.returncode == 8, result.stderr  # one older duplicate was skipped, not retried
    summary = result.stdout[result.stdout.index("Done in ") :].splitlines()
    assert summary[0].endswith(": 4 planned = 3 retried + 1 skipped + 0 failed + 0 not attempted"), summary
    assert summary[1:] == [
        "  skipped 1, by reason:",
        "          1  a newer rejected task of the same actor and uid is retried instead",
    ]
    now = states(mirror_dsn)
    assert now[made["older"][0]] == "rejected"
    assert {now[m] for kind in ("newer", "other", "notify") for m in made[kind]} == {"queued"}
    start, tasks, end = journal_lines(state_dir)
    assert start["filter"]["description"] == "all tasks" and start["rate"] is None
    assert len(tasks["tasks"]) == 4 and end["counts"] == {"retried": 3, "skipped": 1}

    again = run_cli("retry", "--filter", "--yes", "--dsn", mirror_dsn, env=env)
    assert again.returncode == 8
    assert "to retry: 0   skipped: 1 (same actor and uid: 1 already queued or running)" in again.stdout
    assert again.stdout.endswith("nothing to retry: every matching task is skipped\n")


async def test_filter_that_matches_nothing_is_success(mirror_dsn: str, env: dict[str, str], state_dir: Path) -> None:
    await _mixed(mirror_dsn)
    result = run_cli("retry", "--filter", "--queue", "nowhere", "--yes", "--dsn", mirror_dsn, env=env)
    assert result.returncode == 0, result.stderr
    assert "matching rejected tasks: 0" in result.stdout and "nothing to retry" in result.stdout
    assert journal_lines(state_dir) == []


async def test_filter_limit(mirror_dsn: str, env: dict[str, str]) -> None:
    ids = await _rejected(mirror_dsn, uids=("a", "b", "c"))
    result = run_cli("retry", "--filter", "--limit", "2", "--yes", "--rate", "0", "--dsn", mirror_dsn, env=env)
    assert result.returncode == 0, result.stderr
    assert "matching rejected tasks: 3 (this run covers the newest 2: --limit)" in result.stdout
    assert [states(mirror_dsn)[m] for m in ids] == ["rejected", "queued", "queued"]


async def test_ctrl_c_stops_a_run_between_tasks(mirror_dsn: str, env: dict[str, str], state_dir: Path) -> None:
    ids = await _rejected(mirror_dsn, uids=("a", "b", "c", "d", "e"))
    # Progress goes to stderr after the first task (then every 5 s): interrupt right after it.
    args = ("retry", "--filter", "--yes", "--rate", "2", "--dsn", mirror_dsn)
    result = run_cli_interrupted(*args, env=env, after="1/5 tried, 1 retried")
    assert result.returncode == 130, result.stderr
    _no_traceback(result.stdout, result.stderr)
    summary = result.stdout[result.stdout.index("Aborted after ") :].splitlines()
    assert summary[0].endswith(": 5 planned = 1 retried + 0 skipped + 0 failed + 4 not attempted"), summary
    assert summary[1:] == ["  not attempted 4: aborted before their turn"]
    assert sorted(states(mirror_dsn).values()) == ["queued", "rejected", "rejected", "rejected", "rejected"]
    assert states(mirror_dsn)[ids[-1]] == "queued"  # the newest goes first
    end = journal_lines(state_dir)[-1]
    assert end["action"] == "bulk_retry_end" and end["aborted"] is True
    assert end["counts"] == {"retried": 1, "not_attempted": 4}


# ---------------------------------------------------------------------------------------------
# A role that may only read


@pytest.mark.slow
async def test_a_select_only_role_is_refused_and_nothing_changes(
    mirror_dsn: str, env: dict[str, str], state_dir: Path
) -> None:
    made = await _mixed(mirror_dsn)
    before = states(mirror_dsn)
    with role(mirror_dsn, "SELECT ON ALL TABLES IN SCHEMA public") as dsn:
        for args in (["retry", made["newer"][0]], ["retry", "--filter", "--yes"]):
            result = run_cli(*args, "--dsn", dsn, env=env)
            _no_traceback(result.stdout, result.stderr)
            assert result.returncode == 4, result.stderr
            (line,) = result.stderr.splitlines()
            assert line.startswith("tasktui: error: role 'tasktui_test_")
            assert line.endswith(
                "lacks UPDATE on authentik_tasks_task and INSERT, UPDATE on authentik_tasks_tasklog,"
                " needed to retry tasks; nothing was changed"
            )
        preview = run_cli("retry", "--filter", "--dry-run", "--dsn", dsn, env=env)
        assert preview.returncode == 0 and "note: role 'tasktui_test_" in preview.stdout
    assert states(mirror_dsn) == before and journal_lines(state_dir) == []


# ---------------------------------------------------------------------------------------------
# Usage


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["retry"], "nothing to retry: give message ids, or --filter"),
        (["retry", "0b6f1a4e-27b4-4e70-9a39-3d2a0d7b0e11", "--filter"], "give message ids or --filter, not both"),
        (["retry", "--queue", "default"], "nothing to retry: give message ids, or --filter"),
        (["retry", "0b6f1a4e-27b4-4e70-9a39-3d2a0d7b0e11", "--queue", "x"], "filter options apply only with --filter"),
        (["retry", "not-a-uuid"], "not a task message id: 'not-a-uuid'"),
        (["retry", "0b6f1a4"], "a message id prefix needs at least 8 hex digits"),
        (["retry", "--filter", "--rate", "-1"], "expected retries per second"),
        (["retry", "--filter", "--limit", "0"], "expected a number of tasks from 1 to 100,000"),
        (["retry", "--filter", "--limit", "100001"], "expected a number of tasks from 1 to 100,000"),
    ],
)
def test_usage_errors(args: list[str], message: str, env: dict[str, str]) -> None:
    result = run_cli(*args, "--dsn", "host=/nonexistent dbname=x", env=env)
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert message in line


async def test_actor_is_an_exact_name_not_a_substring(mirror_dsn: str, env: dict[str, str]) -> None:
    await _rejected(mirror_dsn, LDAP, uids=("a",), exc_type="LDAPException", message="bind failed")
    await _rejected(mirror_dsn, LDAP + "_page", uids=("b",), exc_type="LDAPException", message="bind failed")
    result = run_cli("retry", "--filter", "--actor", LDAP, "--dry-run", "--dsn", mirror_dsn, env=env)
    assert result.returncode == 0, result.stderr
    assert f"actor={LDAP}" in result.stdout
    assert "matching rejected tasks: 1" in result.stdout
