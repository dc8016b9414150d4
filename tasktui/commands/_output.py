"""Printing a command's report: colour only on a terminal, plain text when piped, and a
reader that goes away (`| head`) ends the output quietly.

Every line a command prints goes through here (`say` for plain text, `print_lines` for styled
`Text`), and through tasktui.core.text's sanitiser on the way: a database name, a role, an error
message or any other text that came from the server cannot send an escape sequence to the
terminal, even where a command's own f-string forgot to escape it.
"""

from __future__ import annotations

import os
import shutil
import sys
from typing import TextIO

from rich.console import Console
from rich.text import Text

from tasktui.core.shape import TableShape
from tasktui.core.text import escape_control, is_safe
from tasktui.render.styles import CLI_THEME
from tasktui.render.text import safe_text


def say(text: str, *, stream: TextIO | None = None, multiline: bool = True) -> None:
    """One message to stdout, or to `stream` (stderr for errors). Without `multiline` it stays
    on one line whatever it holds (newlines show as \\n): an error is one line."""
    out = sys.stdout if stream is None else stream
    data = escape_control(text, multiline=multiline) + "\n"
    if out is sys.stdout:
        write_stdout(data)
    else:
        out.write(data)
        out.flush()


def terminal_width() -> int | None:
    """The width of the terminal stdout is, for text wrapped with hanging indents; None when
    stdout is a pipe or a file (lines stay whole there)."""
    if not sys.stdout.isatty():
        return None
    return shutil.get_terminal_size().columns


def note_lookups(shape: TableShape) -> None:
    """Say on stderr, once, which names this role may not read (they are shown as ids)."""
    if shape.lookup_notice:
        say(f"tasktui: note: {shape.lookup_notice}", stream=sys.stderr, multiline=False)


def print_lines(lines: list[Text]) -> None:
    """Lines built with tasktui.core.text (untrusted text already escaped, no markup): styled
    through Rich on a terminal, else their plain text — Rich is not used for pipes at all, as
    FORCE_COLOR and friends could make it emit escape sequences there."""
    lines = [line if is_safe(line.plain) else safe_text(line.plain) for line in lines]
    if sys.stdout.isatty():
        console = Console(highlight=False, markup=False, emoji=False, soft_wrap=True, theme=CLI_THEME)
        try:
            for line in lines:
                console.print(line)
        except BrokenPipeError:
            _stdout_gone()
        return
    write_stdout("".join(line.plain + "\n" for line in lines))


def write_stdout(data: str) -> None:
    try:
        sys.stdout.write(data)
        sys.stdout.flush()
    except BrokenPipeError:
        _stdout_gone()


def _stdout_gone() -> None:
    """Point stdout at /dev/null so that Python's flush at exit does not fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
