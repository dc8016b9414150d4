"""`tasktui retry`: retry rejected tasks by message id, or everything matching a filter.

The same guards, preview and audit journal as the console (tasktui.core.retry): each task is
retried in its own transaction only if it is still rejected; a filter run is previewed first,
confirmed, throttled and journaled.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
from collections.abc import Sequence

import psycopg

from tasktui.argtypes import retries_per_second
from tasktui.commands import COMMANDS
from tasktui.commands._filter import add_filter_options, filter_from, filter_given
from tasktui.commands._output import note_lookups, say, terminal_width
from tasktui.commands._run import run_command
from tasktui.core import bulk_retry, retry
from tasktui.core.bulk_retry import BulkPreview, BulkProgress
from tasktui.core.db import Target, user_error
from tasktui.core.detail import InvalidMessageId, parse_id_or_prefix, resolve_message_id
from tasktui.core.filters import TaskFilter
from tasktui.core.retry import Outcome, RetryOutcome
from tasktui.core.session import open_session
from tasktui.core.sql.tasks import TaskQueries, read_task
from tasktui.core.text import escape_control
from tasktui.core.timefmt import duration
from tasktui.errors import MissingPrivilege, UserFacingError
from tasktui.render.bulk import bulk_preview_text, bulk_summary_text

EXIT_OK = 0  # every task asked for was retried (a filter that matches nothing asks for nothing)
EXIT_FAILED = 1  # a retry failed (database error, lost connection): see the per-task lines
EXIT_REFUSED = 7  # not confirmed (declined, or no terminal to ask and no --yes): nothing changed
EXIT_PARTIAL = 8  # nothing failed, but not every task was retried (skipped, already retried, …)
EXIT_ABORTED = 130  # Ctrl-C / SIGTERM stopped a filter run; the summary says what was done

# Raw text (the exit status table needs its layout), so wrapped by hand.
DESCRIPTION = """\
Retry rejected tasks as authentik's own retry does: back to queued (retries as the
task's message counts them), earlier logs marked previous, a 'Task will be retried'
log, and authentik's enqueue NOTIFY wakes a worker. Only tasks still rejected at that
moment are retried.

Confirmation differs on purpose:
  tasktui retry ID...     retries the tasks named at once, with no preview and no
                          question, on a terminal or not (the ids are the confirmation;
                          --dry-run shows what it would do)
  tasktui retry --filter  previews every matching task, then asks on a terminal; with
                          no terminal (scripts, cron, pipes) it refuses and changes
                          nothing (exit 7) unless --yes is given

A --filter run ends with a summary in which planned = retried + skipped + failed +
not attempted, skipped broken down by reason (the same actor and uid already queued
or running, an older duplicate, or changed since the preview: already retried by
someone else, no longer rejected, not found).
"""

EXIT_CODES = """\
examples:
  tasktui retry 3fa85f64                    # one task, by the 8 digits the table shows
  tasktui retry --filter --actor authentik.sources.ldap.tasks.ldap_sync --dry-run
  tasktui retry --filter --queue default --rate 5 --yes

exit status:
  0    every task asked for was retried (or --dry-run; or no rejected task matched the filter)
  1    a retry failed (database error, lost connection); failures outrank everything below;
       or an id names no task, whole or as a prefix: every id is checked first, so then
       nothing was changed (as `show` and `xray`, which exit 1 for it too)
  2    bad arguments (an id that is not one, a prefix several ids start with), or the
       database cannot be reached
  4    this role may not retry here (it lacks a privilege, or the server is read-only);
       nothing was changed
  7    not confirmed: declined, or stdin is not a terminal and --yes was not given;
       nothing was changed
  8    nothing failed, but not every task was retried: skipped because the same actor and uid
       is already queued or running (or a newer rejected duplicate was retried instead),
       already retried by someone else, not rejected, or deleted since the ids were checked
  130  interrupted: Ctrl-C stopped a filter run after the task in flight

Every retry is appended to the audit journal $XDG_STATE_HOME/tasktui/retries.jsonl
(default ~/.local/state/tasktui/retries.jsonl; $TASKTUI_STATE_DIR replaces the folder).
"""


def add_parser(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "retry",
        parents=[common],
        help=COMMANDS["retry"],
        description=DESCRIPTION,
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "message_ids",
        nargs="*",
        metavar="MESSAGE_ID",
        type=_message_id,
        help="tasks to retry (ids, or their first 8+ hex digits), at once: no preview, no question (see above)",
    )
    parser.add_argument(
        "--filter",
        dest="by_filter",
        action="store_true",
        help="retry every rejected task matching the filter options below (all rejected tasks if none)",
    )
    parser.add_argument("--dry-run", action="store_true", help="show what would be retried; change nothing")
    parser.add_argument(
        "--yes",
        "-y",
        action="store_true",
        help="with --filter: do not ask for confirmation, needed without a terminal (message ids never ask)",
    )
    facets = parser.add_argument_group("filter options (with --filter)")
    add_filter_options(facets, statuses=False)
    facets.add_argument(
        "--limit",
        type=_limit,
        default=bulk_retry.DEFAULT_LIMIT,
        help=f"retry at most this many tasks, the newest (default {bulk_retry.DEFAULT_LIMIT:,};"
        f" at most {bulk_retry.MAX_LIMIT:,})",
    )
    facets.add_argument(
        "--rate",
        type=retries_per_second,
        default=bulk_retry.DEFAULT_RATE,
        help=f"retries per second (default {bulk_retry.DEFAULT_RATE:g}; 0: as fast as the database allows)",
    )
    parser.set_defaults(handler=run)


def _message_id(value: str) -> str:
    try:
        return parse_id_or_prefix(value)
    except InvalidMessageId as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _limit(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if not 1 <= number <= bulk_retry.MAX_LIMIT:
        raise argparse.ArgumentTypeError(
            f"expected a number of tasks from 1 to {bulk_retry.MAX_LIMIT:,} (retry more in several runs), got {value!r}"
        )
    return number


class UsageError(UserFacingError):
    exit_code = 2


def run(args: argparse.Namespace) -> int:
    target = Target.resolve(args.dsn)
    if args.message_ids and args.by_filter:
        raise UsageError("give message ids or --filter, not both")
    if args.message_ids:
        if filter_given(args):
            raise UsageError("filter options apply only with --filter")
        return run_command(_retry_ids(target, args.message_ids, dry_run=args.dry_run))
    if not args.by_filter:
        raise UsageError("nothing to retry: give message ids, or --filter (with filter options) for a bulk retry")
    # Rejected tasks are never "successful": the console's default toggle is moot here.
    task_filter = filter_from(args, hide_successful=False)
    return retry_matching(target, task_filter, limit=args.limit, rate=args.rate, dry_run=args.dry_run, yes=args.yes)


# ---------------------------------------------------------------------------------------------
# By message id


async def _retry_ids(target: Target, message_ids: Sequence[str], *, dry_run: bool) -> int:
    async with await open_session(target) as session:
        note_lookups(session.shape)
        # Every id first, whole or prefix: one that names no task (or, a prefix, several) stops
        # the command before anything is retried, as `show` and `xray` stop on it.
        try:
            message_ids = [await resolve_message_id(session, given) for given in message_ids]
        except psycopg.Error as exc:
            raise user_error(exc, target) from None
        if dry_run:
            queries = TaskQueries.for_shape(session.shape)
            rows = await (await session.conn.execute(queries.by_ids, {"ids": list(message_ids)})).fetchall()
            tasks = {task.message_id: task for task in map(read_task, rows)}
            for message_id in message_ids:
                task = tasks.get(message_id)
                if task is None:
                    verdict = "not found"
                elif task.state == "rejected":
                    verdict = f"would be retried ({task.display_uid})"
                else:
                    verdict = f"not retryable (state {task.state})"
                say(f"{message_id}  {verdict}", multiline=False)
            return EXIT_OK
        allowed, reason = await retry.retry_capability(session)
        if not allowed:
            raise MissingPrivilege(f"{reason}; nothing was changed")
        result = await retry.retry_selected(session, message_ids)
    for outcome in result.outcomes:
        say(f"{outcome.message_id}  {outcome.describe()}", multiline=False)
    if result.journal_error:
        say(f"tasktui: warning: {result.journal_error}", stream=sys.stderr, multiline=False)
    return _exit_code(result.outcomes, aborted=False)


def _exit_code(outcomes: Sequence[RetryOutcome], *, aborted: bool) -> int:
    kinds = {o.outcome for o in outcomes}
    if Outcome.FAILED in kinds:
        return EXIT_FAILED
    if aborted:
        return EXIT_ABORTED
    if kinds - {Outcome.RETRIED}:
        return EXIT_PARTIAL
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# By filter


def retry_matching(
    target: Target, task_filter: TaskFilter, *, limit: int, rate: float, dry_run: bool, yes: bool
) -> int:
    """A bulk retry of the rejected tasks `task_filter` matches, as `tasktui retry --filter` does
    it (preview, confirmation, throttled run, summary, journal); returns the exit status. Also
    `tasktui errors --retry GROUP`."""
    # Three phases, so that the prompt runs outside the event loop (Ctrl-C at the prompt is a
    # plain "no") and no connection idles while a person reads the preview.
    preview, (allowed, reason) = asyncio.run(_preview(target, task_filter, limit))
    say(bulk_preview_text(preview, rate, terminal_width()))
    if not preview.tasks:
        return EXIT_OK
    if dry_run:
        if not allowed:
            say(f"note: {reason}", multiline=False)
        return EXIT_OK
    if not preview.to_retry:
        say("nothing to retry: every matching task is skipped")
        return EXIT_PARTIAL
    if not allowed:
        raise MissingPrivilege(f"{reason}; nothing was changed")
    if not yes and not _confirmed(preview):
        return EXIT_REFUSED
    return run_command(_run(target, preview, rate))


async def _preview(target: Target, task_filter: TaskFilter, limit: int) -> tuple[BulkPreview, tuple[bool, str]]:
    async with await open_session(target) as session:
        note_lookups(session.shape)
        preview = await bulk_retry.preview_bulk_retry(session, task_filter, limit=limit)
        return preview, await retry.retry_capability(session)


def _confirmed(preview: BulkPreview) -> bool:
    count = len(preview.to_retry)
    if not sys.stdin.isatty():
        say(
            f"tasktui: refusing to retry {count:,} tasks without confirmation: stdin is not a terminal"
            " (check with --dry-run, then pass --yes); nothing was changed",
            stream=sys.stderr,
        )
        return False
    try:
        # The question goes to stderr (input() would print it on stdout, the report's stream).
        sys.stderr.write(escape_control(f"Retry {count:,} tasks on {preview.database}? Type 'yes' to confirm: "))
        sys.stderr.flush()
        answer = input()
    except (EOFError, KeyboardInterrupt):
        answer = ""
    if answer.strip().lower() != "yes":
        say("not confirmed; nothing was changed", stream=sys.stderr)
        return False
    return True


async def _run(target: Target, preview: BulkPreview, rate: float) -> int:
    abort = asyncio.Event()
    loop = asyncio.get_running_loop()
    # Ctrl-C and SIGTERM stop the run between two tasks, never inside a transaction, so the
    # summary and the journal account for every task.
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, abort.set)
    progress = _ProgressPrinter(sys.stderr.isatty())
    async with await open_session(target) as session:
        summary = await bulk_retry.run_bulk_retry(session, preview, rate=rate, abort=abort, on_progress=progress)
    progress.finish()
    say(bulk_summary_text(summary, terminal_width()))
    if summary.journal_error:
        say(f"tasktui: warning: {summary.journal_error}", stream=sys.stderr, multiline=False)
    return _exit_code(summary.outcomes, aborted=summary.aborted)


class _ProgressPrinter:
    """Progress on stderr: one rewritten line on a terminal, a line every few seconds otherwise."""

    def __init__(self, tty: bool) -> None:
        self.tty = tty
        self.every = 0.25 if tty else 5.0
        self.last = 0.0
        self.shown = False

    def __call__(self, progress: BulkProgress) -> None:
        now = time.monotonic()
        if now - self.last < self.every and progress.attempted < progress.total:
            return
        self.last = now
        left = progress.remaining_seconds
        text = (
            f"{progress.attempted:,}/{progress.total:,} tried, {progress.counts.get(Outcome.RETRIED, 0):,} retried"
            f" ({progress.rate:.1f}/s{'' if left is None else ', about ' + duration(left) + ' left'})"
        )
        if self.tty:
            sys.stderr.write("\r\x1b[2K" + text)
            self.shown = True
        else:
            sys.stderr.write(text + "\n")
        sys.stderr.flush()

    def finish(self) -> None:
        if self.shown:
            sys.stderr.write("\n")
            sys.stderr.flush()
