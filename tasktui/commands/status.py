"""`tasktui status`: the task system in one shot, as a monitoring plugin reports it — for cron,
Nagios, Icinga and CI (tasktui.core.monitoring).

Everything goes to stdout, as a plugin's output must (a monitoring system shows the first line
and reads the performance data after `|`), and every failure is one UNKNOWN line with exit 3:
an unreachable server, a missing table, a bad threshold or a bug — never a traceback, never the
usage error status 2, which a monitoring system would read as CRITICAL.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import NoReturn

from tasktui import debuglog
from tasktui.commands import COMMANDS
from tasktui.commands._output import say, write_stdout
from tasktui.commands._run import run_command
from tasktui.core import db
from tasktui.core.db import Target
from tasktui.core.monitoring import (
    DEFAULT_REJECTED_MINUTES,
    DEFAULT_THRESHOLDS,
    METRICS,
    PluginState,
    TaskSystemStatus,
    Thresholds,
    Verdict,
    judge,
    load_status,
    parse_range,
    unknown_line,
)
from tasktui.core.session import open_session
from tasktui.errors import UserFacingError

DEFAULT_TIMEOUT = 10.0  # what Nagios gives a plugin by default

DESCRIPTION = """\
The task system in one shot, judged against thresholds as a monitoring plugin (Nagios, Icinga,
Sensu, CheckMK) or a cron job reads it: tasks by status, per queue the tasks waiting for a worker,
delayed and in flight with the oldest waiting task's age, workers alive / stale / dead, orphaned
tasks, and tasks rejected in the last minutes. One line with performance data, then details.

Thresholds are Nagios ranges: 10 alerts outside 0..10, 10: below 10, ~:10 above 10, 10:20
outside 10..20, @10:20 inside it; '' switches one off. Only --crit-alive has a default (1:, no
alive worker is critical, as authentik shows it). Bounded reads over authentik's own indexes:
well under a second on 1,000,000 tasks.
"""

EPILOG = """\
examples:
  tasktui status --dsn postgresql://nagios@db/authentik
  tasktui status --warn-rejected 5 --crit-rejected 20 --crit-queued-age 600 --warn-stale 0
  tasktui status --json | jq .state

  TASKTUI OK - 12 queued (oldest 4s), 3 rejected in 15m, workers 3 alive / 0 stale / 1 dead
    | queued=12;;;0 oldest_queued_age=4.0s;;;0 rejected_15m=3;5;20;0 workers_alive=3;;1:;0 …

exit status (the monitoring-plugins convention):
  0  OK        every number within its thresholds
  1  WARNING   a number outside its warning range
  2  CRITICAL  a number outside its critical range
  3  UNKNOWN   the check could not run: bad options, the server cannot be reached, no task
               tables, no privilege, or no answer within --timeout (one line saying why)
"""


def add_parser(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "status",
        parents=[common],
        help=COMMANDS["status"],
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    # A usage error is UNKNOWN too, on stdout (see the module docstring).
    parser.on_usage_error = _usage_error
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the plugin's lines")
    parser.add_argument(
        "--rejected-minutes",
        type=_minutes,
        default=DEFAULT_REJECTED_MINUTES,
        metavar="N",
        help=f"count tasks rejected in the last N minutes (default {DEFAULT_REJECTED_MINUTES})",
    )
    parser.add_argument(
        "--timeout",
        type=_seconds,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"UNKNOWN when the check has not finished by then (default {DEFAULT_TIMEOUT:g})",
    )
    thresholds = parser.add_argument_group("thresholds (Nagios ranges)")
    for metric in METRICS:
        warn, crit = DEFAULT_THRESHOLDS.get(metric.key, ("", ""))
        for kind, default in (("warn", warn), ("crit", crit)):
            thresholds.add_argument(
                f"--{kind}-{metric.key}",
                type=_range,
                default=None,
                metavar="RANGE",
                help=f"{'warning' if kind == 'warn' else 'critical'} range for {metric.help}"
                + (f" (default {default})" if default else ""),
            )
    parser.set_defaults(handler=run, report_error=_report_unknown)


def _usage_error(message: str) -> NoReturn:
    say(unknown_line(f"usage: {db.redact(message)} (see `tasktui status --help`)"), multiline=False)
    raise SystemExit(PluginState.UNKNOWN.value)


def _range(text: str) -> str:
    try:
        parse_range(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a Nagios range: {text!r} (expected such as 10, 10:, ~:10, 10:20 or @10:20)"
        ) from None
    return text


def _minutes(text: str) -> int:
    if not text.strip().isdigit() or not 1 <= int(text) <= 1440:
        raise argparse.ArgumentTypeError(f"expected minutes from 1 to 1440, got {text!r}")
    return int(text)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(f"expected seconds, more than 0 and at most 3600, got {text!r}")
    return value


def run(args: argparse.Namespace) -> int:
    thresholds = Thresholds.parse(
        {
            metric.key: (
                getattr(args, f"warn_{metric.key.replace('-', '_')}"),
                getattr(args, f"crit_{metric.key.replace('-', '_')}"),
            )
            for metric in METRICS
        }
    )
    try:
        target = Target.resolve(args.dsn)
        status = run_command(_bounded(target, args.rejected_minutes, args.timeout))
    except UserFacingError as exc:
        return _unknown(str(exc), as_json=args.json)
    except Exception as exc:  # a plugin's every failure is UNKNOWN (exit 3), a bug too: logged in full
        if os.environ.get("TASKTUI_DEBUG"):
            raise
        debuglog.log.error("unexpected failure", exc_info=exc)
        message = db.redact(" ".join(str(exc).split()), args.dsn or "")
        where = debuglog.where()
        details = f" (details in {where})" if where is not None else ""
        return _unknown(f"unexpected error: {type(exc).__name__}: {message}{details}", as_json=args.json)
    if not isinstance(status, TaskSystemStatus):
        return _unknown("interrupted", as_json=args.json)
    verdict = judge(status, thresholds)
    if args.json:
        write_stdout(json.dumps(_as_json(status, verdict), ensure_ascii=True, indent=2) + "\n")
    else:
        for line in verdict.lines():
            say(line, multiline=False)
    return verdict.state.value


async def _bounded(target: Target, rejected_minutes: int, seconds: float) -> TaskSystemStatus:
    async def check() -> TaskSystemStatus:
        async with await open_session(target) as session:
            return await load_status(session, rejected_minutes=rejected_minutes)

    return await db.bounded(check(), seconds, "the whole check")


def _report_unknown(args: argparse.Namespace, exc: UserFacingError) -> int:
    """An error before the check ran (the config file, a profile): UNKNOWN too."""
    return _unknown(str(exc), as_json=args.json)


def _unknown(reason: str, *, as_json: bool) -> int:
    if as_json:
        payload = {"state": PluginState.UNKNOWN.name, "exit_code": PluginState.UNKNOWN.value, "error": reason}
        write_stdout(json.dumps(payload, ensure_ascii=True, indent=2) + "\n")
    else:
        say(unknown_line(reason), multiline=False)
    return PluginState.UNKNOWN.value


def _as_json(status: TaskSystemStatus, verdict: Verdict) -> dict[str, object]:
    return {
        "state": verdict.state.name,
        "exit_code": verdict.state.value,
        "line": verdict.line,
        "checks": [{**check.to_json(), "state": check.state.name} for check in verdict.checks],
        **status.to_json(),
        "waiting": status.waiting,
        "delayed": status.delayed,
        "in_flight": status.in_flight,
        "oldest_waiting_seconds": round(status.oldest_waiting_seconds, 3),
    }
