"""Is it draining? (tasktui.core.incidents.draining and `tasktui queues`): the forecast rule on
numbers, then the whole measurement on a synthetic arrival/completion series written into real
Postgres with known sending and finishing times."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg
import pytest

from tasktui.core import db
from tasktui.core.incidents.draining import STALL_AFTER, Verdict, forecast, load_queues
from tasktui.core.session import Session, open_session
from tests.conftest import run_cli
from tests.retry_helpers import make_legacy


def _forecast(**numbers: object) -> object:
    base: dict[str, object] = {
        "waiting": 0,
        "delayed": 0,
        "in_flight": 0,
        "arrived": 0,
        "completed": 0,
        "minutes": 5,
        "idle_for": timedelta(seconds=1),
        "due_for": None,
    }
    return forecast(**{**base, **numbers})  # type: ignore[arg-type]


def test_forecast_growing_draining_steady() -> None:
    growing = _forecast(waiting=200, arrived=500, completed=300)
    assert (growing.verdict, growing.text) == (Verdict.GROWING, "growing by 40/min")
    assert growing.basis == (
        "200 unfinished (200 waiting, 0 delayed, 0 in flight); completing 60/min, arriving 100/min over the last 5 min"
    )
    draining = _forecast(waiting=740, in_flight=10, arrived=150, completed=400)
    assert (draining.verdict, draining.text, draining.minutes_to_empty) == (Verdict.DRAINING, "empty in ~15 min", 15.0)
    # Within the noise margin (10 % of the larger rate, at least 1/min): steady.
    steady = _forecast(waiting=30, arrived=500, completed=470)
    assert (steady.verdict, steady.text) == (Verdict.STEADY, "steady: 30 unfinished, in ≈ out")
    assert _forecast(waiting=30, arrived=500, completed=560).verdict is Verdict.DRAINING
    soon = _forecast(waiting=3, arrived=0, completed=50)
    assert soon.text == "empty in ~<1 min"


def test_forecast_idle_and_keeping_up() -> None:
    assert _forecast().verdict is Verdict.IDLE
    keeping_up = _forecast(arrived=300, completed=300)
    assert (keeping_up.verdict, keeping_up.text) == (Verdict.KEEPING_UP, "keeping up: nothing waiting")
    only_retries = _forecast(delayed=4, next_eta_in=timedelta(minutes=3))
    assert only_retries.text == "nothing due: 4 retries wait for their eta, the next in 3 min"


def test_forecast_stalled_only_after_the_stall_time() -> None:
    stalled = _forecast(waiting=50, due_for=timedelta(minutes=10), idle_for=timedelta(minutes=3))
    assert (stalled.verdict, stalled.text) == (Verdict.STALLED, "stalled: nothing consumed for 3 min")
    assert "50 waiting, the oldest due for 10 min" in stalled.basis
    never = _forecast(waiting=5, due_for=timedelta(minutes=10), idle_for=None)
    assert never.text == "stalled: nothing consumed within a day"
    # Work due for a minute, or consumption a minute ago: not (yet) stalled.
    recent_work = _forecast(waiting=50, due_for=timedelta(minutes=1), idle_for=timedelta(hours=1), arrived=50)
    assert (recent_work.verdict, recent_work.text) == (Verdict.GROWING, "growing by 10/min")
    recent_claim = _forecast(waiting=50, due_for=timedelta(minutes=10), idle_for=timedelta(minutes=1))
    assert (recent_claim.verdict, recent_claim.text) == (
        Verdict.STEADY,
        "no movement: nothing arrived or completed over the last 5 min",
    )
    assert timedelta(minutes=2) == STALL_AFTER


def test_forecast_without_arrivals_says_so() -> None:
    unknown = _forecast(waiting=100, arrived=None, completed=250)
    assert (unknown.verdict, unknown.text) == (Verdict.DRAINING, "empty in ~2 min if nothing more arrives")
    assert "arrivals unknown" in unknown.basis


@dataclass
class Task:
    queue: str
    state: str
    sent: float  # seconds before now when it was first sent ("Task has been queued")
    mtime: float  # seconds before now of its mtime
    eta: float | None = None  # seconds before now (negative: ahead)


def _write(dsn: str, tasks: list[Task]) -> None:
    """The rows authentik leaves behind, with the given times: the task row and its first log."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        tenant, now = conn.execute("SELECT tenant_uuid, now() FROM authentik_tenants_tenant").fetchone()  # type: ignore[misc]
        with conn.transaction(), conn.cursor() as cursor:
            ids = [uuid.uuid4() for _ in tasks]
            with cursor.copy(
                "COPY authentik_tasks_task (message_id, queue_name, actor_name, message, state, mtime, _messages,"
                " _previous_messages, aggregated_status, tenant_id, eta, retries) FROM STDIN"
            ) as copy:
                for message_id, task in zip(ids, tasks, strict=True):
                    eta = None if task.eta is None else now - timedelta(seconds=task.eta)
                    copy.write_row(
                        (message_id, task.queue, "authentik.test.work", b"", task.state,
                         now - timedelta(seconds=task.mtime), "[]", "[]", task.state, tenant, eta, 0)
                    )  # fmt: skip
            with cursor.copy(
                "COPY authentik_tasks_tasklog (id, event, log_level, logger, timestamp, attributes, previous, task_id)"
                " FROM STDIN"
            ) as copy:
                for message_id, task in zip(ids, tasks, strict=True):
                    copy.write_row(
                        (uuid.uuid4(), "Task has been queued", "info", "authentik.tasks.middleware.TaskLogMiddleware",
                         now - timedelta(seconds=task.sent), '{"delay": null}', False, message_id)
                    )  # fmt: skip


def _minute(m: int, n: int) -> list[float]:
    """`n` times spread over minute `m` of the window (0 = the newest), as seconds before now: kept
    20 s away from the minute's edges, as the report is read a moment after they are written (some
    seconds on a crowded machine: the suite runs in parallel)."""
    return [60.0 * m + 20.0 + 20.0 * (k + 0.5) / n for k in range(n)]


def _series() -> list[Task]:
    tasks: list[Task] = []
    for m in range(5):
        # "bulk": 100 sent a minute, 60 of them done the same minute, 40 a minute left waiting.
        for k, sent in enumerate(_minute(m, 100)):
            tasks.append(Task("bulk", "done", sent, sent - 2) if k % 5 < 3 else Task("bulk", "queued", sent, sent))
        # "drain": 80 a minute of an old backlog (sent 20 minutes ago) done, 30 new ones a minute.
        tasks += [Task("drain", "done", 1200, at) for at in _minute(m, 80)]
        tasks += [Task("drain", "queued", sent, sent) for sent in _minute(m, 30)]
        # "turned": a storm in the oldest 3 minutes (200 sent, 100 done a minute), then 20 sent
        # a minute while 100 a minute of an older backlog get done.
        if m >= 2:
            for k, sent in enumerate(_minute(m, 200)):
                tasks.append(Task("turned", "done", sent, sent - 2) if k % 2 else Task("turned", "queued", sent, sent))
        else:
            tasks += [Task("turned", "queued", sent, sent) for sent in _minute(m, 20)]
            tasks += [Task("turned", "done", 1200, at) for at in _minute(m, 100)]
    # "drain": the rest of its backlog, still waiting.
    tasks += [Task("drain", "queued", 1200, 1200) for _ in range(600)]
    # "stuck": 50 waiting for 10 minutes, the last completion 4 minutes ago.
    tasks += [Task("stuck", "queued", 600, 600) for _ in range(50)]
    tasks.append(Task("stuck", "done", 900, 240))
    # "retry-soon": a retry due 10 s ago, nothing consumed for 10 minutes: the fallback poll's
    # 30 s have not passed, so it is not stuck.
    tasks.append(Task("retry-soon", "queued", 1500, 900, eta=10))
    tasks.append(Task("retry-soon", "done", 1500, 600))
    # "retry-late": due 5 minutes ago, nothing consumed for 10 minutes: stalled.
    tasks.append(Task("retry-late", "queued", 1500, 900, eta=300))
    tasks.append(Task("retry-late", "done", 1500, 600))
    # "delayed": a retry waiting for its eta, 3 minutes ahead.
    tasks.append(Task("delayed", "queued", 1500, 900, eta=-180))
    return tasks


@pytest.fixture
async def session(mirror_dsn: str) -> AsyncIterator[Session]:
    _write(mirror_dsn, _series())
    async with await open_session(db.Target.resolve(mirror_dsn)) as opened:
        yield opened


async def test_forecast_on_a_synthetic_series(session: Session) -> None:
    report = await load_queues(session, minutes=5)
    flows = {flow.queue_name: flow for flow in report.queues}
    assert list(flows) == ["bulk", "delayed", "drain", "retry-late", "retry-soon", "stuck", "turned"]

    bulk = flows["bulk"]
    assert (bulk.waiting, bulk.in_flight, bulk.arrived, bulk.completed) == (200, 0, 500, 300)
    assert (bulk.arrivals_per_minute, bulk.completions_per_minute) == ((100,) * 5, (60,) * 5)
    assert bulk.forecast.text == "growing by 40/min"

    drain = flows["drain"]
    assert (drain.waiting, drain.arrived, drain.completed) == (750, 150, 400)
    assert drain.forecast.verdict is Verdict.DRAINING
    assert drain.forecast.text == "empty in ~15 min"  # 750 / (80 - 30)

    # Over the whole window more arrived than completed (128/min against 100/min), but the
    # balance turned two minutes ago: the forecast reads the newest minute.
    turned = flows["turned"]
    assert (turned.arrivals_per_minute, turned.completions_per_minute) == ((200, 200, 200, 20, 20), (100,) * 5)
    assert (turned.waiting, turned.forecast.text) == (340, "empty in ~4 min")  # 340 / (100 - 20)
    assert "completing 100/min, arriving 20/min over the last minute" in turned.forecast.basis

    stuck = flows["stuck"]
    assert stuck.forecast.verdict is Verdict.STALLED
    assert stuck.forecast.text == "stalled: nothing consumed for 4 min"
    assert timedelta(minutes=9) < report.checked_at - stuck.oldest_due < timedelta(minutes=11)  # type: ignore[operator]

    assert flows["retry-soon"].forecast.verdict is not Verdict.STALLED
    assert flows["retry-soon"].overdue_retries == 0
    late = flows["retry-late"]
    assert (late.forecast.verdict, late.overdue_retries) == (Verdict.STALLED, 1)
    delayed = flows["delayed"]
    assert (delayed.waiting, delayed.delayed) == (0, 1)
    assert delayed.forecast.text.startswith("nothing due: 1 retry waits for its eta, the next in ")
    assert report.stalled == (late, stuck)
    assert report.arrivals_known and not report.capped


async def test_no_task_log_table_means_arrivals_unknown(mirror_dsn: str) -> None:
    _write(mirror_dsn, [Task("q", "queued", 100, 100), Task("q", "done", 200, 30)])
    make_legacy(mirror_dsn)  # drops the task log (and eta): authentik 2025.8
    async with await open_session(db.Target.resolve(mirror_dsn)) as session:
        report = await load_queues(session, minutes=5)
    (flow,) = report.queues
    assert (flow.arrived, flow.arrivals_per_minute, flow.completed) == (None, None, 1)
    assert flow.forecast.text == "empty in ~60 s if nothing more arrives"  # 1 done in the last minute
    assert "arrivals unknown" in report.basis


def test_cli_json_and_exit_status(mirror_dsn: str) -> None:
    _write(mirror_dsn, _series())
    result = run_cli("queues", "--dsn", mirror_dsn, "--json")
    assert result.returncode == 1, result.stderr  # two queues are stalled
    data = json.loads(result.stdout)
    bulk = next(q for q in data["queues"] if q["queue_name"] == "bulk")
    assert bulk["forecast"]["verdict"] == "growing"
    assert datetime.fromisoformat(data["checked_at"]).tzinfo is not None
    text = run_cli("queues", "--dsn", mirror_dsn, "--minutes", "5")
    assert text.returncode == 1
    assert "bulk  growing by 40/min" in text.stdout
    assert "stuck  stalled: nothing consumed for 4 min" in text.stdout
    assert "Basis: arrivals: messages first sent in the window" in text.stdout
    bad = run_cli("queues", "--dsn", mirror_dsn, "--minutes", "90")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1


def test_cli_on_an_idle_installation(mirror_dsn: str) -> None:
    result = run_cli("queues", "--dsn", mirror_dsn)
    assert result.returncode == 0
    assert "(no task in any queue)" in result.stdout
