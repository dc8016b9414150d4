"""Printing a command's report: colour only on a terminal, plain text when piped, and a
reader that goes away (`| head`) ends the output quietly."""

from __future__ import annotations

import os
import sys

from rich.console import Console
from rich.text import Text


def print_lines(lines: list[Text]) -> None:
    """Lines built with tasktui.core.text (untrusted text already escaped, no markup): styled
    through Rich on a terminal, else their plain text — Rich is not used for pipes at all, as
    FORCE_COLOR and friends could make it emit escape sequences there."""
    if sys.stdout.isatty():
        console = Console(highlight=False, markup=False, emoji=False, soft_wrap=True)
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


def columns(rows: list[list[Text]], *, indent: str = "", gap: int = 2) -> list[Text]:
    """Rows of cells aligned in columns (widths in terminal cells; the last column is not
    padded). Cells are Text already built with tasktui.core.text."""
    widths: list[int] = []
    for row in rows:
        for index, cell in enumerate(row[:-1]):
            if index == len(widths):
                widths.append(0)
            widths[index] = max(widths[index], cell.cell_len)
    lines = []
    for row in rows:
        line = Text(indent)
        for index, cell in enumerate(row):
            line.append_text(cell)
            if index < len(row) - 1:
                line.append(" " * (widths[index] - cell.cell_len + gap))
        line.rstrip()
        lines.append(line)
    return lines
