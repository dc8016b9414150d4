"""A log line as the log view draws it: its header row, then its body — the exception as a
traceback and, when expanded, the whole event and the attributes as indented JSON — rendered a
page at a time (PAGE_CHARS characters or PAGE_ROWS rows, then "… N more characters"), so that a
1 MB exception costs one page's rendering per key press. Lines up to WRAP_CHARS long wrap at
words; longer ones fold at the width, row by row, so that a page can end and the next begin
anywhere in them. Untrusted lines stay raw until a page reaches them, then go through the one
sanitiser (tasktui.render.text.assemble) once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from rich.cells import chop_cells
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.text import Span, Text
from textual.strip import Strip

from tasktui.core.logs import AttributesValue, LogLine
from tasktui.core.status import ERROR_LEVELS
from tasktui.core.text import more_characters
from tasktui.core.tracebacks import format_exception
from tasktui.render import detail as rendered
from tasktui.render import styles
from tasktui.render.text import assemble, safe_text
from tasktui.ui.styles import themed

INDENT = 6  # tracebacks and attributes sit under the event, past the time column's start
WIDE = 120  # from this width a row shows the full timestamp (date and zone)
LOGGER_CHARS = (24, 36)  # the end of a logger name kept on a row, narrow and wide
# A page of a block's body, rendered at once: a long traceback, or a few screens of a huge
# value; whichever limit comes first (short lines cost their layout, long ones their length).
PAGE_CHARS = 16_000
PAGE_ROWS = 300
WRAP_CHARS = 2_000  # body lines up to this long wrap at words; longer ones fold at the width

RawLine = tuple[str, str]  # (untrusted text, semantic style name), not escaped yet


@dataclass(eq=False)
class LogEntry:
    """A log line as shown: its exception (from inline attributes, or fetched for error lines
    whose attributes were too large to come with the page) and what the user expanded."""

    line: LogLine
    exception: Any = None
    expanded: bool = False
    attributes: AttributesValue | None = None  # fetched on demand (line.attributes_inline is False)
    attributes_error: str = ""
    pages: int = 1  # pages of the body to show (more() adds one)

    @property
    def is_error(self) -> bool:
        return self.line.level.lower() in ERROR_LEVELS

    @property
    def is_problem(self) -> bool:
        """An error or a warning: where `e` / `E` stop."""
        return self.line.is_problem

    @property
    def needs_attributes(self) -> bool:
        """Expanded, but its attributes did not come with the page and are not fetched yet."""
        return self.expanded and not self.line.attributes_inline and self.attributes is None


@dataclass(eq=False)
class LogBlock:
    """A log line's rows at one width: its header row, then as much of its body as its pages
    allow (rendered by `extend`, a page at a time), then a row saying how much is left."""

    rows: list[Strip]  # the header row, then the body rows rendered so far
    body: list[Text | RawLine]  # every body line, unrendered (raw ones escaped when first rendered)
    total: int  # characters in the body
    width: int
    muted: Style
    by_name: dict[str, Style]
    line: int = 0  # the next body line to render
    offset: int = 0  # characters of it rendered already
    shown: int = 0  # characters of the body rendered
    marker: Strip | None = None  # "… N more characters", while some are left

    @property
    def height(self) -> int:
        return len(self.rows) + (self.marker is not None)

    def text(self, index: int) -> Text:
        """Body line `index` as Text: a raw line is escaped (by the one sanitiser) and themed the
        first time it is needed, once."""
        line = self.body[index]
        if not isinstance(line, Text):
            line = self.body[index] = themed(assemble(line), self.by_name)
        return line

    def row(self, index: int) -> Strip:
        if index < len(self.rows) or self.marker is None:
            return self.rows[min(index, len(self.rows) - 1)]
        return self.marker


def new_block(
    entry: LogEntry, width: int, by_name: dict[str, Style], console: Console, *, local: bool = False
) -> LogBlock:
    """The line's header row, and its body (traceback, details) as lines not rendered yet;
    times in UTC, or local time."""
    muted = by_name[styles.MUTED]
    marker = "▾ " if entry.expanded else "▸ "
    header = Text(end="")
    header.append(marker, muted)
    wide = width >= WIDE
    row = rendered.log_line(entry.line, time_only=not wide, logger_chars=LOGGER_CHARS[wide], local=local)
    header.append_text(themed(row, by_name))
    # Untrusted lines stay raw (text, style) until a page reaches them: a 1 MB exception of
    # 150,000 lines costs its split here, and its escaping a page at a time.
    body: list[Text | RawLine] = [(line, styles.FAILURE) for line in format_exception(entry.exception)]
    if entry.expanded:
        body += _details(entry, width, header.cell_len, muted, local)
    return LogBlock(
        rows=[Strip(list(header.render(console)))],
        body=body,
        total=sum(len(line) if isinstance(line, Text) else len(line[0]) for line in body),
        width=width,
        muted=muted,
        by_name=by_name,
    )


def extend(block: LogBlock, console: Console) -> None:
    """Render one more page of the block's body, from where it stopped."""
    room = max(8, block.width - INDENT)
    indent = Segment(" " * INDENT)
    budget = block.shown + PAGE_CHARS
    last_row = len(block.rows) + PAGE_ROWS
    while block.line < len(block.body) and block.shown < budget and len(block.rows) < last_row:
        text = block.text(block.line)
        if block.offset == 0 and len(text) <= WRAP_CHARS:
            for wrapped in text.wrap(console, room, overflow="fold"):
                block.rows.append(Strip([indent, *wrapped.render(console)]))
            block.shown += len(text)
            block.line += 1
            continue
        # A long line: folded at the width from where the last page stopped, whole rows only
        # (looking ahead a little so that the row at the page's end is a whole one).
        start = block.offset
        window = text.plain[start : start + (budget - block.shown) + room * 8]
        for piece in chop_cells(window, room):
            end = start + len(piece)
            block.rows.append(Strip([indent, *_slice(text, start, end).render(console)]))
            block.shown += end - start
            start = end
            if block.shown >= budget or len(block.rows) >= last_row:
                break
        if start >= len(text):
            block.line, block.offset = block.line + 1, 0
        else:
            block.offset = start
    left = block.total - block.shown
    block.marker = (
        Strip([indent, Segment(f"{more_characters(left)} — m shows the next page", block.muted)]) if left > 0 else None
    )


def _details(entry: LogEntry, width: int, header_width: int, muted: Style, local: bool) -> list[Text | RawLine]:
    """What an expanded line adds: its whole event when the row could not show it, and its
    attributes as indented JSON (the exception is the traceback above)."""
    line = entry.line
    texts: list[Text | RawLine] = []
    if line.timestamp is not None and (width < WIDE or len(line.logger) > LOGGER_CHARS[True]):
        # The row shortened the time or the logger: here they are whole.
        texts.append(
            assemble(
                ("time ", styles.MUTED),
                rendered.format_time(line.timestamp, local=local),
                ("  logger ", styles.MUTED),
                line.logger,
            )
        )
    if header_width > width or "\n" in line.event or line.event_truncated:
        texts.append(Text("event:", style=muted))
        texts.extend((part, "") for part in line.event.split("\n"))
        if line.event_truncated:
            texts.append(Text(f"… cut at {len(line.event):,} characters of {line.event_bytes:,} bytes", muted))
    size = f"{line.attributes_size:,} bytes"
    if line.attributes_inline:
        attributes: Any = line.attributes_without_exception
        if not attributes:
            texts.append(Text("no attributes" if not entry.exception else "no other attributes", style=muted))
            return texts
        texts.append(Text(f"attributes ({size}):", style=muted))
        texts.extend(_json_lines(attributes))
    elif entry.attributes_error:
        texts.append(safe_text(f"attributes ({size}) could not be loaded: {entry.attributes_error}", "bold"))
    elif entry.attributes is None:
        texts.append(Text(f"attributes ({size}): loading…", style=muted))
    elif not entry.attributes.present:
        texts.append(Text("no attributes", style=muted))
    elif entry.attributes.complete:
        value = entry.attributes.value
        if isinstance(value, dict):
            value = {k: v for k, v in value.items() if k != "exception"}
        texts.append(Text(f"attributes ({entry.attributes.size:,} bytes):", style=muted))
        texts.extend(_json_lines(value))
    else:
        shown = len(entry.attributes.text)
        texts.append(
            Text(f"attributes: the first {shown:,} characters of {entry.attributes.size:,} bytes", style=muted)
        )
        texts.append((entry.attributes.text, ""))
        texts.append(Text(f"… {entry.attributes.size - shown:,} more bytes not shown", style=muted))
    return texts


def _slice(text: Text, start: int, end: int) -> Text:
    """Characters [start, end) of `text` with their styles, in time proportional to the slice (Rich's
    own slicing divides the whole text, which for a 1 MB line is a copy per row)."""
    spans = [
        Span(max(span.start, start) - start, min(span.end, end) - start, span.style)
        for span in text.spans
        if span.start < end and span.end > start
    ]
    return Text(text.plain[start:end], style=text.style, spans=spans, end="")


def _json_lines(value: Any) -> list[RawLine]:
    """Readable JSON, one raw line per line, escaped when rendered (JSON escapes C0 controls but
    not C1 or bidi characters)."""
    text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    return [(part, "") for part in text.split("\n")]
