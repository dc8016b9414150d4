"""Untrusted text is shown literally: escapes visible, markup never parsed."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from tasktui.core.text import assemble, escape_control, safe_text, shorten


def test_escape_sequences_become_visible_characters() -> None:
    raw = "a\x1b[31mred\x1b[0m \x1b]8;;https://evil.example\x07link\x1b]8;;\x07 \x1b]52;c;aGk=\x07"
    shown = escape_control(raw)
    assert "\x1b" not in shown and "\x07" not in shown
    assert shown == ("a\\x1b[31mred\\x1b[0m \\x1b]8;;https://evil.example\\x07link\\x1b]8;;\\x07 \\x1b]52;c;aGk=\\x07")


def test_c1_controls_del_nul_and_bidi_overrides_are_escaped() -> None:
    shown = escape_control("\x9b31m\x85\x7f\x00x\u202etxt.exe\u2066\u2028")
    assert shown == "\\x9b31m\\x85\\x7f\\x00x\\u202etxt.exe\\u2066\\u2028"


def test_printable_unicode_is_kept() -> None:
    text = "Grüße — 日本語 🙂 C:\\Users\\x"
    assert escape_control(text) == text


def test_newlines_and_tabs_are_escaped_on_one_line_and_kept_on_several() -> None:
    raw = "one\r\ntwo\tthree\rfour\x1b[2K"
    assert escape_control(raw) == "one\\r\\ntwo\\tthree\\rfour\\x1b[2K"
    # A bare carriage return would overwrite the line: it stays escaped in multi-line mode too.
    assert escape_control(raw, multiline=True) == "one\ntwo\tthree\\rfour\\x1b[2K"


def test_non_strings_are_converted() -> None:
    assert escape_control(42) == "42"
    assert escape_control(b"\x1b") == "b'\\x1b'"


def test_safe_text_never_parses_markup() -> None:
    text = safe_text("[bold red]alarm[/] [link=https://x]y[/link] \x1b[1m", "yellow")
    assert isinstance(text, Text)
    assert text.plain == "[bold red]alarm[/] [link=https://x]y[/link] \\x1b[1m"
    assert text.spans == []
    assert str(text.style) == "yellow"
    console = Console(record=True, width=200, color_system=None)
    console.print(text)
    assert "[bold red]alarm[/]" in console.export_text()


def test_assemble_escapes_every_piece() -> None:
    text = assemble("plain \x1b ", ("[b]styled\x07", "bold"), " end")
    assert text.plain == "plain \\x1b [b]styled\\x07 end"
    assert [(s.start, s.end, str(s.style)) for s in text.spans] == [(11, 24, "bold")]


def test_shorten() -> None:
    assert shorten("abcdef", 10) == "abcdef"
    assert shorten("abcdef", 4) == "abc…"
    assert shorten("abcdef", 0) == ""
