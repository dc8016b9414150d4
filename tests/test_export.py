"""`tasktui export`: the tasks a filter matches as CSV and JSON files that parse, and an incident
bundle whose Markdown sections are all there — through the real entry point, on real Postgres."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import psycopg
import pytest

from tasktui.core.trigger import TRIGGER_VERSION
from tasktui.demo import broker
from tests.conftest import CliResult, run_cli
from tests.retry_helpers import reject

HOSTILE = '=HYPERLINK("http://evil")\x1b[2J```'


async def _tasks(dsn: str) -> dict[str, str]:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        tenant = await broker.default_tenant(conn)
        waiting = await broker.enqueue(conn, "authentik.export.waiting", tenant_id=tenant, uid="w")
        rejected = await reject(conn, "authentik.export.failing", uid=HOSTILE, message=f"boom {HOSTILE}")
        done = await broker.enqueue(conn, "authentik.export.ok", tenant_id=tenant)
        assert await broker.claim(conn, done)
        await broker.start_processing(conn, done)
        await broker.succeed(conn, done)
    return {"waiting": waiting, "rejected": rejected, "done": done}


def _written(result: CliResult) -> Path:
    assert result.returncode == 0, result.stderr
    (line,) = result.stderr.splitlines()
    return Path(line.rsplit(" written to ", 1)[1])


@pytest.mark.slow
async def test_tasks_export_to_csv_and_json_that_parse(mirror_dsn: str, tmp_path: Path) -> None:
    ids = await _tasks(mirror_dsn)
    result = run_cli("export", "tasks", "--dsn", mirror_dsn, "--output", str(tmp_path))
    path = _written(result)
    assert path.parent == tmp_path and path.name.startswith("tasktui-tasks-") and path.suffix == ".csv"
    assert "2 tasks (hiding successful) written to" in result.stderr
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    assert [row["message_id"] for row in rows] == [ids["rejected"], ids["waiting"]]  # newest first
    failing = rows[0]
    assert (failing["status"], failing["state"], failing["queue_name"]) == ("Error", "rejected", "default")
    assert failing["uid"] == "'" + HOSTILE  # a spreadsheet would run it as a formula otherwise
    assert failing["last_change"].endswith("+00:00") and rows[1]["eta"] == ""

    shown = run_cli("export", "tasks", "--dsn", mirror_dsn, "--show-successful", "--format", "json", "--output", "-")
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert {task["message_id"] for task in data} == set(ids.values())
    assert next(t for t in data if t["message_id"] == ids["rejected"])["uid"] == HOSTILE  # JSON: exact
    assert shown.stdout.isascii()

    only = run_cli("export", "tasks", "--dsn", mirror_dsn, "--status", "rejected", "--format", "json", "-o", "-")
    assert [task["message_id"] for task in json.loads(only.stdout)] == [ids["rejected"]]

    # Never over an existing file.
    again = run_cli("export", "tasks", "--dsn", mirror_dsn, "--output", str(path))
    assert again.returncode == 1 and again.stderr == f"tasktui: error: {path} exists already; give another --output\n"


async def test_an_incident_bundle_has_every_section_and_keeps_database_text_inside_it(
    mirror_dsn: str, tmp_path: Path
) -> None:
    ids = await _tasks(mirror_dsn)
    result = run_cli(
        "export", "bundle", ids["rejected"][:8], "--dsn", mirror_dsn, "--status", "rejected", "-o", str(tmp_path)
    )
    path = _written(result)
    assert path.name.startswith(f"tasktui-incident-{ids['rejected'][:8]}-") and path.suffix == ".md"
    text = path.read_text()
    headings = [line for line in text.splitlines() if line.startswith("#")]
    assert headings == [
        # Inline, database text is escaped for Markdown: it reads as the text it is.
        r'# Incident bundle: authentik.export.failing:=HYPERLINK("http://evil")\\x1b[2J\`\`\` (Error)',
        "## Task",
        "## Workers",
        "## Counts",
        "## Filter",
        "## Versions",
    ]
    assert "\x1b" not in text
    # The task in full, with its traceback, inside one fence that the ``` of the text cannot close.
    task = text.split("## Task\n\n", 1)[1].split("\n## Workers", 1)[0]
    assert task.startswith("````text\n") and task.rstrip().endswith("\n````")
    assert f"Task {ids['rejected']}" in task and "Current attempt: 3 log lines" in task
    assert "ValueError: boom" in task
    assert "No worker has registered." in text and "No workers connected. Background tasks will not run." in text
    assert "| rejected | 1 |" in text and "| queued | 1 |" in text
    assert "What was shown: status=rejected · hiding successful." in text
    # The filter's SQL, as the one filter definition (tasktui.core.filters) writes it.
    assert "WHERE NOT COALESCE(((CASE WHEN t.state <> 'done'" in text
    assert "= ANY (%(f_hide_successful)s::text[])), false) AND" in text and "= ANY (%(f_statuses)s::text[])" in text
    assert '"f_statuses": ["rejected"]' in text
    assert f"- tasktui 0.1.0 (installs notify trigger version {TRIGGER_VERSION}; installed here: none)" in text
    assert "- PostgreSQL 15" in text or "- PostgreSQL 1" in text


def test_a_bundle_of_an_unknown_task_is_one_line(mirror_dsn: str, tmp_path: Path) -> None:
    result = run_cli("export", "bundle", "ffffffff", "--dsn", mirror_dsn, "-o", str(tmp_path))
    assert result.returncode == 1
    assert result.stderr.startswith("tasktui: error: no task whose message id starts with ffffffff")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("what", ["tasks", "bundle"])
def test_help_has_examples(what: str) -> None:
    result = run_cli("export", what, "--help")
    assert result.returncode == 0 and "examples:" in result.stdout
