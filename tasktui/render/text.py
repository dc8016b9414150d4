"""Rich `Text` from untrusted values: escaped by the one sanitiser (tasktui.core.text), never
parsed as markup, styled by semantic names (tasktui.render.styles), bounded before layout."""

from __future__ import annotations

from collections.abc import Sequence

from rich.cells import cell_len
from rich.text import Span, Text

from tasktui.core.text import escape_control

# Every value is bounded before it is laid out (the rest is counted: "… N more characters"), so
# that one huge value cannot take the screen or the event loop; `show --json` prints it whole.
VALUE_CHARS = 2_000  # of a field's value
NAME_CHARS = 200  # of a name inside a line of a listing (an actor, a host, an error key)


def safe_text(text: object, style: str = "", *, multiline: bool = False) -> Text:
    """A Rich `Text` showing untrusted `text` literally with `style`: control characters
    escaped (see `escape_control`) and no markup parsed — `[bold]` stays `[bold]`."""
    return Text(escape_control(text, multiline=multiline), style=style, end="")


def assemble(*parts: str | tuple[object, str], multiline: bool = False) -> Text:
    """One `Text` from pieces, each a plain string or (untrusted text, style); every piece is
    escaped, so a caller cannot forget to escape one of them. Built in one go (not by repeated
    Text.append, which costs several times more): a 100,000-line log is rendered this way."""
    chunks: list[str] = []
    spans: list[Span] = []
    offset = 0
    for part in parts:
        value, style = part if isinstance(part, tuple) else (part, "")
        piece = escape_control(value, multiline=multiline)
        if style and piece:
            spans.append(Span(offset, offset + len(piece), style))
        chunks.append(piece)
        offset += len(piece)
    return Text("".join(chunks), spans=spans, end="")


def flow(pieces: Sequence[Text], width: int, separator: str = "  ") -> list[Text]:
    """`pieces` laid out in lines of at most `width` cells, broken only between pieces (a legend
    entry or a summary item never splits mid-phrase). A piece wider than `width` gets a line of
    its own, where the widget may still wrap or crop it."""
    lines: list[Text] = []
    line = Text(end="")
    for piece in pieces:
        if line.plain and width > 0 and cell_len(line.plain) + len(separator) + cell_len(piece.plain) > width:
            lines.append(line)
            line = Text(end="")
        if line.plain:
            line.append(separator)
        line.append_text(piece)
    if line.plain or not lines:
        lines.append(line)
    return lines


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
