"""Subcommands of `tasktui`, in the order `tasktui --help` lists them, each with the line it shows
there. Only the command being run is imported and its parser built (tasktui.cli): a command's
module brings its share of the core, Rich and psycopg, which `tasktui --help`, a usage error, a
Tab of shell completion or another command need not load. Each module
tasktui.commands.<name> has `add_parser(subparsers, common)` (whose help is its line here) and a
handler it sets as the parser's default."""

from __future__ import annotations

import importlib
from types import ModuleType

COMMANDS: dict[str, str] = {
    "demo": "run the console on an embedded PostgreSQL with a live simulated authentik workload",
    "serve": "the console in a browser (textual-serve), on localhost unless --host says otherwise",
    "schema": "create the standalone mirror of authentik's task tables",
    "trigger": "install, check or remove tasktui's notify trigger",
    "tail": "register as a watching console and print each change notification as a JSON line",
    "status": "one-shot check for monitoring: counts, queue depth, workers; exit 0/1/2/3 as Nagios plugins",
    "show": "show one task: fields, decoded message and result, current and previous logs",
    "xray": "who runs a task: the lock holder, its worker, sessions and locks; an orphan verdict",
    "workers": "show the workers (alive, stale or dead) and alarms; exit 1 when none is alive",
    "summary": "one row per installation: alive workers, queued, running, errors in the last hour",
    "errors": "what is failing, grouped by error and actor, with a trend; retry a group",
    "queues": "is each queue draining: queued now, arrival and completion rates, a forecast",
    "schedules": "authentik's schedules, their latest task, and schedules a stuck task blocks",
    "retry": "retry rejected tasks: by message id, or every rejected task matching a filter",
    "export": "the tasks a filter matches as CSV or JSON, or an incident bundle (Markdown) for a ticket",
    "config": "where the config file is, and the settings tasktui would use (passwords redacted)",
    "completion": "print the shell code that completes tasktui's commands and options (bash, zsh, fish, tcsh)",
}


def load(name: str) -> ModuleType:
    """The module of the command `name` (one of COMMANDS)."""
    return importlib.import_module(f"tasktui.commands.{name}")
