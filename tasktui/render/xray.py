"""An x-ray as lines of styled text (tasktui.core.incidents.xray's TaskXray): what `tasktui xray`
prints and the console's x-ray screen shows."""

from __future__ import annotations

from rich.text import Text

from tasktui.core.incidents.xray import HeldLock, SessionInfo, TaskXray
from tasktui.core.locks import pg_locks_ids
from tasktui.core.timefmt import duration
from tasktui.render import styles
from tasktui.render.text import assemble, safe_text

QUERY_SHOWN = 72  # characters of a session's statement: one line at 80 columns, within a screen's margins

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


def report_lines(report: TaskXray) -> list[Text]:
    """The whole x-ray: the task, then what holds it (`tasktui xray`)."""
    task = report.task
    title = assemble(
        ("Task ", styles.LABEL),
        (task.message_id, styles.LABEL),
        "  ",
        (task.display_uid, styles.LABEL),
        f"  ({task.state})",
    )
    return [title, *holder_lines(report)]


def holder_lines(report: TaskXray) -> list[Text]:
    """What holds the task: verdict, lock, worker, the session's other locks, the worker's
    sessions (the console's x-ray screen names the task in its title)."""
    classid, objid = pg_locks_ids(report.lock_key)
    lines = [assemble("Verdict: ", (report.verdict_text, _VERDICT_STYLE.get(report.verdict.value, "")))]
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
        for session in report.sessions:
            # The statement on a line of its own: at 80 columns beside the rest it wrapped into it.
            status, query = _session_lines(session)
            lines += [status, *([query] if query.plain.strip() else [])]
        if not report.sessions:
            lines.append(Text("  (none visible)"))
    return lines


def _lock_line(lock: HeldLock) -> Text:
    if lock.kind == "task":
        return assemble("task ", lock.message_id or "", " ", (lock.actor_name or "", styles.LABEL), f" ({lock.state})")
    if lock.kind == "worker":
        return assemble("worker liveness lock of ", lock.worker_id or "")
    return Text(f"unknown advisory lock (classid {lock.classid}, objid {lock.objid})")


def _session_lines(session: SessionInfo) -> tuple[Text, Text]:
    role = []
    if session.holds_task_lock:
        role.append("task lock")
    if session.holds_worker_lock:
        role.append("liveness lock")
    if not session.visible:
        return Text(f"  pid {session.pid}  hidden from this role (pg_read_all_stats)"), Text("")
    if session.state == "active" and session.query_seconds is not None:
        spell = f"active, query running {_seconds(session.query_seconds)}"
    else:
        spell = f"{session.state} for {_seconds(session.state_seconds)}"
    wait = f"wait {session.wait_event_type}:{session.wait_event}" if session.wait_event else "no wait"
    where = session.client_addr or "local socket"
    return (
        safe_text(f"  pid {session.pid}  {spell} · {wait} · {where}" + (f" · holds {', '.join(role)}" if role else "")),
        safe_text("    " + " ".join((session.query or "").split())[:QUERY_SHOWN], styles.MUTED),
    )


def _seconds(value: float | None) -> str:
    return "?" if value is None else duration(value)
