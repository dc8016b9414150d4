"""Subcommands of `tasktui`; COMMANDS is the order they appear in `tasktui --help`."""

from tasktui.commands import (
    completion,
    config,
    demo,
    errors,
    queues,
    retry,
    schedules,
    schema,
    serve,
    show,
    status,
    summary,
    tail,
    trigger,
    workers,
    xray,
)

COMMANDS = [
    demo,
    serve,
    schema,
    trigger,
    tail,
    status,
    show,
    xray,
    workers,
    summary,
    errors,
    queues,
    schedules,
    retry,
    config,
    completion,
]
