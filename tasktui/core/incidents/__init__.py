"""The incident questions, each answered from the tables tasktui already reads (issue 14).

Textual-free: each is an async function over a `tasktui.core.session.Session` that returns a
frozen dataclass with `to_json()`. The CLI commands print them; the console's views (and a
console service) call the same functions.

* `errors.load_errors(session, since=…) -> ErrorReport` — what is failing, grouped by error
  signature and actor, with a trend; `errors.retry_filter(group)` for the guarded bulk retry.
* `draining.load_queues(session, minutes=…) -> QueueReport` — is each queue draining: queued
  now, arrival and completion rates, a forecast with its basis.
* `xray.xray_task(session, message_id) -> TaskXray` — who holds a task's advisory lock, that
  worker's other locks, heartbeat and sessions, and an orphan verdict. Read-only.
* `summary.load_summary(session) -> InstallationSummary` — one row per installation: alive
  workers, queued, errors in the last hour.
* `schedules.load_schedules(session) -> ScheduleReport` — authentik's schedules with their latest
  task, and alarms on schedules an unfinished task blocks.
"""
