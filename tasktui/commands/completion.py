"""`tasktui completion SHELL`: the shell code that completes tasktui's commands and options
(argcomplete), to load from the shell's startup file."""

from __future__ import annotations

import argparse

import argcomplete

from tasktui.commands import COMMANDS
from tasktui.commands._output import write_stdout

SHELLS = ("bash", "zsh", "fish", "tcsh")

EPILOG = """\
examples (the activation line, once, in the shell's startup file):
  bash  ~/.bashrc                  eval "$(tasktui completion bash)"
  zsh   ~/.zshrc                   eval "$(tasktui completion zsh)"
  fish  ~/.config/fish/config.fish tasktui completion fish | source

Then `tasktui sta<Tab>` completes to `tasktui status`, `tasktui status --crit-<Tab>` lists the
thresholds, and `--profile <Tab>` the config file's profiles.

exit status: 0
"""


def add_parser(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "completion",
        help=COMMANDS["completion"],
        description="Print the shell code that completes tasktui's commands, options and profile names.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("shell", choices=SHELLS, help="the shell to complete in")
    parser.set_defaults(handler=run, reads_config=False)


def run(args: argparse.Namespace) -> int:
    write_stdout(argcomplete.shellcode(["tasktui"], shell=args.shell))
    return 0
