"""Subcommands of `tasktui`; COMMANDS is the order they appear in `tasktui --help`."""

from tasktui.commands import retry, schema, show, tail, trigger, workers

COMMANDS = [schema, trigger, tail, show, workers, retry]
