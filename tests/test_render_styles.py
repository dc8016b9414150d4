"""Styled output says what a span is, never its colour: every semantic style name has a colour in
the CLI's theme and theme variables in the console, and no module of the core, the render
package or the console names a colour."""

from __future__ import annotations

import re
from pathlib import Path

from tasktui.render import styles
from tasktui.ui.styles import RULES

PACKAGE = Path(__file__).resolve().parent.parent / "tasktui"
# Rich's colour names as a style string would spell them ("red", "bold red", "dim", "bright_cyan"…).
COLOUR = re.compile(
    r"""["'](?:(?:bold|dim|italic|reverse) )*(?:bright_)?(?:red|green|yellow|blue|magenta|cyan|white|black|dim)["']"""
)


def test_every_semantic_name_has_a_cli_colour_and_a_console_rule() -> None:
    assert set(RULES) == set(styles.NAMES)
    for rule in RULES.values():
        # Theme variables only: a theme switch recolours everything.
        assert "#" not in rule and re.findall(r"color: (\S+);", rule) == [
            c for c in re.findall(r"color: (\S+);", rule) if c.startswith("$")
        ], rule


def test_no_colour_names_outside_the_cli_theme() -> None:
    offenders = []
    for folder in ("core", "render", "ui"):
        for path in sorted((PACKAGE / folder).rglob("*.py")):
            if path == PACKAGE / "render" / "styles.py":
                continue  # the CLI's theme: the one place colours are named
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if COLOUR.search(line):
                    offenders.append(f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}")
    assert offenders == []
