"""`tasktui xray MESSAGE_ID`: who runs this task — the session holding its advisory lock, that
worker's other locks, heartbeat and Postgres sessions, and an orphan verdict
(tasktui.core.incidents.xray). Read-only: it never cancels or terminates anything."""

from __future__ import annotations

import argparse
import json

import psycopg
from rich.text import Text

from tasktui.commands import COMMANDS
from tasktui.commands._output import columns, print_lines, write_stdout
from tasktui.commands._run import run_command
from tasktui.core.db import Target, user_error
from tasktui.core.detail import InvalidMessageId, parse_id_or_prefix, resolve_message_id
from tasktui.core.incidents.xray import HeldLock, SessionInfo, TaskXray, xray_task
from tasktui.core.locks import pg_locks_ids
from tasktui.core.session import open_session
from tasktui.core.timefmt import duration
from tasktui.render import styles
from tasktui.render.text import assemble, safe_text

DESCRIPTION = """\
X-ray a task: the Postgres session that holds its advisory lock (authentik's consumer takes it
when it claims the task and keeps it until some turn after the ack), the other advisory locks
of that session, the worker behind it with its heartbeat, that worker's sessions where
pg_stat_activity shows them (backend state, wait event, how long the current query has run),
and a verdict: a task in a running state whose lock nobody holds is orphaned.

Read-only: tasktui reads pg_locks and pg_stat_activity, takes no lock and never cancels or
terminates a backend. Seeing other roles' sessions in full needs pg_read_all_stats.

example:
  tasktui xray 3fa85f64                 # the message id or its first 8+ hex digits

exit status:
  0    the task was x-rayed
  1    no task has this id
  2    bad arguments (not a message id, or a prefix several ids start with), or the database
       cannot be reached
  3    no authentik task tables in this database
"""

_VERDICT_STYLE = {
    "running": styles.GOOD,
    "claimed": styles.ACCENT,
    "orphaned": styles.BAD,
    "claim_orphaned": styles.BAD,
    "queued": "",
    "finished": styles.MUTED,
    "finished_lock_lingers": styles.WARN,
    "unknown": styles.WARN,
}


def add_parser(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "xray",
        parents=[common],
        help=COMMANDS["xray"],
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("message_id", metavar="MESSAGE_ID", type=_message_id, help="the task's message id or prefix")
    parser.add_argument("--json", action="store_true", help="print the x-ray as one JSON object")
    parser.set_defaults(handler=run)


def _message_id(value: str) -> str:
    try:
        return parse_id_or_prefix(value)
    except InvalidMessageId as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    return run_command(_xray(Target.resolve(args.dsn), args.message_id, as_json=args.json))


async def _xray(target: Target, given: str, *, as_json: bool) -> int:
    async with await open_session(target) as session:
        try:
            message_id = await resolve_message_id(session, given)
        except psycopg.Error as exc:
            raise user_error(exc, target) from None
        report = await xray_task(session, message_id)
    if as_json:
        write_stdout(json.dumps(report.to_json(), ensure_ascii=False, indent=2) + "\n")
    else:
        print_lines(report_lines(report))
    return 0


def report_lines(report: TaskXray) -> list[Text]:
    task = report.task
    classid, objid = pg_locks_ids(report.lock_key)
    lines = [
        assemble(
            ("Task ", styles.LABEL),
            (task.message_id, styles.LABEL),
            "  ",
            (task.display_uid, styles.LABEL),
            f"  ({task.state})",
        ),
        assemble("Verdict: ", (report.verdict_text, _VERDICT_STYLE.get(report.verdict.value, ""))),
    ]
    holder = f"held by pid {report.lock_holder}" if report.lock_holder is not None else "held by nobody"
    waiting = f"; waiting for it: pid {', '.join(map(str, report.lock_waiters))}" if report.lock_waiters else ""
    lines.append(Text(f"Lock: key {report.lock_key} (pg_locks classid {classid}, objid {objid}) {holder}{waiting}"))
    if report.worker is not None:
        worker = report.worker
        lines.append(
            assemble(
                "Worker: ",
                (worker.worker_id, styles.LABEL),
                f" ({worker.version}) ",
                (worker.liveness, styles.liveness(worker.liveness)),
                f": {worker.reason}",
            )
        )
        lines.append(assemble("  named because ", report.worker_match))
    elif report.lock_holder is not None:
        lines.append(assemble("Worker: unknown (", report.worker_match, ")"))
    if report.lock_holder is not None:
        lines.append(Text(f"Other locks of pid {report.lock_holder}: {len(report.other_locks)}"))
        lines += [Text("  ").append_text(_lock_line(lock)) for lock in report.other_locks]
        lines.append(Text(f"Sessions ({report.sessions_basis}):"))
        rows = [_session_cells(s) for s in report.sessions]
        lines += columns(rows, indent="  ") if rows else [Text("  (none visible)")]
    return lines


def _lock_line(lock: HeldLock) -> Text:
    if lock.kind == "task":
        return assemble("task ", lock.message_id or "", " ", (lock.actor_name or "", styles.LABEL), f" ({lock.state})")
    if lock.kind == "worker":
        return assemble("worker liveness lock of ", lock.worker_id or "")
    return Text(f"unknown advisory lock (classid {lock.classid}, objid {lock.objid})")


def _session_cells(session: SessionInfo) -> list[Text]:
    role = []
    if session.holds_task_lock:
        role.append("task lock")
    if session.holds_worker_lock:
        role.append("liveness lock")
    if not session.visible:
        return [Text(f"pid {session.pid}"), Text("hidden from this role (pg_read_all_stats)"), Text("")]
    if session.state == "active" and session.query_seconds is not None:
        spell = f"active, query running {_seconds(session.query_seconds)}"
    else:
        spell = f"{session.state} for {_seconds(session.state_seconds)}"
    wait = f"wait {session.wait_event_type}:{session.wait_event}" if session.wait_event else "no wait"
    where = session.client_addr or "local socket"
    return [
        Text(f"pid {session.pid}"),
        safe_text(f"{spell} · {wait} · {where}" + (f" · holds {', '.join(role)}" if role else "")),
        safe_text(" ".join((session.query or "").split())[:80], styles.MUTED),
    ]


def _seconds(value: float | None) -> str:
    return "?" if value is None else duration(value)
