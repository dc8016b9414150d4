"""Untrusted text made safe to show literally, in the terminal UI and in the CLI alike.

Everything tasktui displays from the watched database — log events, logger names, attributes,
decoded pickles, even actor names — was written by someone else and may carry terminal escape
sequences (`\\x1b[2J`, OSC 8 hyperlinks, OSC 52 clipboard writes), bare carriage returns that
overwrite what came before, bidi overrides that reorder a line ("Trojan source"), or text that
looks like Rich markup (`[bold red]`). None of it may act: it is shown as the characters it is.

This module is the one sanitiser every output path uses — table, detail, dialogs, notices,
header, CLI text and errors, `tail`, `show`. Its rules, for every caller:

* Pass untrusted text through `escape_control()` before it reaches a terminal. Control
  characters become visible escapes (`\\x1b[31m` shows as the eight characters `\\x1b[31m`);
  printable text, including non-ASCII letters and emoji, is unchanged.
* Never build Rich/Textual *markup strings* from untrusted text (no f"[red]{event}[/]"). Build
  `rich.text.Text` objects instead — `tasktui.render.text.safe_text()` and `assemble()`, which
  escape with this module — whose content is never parsed as markup.
* Measure and cut in terminal cells (`fit_cells`), never with len(): a CJK character or a joined
  emoji takes two cells, a combining mark none.
* Bound every value before rendering it (`cut`, `fit_cells`): a single 1 MB value must not take
  the event loop for seconds. What is left out is said ("… 998,000 more characters").
* JSON for a terminal (`tail`) escapes every non-ASCII character (`ascii_json`): still exact JSON.

Backslashes are left as they are, so a message that already contains the characters `\\x1b` reads
the same as one that contained the control byte; this keeps Windows paths and regexes legible,
and the console is for reading, not for round-tripping bytes (`--json` output is exact).
"""

from __future__ import annotations

import json
import re

from rich.cells import cell_len, set_cell_size

# Everything shown as an escape: Cc (C0 controls, DEL, C1 controls such as CSI U+009B), the line
# and paragraph separators (Zl/Zp, which widgets may treat as newlines), lone surrogates (Cs,
# which cannot be encoded to a terminal), and the bidi embeddings, overrides, isolates and marks
# that reorder a line without being controls ("Trojan source"). One precompiled class: the UI
# runs this for every line it draws.
_UNSAFE = "\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_UNSAFE_RE = re.compile(f"[{_UNSAFE}]")
_MULTILINE_RE = re.compile(f"(?!\\n)[{_UNSAFE}]")
TAB_SIZE = 8

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
    as a visible escape. With `multiline`, newlines are kept as such (CRLF becomes a newline)
    and tabs become spaces, for displays that show several lines; every other control is still
    escaped. Idempotent: escaping escaped text changes nothing."""
    value = text if isinstance(text, str) else str(text)
    if multiline:
        return _MULTILINE_RE.sub(_escape_match, value.replace("\r\n", "\n").expandtabs(TAB_SIZE))
    return _UNSAFE_RE.sub(_escape_match, value)


def is_safe(text: str, *, multiline: bool = False) -> bool:
    """True when `text` holds nothing escape_control would escape."""
    return (_MULTILINE_RE if multiline else _UNSAFE_RE).search(text) is None


def lines_of(text: str) -> list[str]:
    """`text` split into lines as str.splitlines() would, but at newlines only: splitlines() also
    splits at U+2028/2029, \\r, form feeds, \\x1c-\\x1e and NEL, which would turn into real line
    breaks on screen where they must show as the escapes they are."""
    lines = text.replace("\r\n", "\n").split("\n")
    if lines[-1] == "":
        lines.pop()  # a final newline ends the last line; it does not start another
    return lines


def more_characters(count: int) -> str:
    return f"… {count:,} more character{'s' if count != 1 else ''}"


def cut(text: object, limit: int, *, multiline: bool = False) -> str:
    """At most `limit` characters of untrusted `text`, escaped (see escape_control for
    `multiline`), followed by "… N more characters" when something was left out (N counts the
    characters of the original)."""
    value = text if isinstance(text, str) else str(text)
    if len(value) <= limit:
        return escape_control(value, multiline=multiline)
    head = escape_control(value[: max(0, limit)], multiline=multiline)
    return head + more_characters(len(value) - max(0, limit))


# fit_cells looks at no more than this many characters per cell of room: a 1 MB value costs
# what a short one costs, even made of zero-width combining marks.
_CHARS_PER_CELL = 8
_ELLIPSIS = "…"


def fit_cells(text: object, width: int, *, keep_end: bool = False, right: bool = False) -> str:
    """Untrusted `text`, escaped, cut or padded to exactly `width` terminal cells: cut with "…"
    at its end (at its start with `keep_end`), padded on the right (on the left with `right`).
    A wide character that would straddle the cut is replaced by a space."""
    if width <= 0:
        return ""
    value = text if isinstance(text, str) else str(text)
    bound = width * _CHARS_PER_CELL + 1
    clipped = len(value) > bound
    if clipped:
        value = value[-bound:] if keep_end else value[:bound]
    value = escape_control(value)
    cells = cell_len(value)
    if cells <= width and not clipped:
        padding = " " * (width - cells)
        return padding + value if right else value + padding
    room = width - cell_len(_ELLIPSIS)
    if keep_end:
        tail = _tail_within(value, room)
        return _ELLIPSIS + " " * (room - cell_len(tail)) + tail
    return set_cell_size(value, room) + _ELLIPSIS


def _tail_within(text: str, cells: int) -> str:
    """The longest end of `text` that takes at most `cells` cells (a binary search over where it
    starts: the text is bounded, and cell_len knows about joined emoji and combining marks)."""
    low, high = 0, len(text)  # the answer starts somewhere in [low, high]
    while low < high:
        middle = (low + high) // 2
        if cell_len(text[middle:]) <= cells:
            high = middle
        else:
            low = middle + 1
    # Not starting with the marks of a character that was cut away.
    while low < len(text) and cell_len(text[low]) == 0:
        low += 1
    return text[low:]


def ascii_json(payload: str) -> str:
    """A JSON document re-encoded so that a terminal gets plain ASCII: every non-ASCII character
    (C1 controls, bidi overrides, line separators, letters alike) and DEL as a \\uXXXX escape,
    C0 controls as JSON escapes them. Parsers read back exactly the original values. Text that
    is not JSON comes out as one JSON string."""
    try:
        value = json.loads(payload)
    except ValueError:
        value = payload
    return json.dumps(value, ensure_ascii=True).replace("\x7f", "\\u007f")
