"""Subcommands of `tasktui`; COMMANDS is the order they appear in `tasktui --help`."""

from tasktui.commands import retry, schema, tail, trigger

COMMANDS = [schema, trigger, tail, retry]
