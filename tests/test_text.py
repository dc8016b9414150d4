"""Untrusted text is shown literally: escapes visible, markup never parsed."""

from __future__ import annotations

import json

from rich.cells import cell_len
from rich.console import Console
from rich.text import Text

from tasktui.core.text import ascii_json, cut, escape_control, fit_cells, lines_of
from tasktui.render.text import assemble, safe_text


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


def test_newlines_are_escaped_on_one_line_and_kept_on_several_where_tabs_become_spaces() -> None:
    raw = "one\r\ntwo\tthree\rfour\x1b[2K"
    assert escape_control(raw) == "one\\r\\ntwo\\tthree\\rfour\\x1b[2K"
    # A bare carriage return would overwrite the line: it stays escaped in multi-line mode too;
    # a tab is no byte a terminal should get either (it jumps to a tab stop of its choosing).
    assert escape_control(raw, multiline=True) == "one\ntwo     three\\rfour\\x1b[2K"


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


def test_cut_says_how_much_it_left_out() -> None:
    assert cut("abcdef", 10) == "abcdef"
    assert cut("abcdef", 4) == "abcd… 2 more characters"
    assert cut("a" * 100_001 + "\x1b", 3) == "aaa… 99,999 more characters"
    assert cut("\x1b[2J", 10) == "\\x1b[2J"


def test_escaping_is_idempotent() -> None:
    raw = "\x1b]0;title\x07 \u202e \u2028 \x9b"
    once = escape_control(raw)
    assert escape_control(once) == once and escape_control(once, multiline=True) == once


def test_lines_are_split_at_newlines_only() -> None:
    # U+2028/2029, NEL, VT and FF are line breaks to str.splitlines(): here they stay in the line.
    assert lines_of("a\u2028b\u2029c\x85d\x0be\x0cf\r\ng\n") == ["a\u2028b\u2029c\x85d\x0be\x0cf", "g"]
    assert lines_of("") == [] and lines_of("x") == ["x"]


def test_fit_cells_measures_terminal_cells_not_characters() -> None:
    for text in ("日本語のテキスト", "👨\u200d👩\u200d👧 family", "e\u0301" * 30, "x" * 100, "\x1b[31mred"):
        for width in (1, 2, 3, 9, 10, 40):
            for keep_end in (False, True):
                fitted = fit_cells(text, width, keep_end=keep_end)
                assert cell_len(fitted) == width, (text, width, keep_end, fitted)
                assert "\x1b" not in fitted
    assert fit_cells("日本語のテキスト", 9) == "日本語の…"
    assert fit_cells("日本語のテキスト", 9, keep_end=True) == "…テキスト"
    assert fit_cells("ab", 4, right=True) == "  ab"
    # A huge value costs what a short one costs: only the part that can show is looked at.
    assert fit_cells("a" * 5_000_000, 12) == "a" * 11 + "…"


def test_ascii_json_escapes_what_json_leaves_raw() -> None:
    value = {"queue": "q\u009b31m\u202eevil\x1b]0;t\x07\x7f\u2028é日"}
    line = ascii_json(json.dumps(value, ensure_ascii=False))
    assert all(" " <= char <= "~" for char in line), line
    assert json.loads(line) == value
    assert json.loads(ascii_json("not json \x1b")) == "not json \x1b"
