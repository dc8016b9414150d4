"""Untrusted text made safe to show literally, in the terminal UI and in the CLI alike.

Everything tasktui displays from the watched database — log events, logger names, attributes,
decoded pickles, even actor names — was written by someone else and may carry terminal escape
sequences (`\\x1b[2J`, OSC 8 hyperlinks, OSC 52 clipboard writes), bare carriage returns that
overwrite what came before, bidi overrides that reorder a line ("Trojan source"), or text that
looks like Rich markup (`[bold red]`). None of it may act: it is shown as the characters it is.

Two rules, for every caller:

* Pass untrusted text through `escape_control()` before it reaches a terminal. Control
  characters become visible escapes (`\\x1b[31m` shows as the eight characters `\\x1b[31m`);
  printable text, including non-ASCII letters and emoji, is unchanged.
* Never build Rich/Textual *markup strings* from untrusted text (no f"[red]{event}[/]"). Build
  `rich.text.Text` objects instead — `safe_text()` and `assemble()` below — whose content is
  never parsed as markup. Textual widgets accept these `Text` objects directly.

Backslashes are left as they are, so a message that already contains the characters `\\x1b` reads
the same as one that contained the control byte; this keeps Windows paths and regexes legible,
and the console is for reading, not for round-tripping bytes (`--json` output is exact).
"""

from __future__ import annotations

import re

from rich.text import Span, Text

# Everything shown as an escape: Cc (C0 controls, DEL, C1 controls such as CSI U+009B), the line
# and paragraph separators (Zl/Zp, which widgets may treat as newlines), lone surrogates (Cs,
# which cannot be encoded to a terminal), and the bidi embeddings, overrides, isolates and marks
# that reorder a line without being controls ("Trojan source"). One precompiled class: the UI
# runs this for every line it draws.
_UNSAFE = "\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_UNSAFE_RE = re.compile(f"[{_UNSAFE}]")
_MULTILINE_RE = re.compile(f"(?![\\n\\t])[{_UNSAFE}]")

# Shown by name rather than as \xNN: the ones a reader recognises.
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_match(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def escape_control(text: object, *, multiline: bool = False) -> str:
    """`text` (converted with str() if it is not a string) with every control character shown
    as a visible escape. With `multiline`, newlines and tabs are kept as such (CRLF becomes a
    newline) for displays that show several lines; every other control is still escaped."""
    value = text if isinstance(text, str) else str(text)
    if multiline:
        return _MULTILINE_RE.sub(_escape_match, value.replace("\r\n", "\n"))
    return _UNSAFE_RE.sub(_escape_match, value)


def shorten(text: str, limit: int, *, marker: str = "…") -> str:
    """At most `limit` characters of `text`, ending in `marker` when something was cut."""
    if limit <= 0:
        return ""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(marker))] + marker


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
