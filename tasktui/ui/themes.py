"""The statuses' colours in every theme, and tasktui's own SSH-safe theme.

A status (queued, active, success, warning, error, unknown) is drawn in the CSS variable
`$status-<name>` everywhere: the table's rows, the header's counts, the legend and the task detail.
The App fills those variables from the theme in use (`status_variables`): the theme's own error,
warning, success and primary colours where they read well, each moved just enough to be readable
on the theme's backgrounds (a contrast of MIN_CONTRAST) and distinct from the others (MIN_DISTANCE
apart in CIELAB) — a theme whose primary is close to its success colour gets another hue for
running tasks. A theme that names ANSI colours is left to the terminal's palette, with one ANSI
colour per status. `tasktui-ansi` is such a theme: 16 colours only, safe over any SSH session
and terminal.

Without colour (NO_COLOR, TERM=dumb) a status still reads by its text and its symbol
(tasktui.core.status.SYMBOLS).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Protocol

from textual.color import Color, rgb_to_lab
from textual.theme import BUILTIN_THEMES, Theme

STATUS_STYLES = ("queued", "active", "success", "warning", "error", "unknown")
MIN_CONTRAST = 4.5  # WCAG's ratio for text: every status against every background it is drawn on
MIN_DISTANCE = 20.0  # CIE76 ΔE between any two statuses: told apart at a glance
_BACKGROUNDS = ("background", "surface", "panel")

ANSI_THEME = "tasktui-ansi"

# One ANSI colour per status, for themes that use the terminal's own palette (the CLI's too:
# tasktui.render.styles.CLI_THEME). Bright blue: plain blue is unreadable on many dark terminals.
ANSI_STATUS = {
    "queued": "ansi_bright_blue",
    "active": "ansi_cyan",
    "success": "ansi_green",
    "warning": "ansi_yellow",
    "error": "ansi_red",
    "unknown": "ansi_magenta",
}
# On a light terminal yellow is unreadable: warnings take the bright red ansi-light uses.
ANSI_LIGHT_STATUS = {**ANSI_STATUS, "queued": "ansi_blue", "warning": "ansi_bright_red"}

TASKTUI_ANSI = Theme(
    name=ANSI_THEME,
    ansi=True,
    primary="ansi_blue",
    secondary="ansi_cyan",
    warning="ansi_yellow",
    error="ansi_red",
    success="ansi_green",
    accent="ansi_cyan",
    foreground="ansi_default",
    background="ansi_default",
    surface="ansi_default",
    panel="ansi_default",
    boost="ansi_default",
    dark=True,
    variables={
        **{f"status-{name}": colour for name, colour in ANSI_STATUS.items()},
        "ansi-background": "ansi_black",
        "ansi-foreground": "ansi_white",
        "border-blurred": "ansi_black",
        "block-cursor-foreground": "ansi_black",
        "block-cursor-background": "ansi_white",
        "input-cursor-background": "ansi_black",
        "input-cursor-foreground": "ansi_bright_white",
        "input-cursor-text-style": "none",
        "input-selection-background": "ansi_bright_blue",
        "input-selection-foreground": "ansi_black",
        "screen-selection-background": "ansi_bright_blue",
        "screen-selection-foreground": "ansi_black",
    },
)

# Every theme the console accepts (--theme, $TASKTUI_THEME, console.theme).
THEMES: dict[str, Theme] = {**BUILTIN_THEMES, ANSI_THEME: TASKTUI_ANSI}


# -- colour arithmetic -----------------------------------------------------------------------


def _luminance(color: Color) -> float:
    def channel(value: int) -> float:
        value_01 = value / 255
        return value_01 / 12.92 if value_01 <= 0.03928 else ((value_01 + 0.055) / 1.055) ** 2.4

    red, green, blue = color.rgb
    return 0.2126 * channel(red) + 0.7152 * channel(green) + 0.0722 * channel(blue)


def contrast(one: Color, other: Color) -> float:
    """WCAG's contrast ratio (1 to 21)."""
    high, low = sorted((_luminance(one), _luminance(other)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def distance(one: Color, other: Color) -> float:
    """CIE76 ΔE: how far apart two colours look (about 2 is just noticeable)."""
    return math.dist(rgb_to_lab(one), rgb_to_lab(other))


def _resolve(value: str, background: Color) -> Color:
    """A theme variable's colour as drawn on `background` ("auto 60%": text that contrasts)."""
    auto = re.fullmatch(r"auto\s+(\d+(?:\.\d+)?)%", value.strip())
    if auto:
        return background + background.get_contrast_text(float(auto.group(1)) / 100)
    color = Color.parse(value)
    return background + color if color.a < 1 else color


def _readable(color: Color, backgrounds: list[Color], dark: bool) -> Color:
    """`color`, lightened on a dark theme (darkened on a light one) until it reads on every
    background; its hue kept."""
    hue, saturation, lightness = color.hsl
    step = 0.02 if dark else -0.02
    candidate = color
    while min(contrast(candidate, bg) for bg in backgrounds) < MIN_CONTRAST and 0.0 <= lightness <= 1.0:
        lightness += step
        candidate = Color.from_hsl(hue, saturation, min(1.0, max(0.0, lightness)))
    return candidate


def _rotated(color: Color, turns: float, saturation: float) -> Color:
    hue, own_saturation, lightness = color.hsl
    return Color.from_hsl((hue + turns) % 1.0, max(own_saturation, saturation), lightness)


# -- the statuses' colours -------------------------------------------------------------------

# Which of the theme's colours each status starts from, in the order they are settled (the
# earlier ones keep the theme's colour when two are too close): the alarming ones first.
_SOURCES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("error", ("error",)),
    ("success", ("success",)),
    ("warning", ("warning",)),
    ("active", ("primary", "secondary", "accent")),
    ("queued", ("text-muted", "foreground")),
    ("unknown", ("accent", "secondary", "primary")),
)


def status_colors(variables: Mapping[str, str], dark: bool) -> dict[str, Color]:
    """Each status's colour for a theme's CSS variables (Textual's ColorSystem.generate())."""
    backgrounds = [Color.parse(variables[name]) for name in _BACKGROUNDS if name in variables]
    base = backgrounds[0]
    chosen: dict[str, Color] = {}
    for status, sources in _SOURCES:
        theme_colours = [_readable(_resolve(variables[s], base), backgrounds, dark) for s in sources if s in variables]
        if status == "queued":
            # Grey has no other hue: other greys instead, the nearest to the theme's muted text first.
            muted = theme_colours[0].hsl.l
            greys = [Color.from_hsl(0, 0, step / 40) for step in range(41)]
            readable = [g for g in greys if min(contrast(g, bg) for bg in backgrounds) >= MIN_CONTRAST]
            others = sorted(readable, key=lambda grey: abs(grey.hsl.l - muted))
        else:
            # Other hues of the first, when none of the theme's own colours stands apart; then
            # fully saturated ones (pastel themes' colours, made readable, end up close together).
            others = [
                _readable(_rotated(theme_colours[0], turn / 12, saturation), backgrounds, dark)
                for saturation in (0.5, 1.0)
                for turn in range(1, 12)
            ]
        candidates = theme_colours + others

        def apart(color: Color) -> float:
            return min((distance(color, other) for other in chosen.values()), default=math.inf)

        chosen[status] = next((c for c in candidates if apart(c) >= MIN_DISTANCE), max(candidates, key=apart))
    return chosen


def status_variables(theme: Theme, variables: Mapping[str, str]) -> dict[str, str]:
    """The `$status-<name>` CSS variables for a theme: its own where it sets them (tasktui-ansi),
    else one ANSI colour each for a theme on the terminal's palette, else derived from its
    colours (status_colors)."""
    if all(f"status-{name}" in theme.variables for name in STATUS_STYLES):
        return {f"status-{name}": theme.variables[f"status-{name}"] for name in STATUS_STYLES}
    if theme.ansi:
        palette = ANSI_STATUS if theme.dark else ANSI_LIGHT_STATUS
        return {f"status-{name}": colour for name, colour in palette.items()}
    return {f"status-{name}": color.hex for name, color in status_colors(variables, theme.dark).items()}


class _Themed(Protocol):
    @property
    def current_theme(self) -> Theme: ...


class StatusColours:
    """Mixed into an App (before App): `$status-<name>` for the theme in use, as defaults that a
    theme's own variables override (tasktui-ansi sets them)."""

    def get_theme_variable_defaults(self: _Themed) -> dict[str, str]:
        theme = self.current_theme
        return status_variables(theme, theme.to_color_system().generate())
