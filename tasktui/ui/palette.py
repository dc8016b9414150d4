"""The theme's colours for text built by tasktui.core.presentation.

The core builds Rich `Text` with a few plain style names ("dim", "yellow", "bold red", …) so that
the CLI can print it as is. In the console those names are replaced, span by span, with the
styles of a widget's component classes, which take their colours from the Textual theme
($text-error, $text-warning, …): a theme switch recolours log levels and statuses like the rest.
"""

from __future__ import annotations

from collections.abc import Mapping

from rich.style import Style
from rich.text import Span, Text
from textual.widget import Widget

# presentation style name -> component class suffix
PRESENTATION_STYLES: dict[str, str] = {
    "dim": "muted",
    "yellow": "warning",
    "bold red": "error",
    "red": "traceback",
    "cyan": "accent",
    "green": "success",
    "blue": "queued",
    "magenta": "unknown",
}

# component class suffix -> its declarations (theme variables only)
_DECLARATIONS: dict[str, str] = {
    "muted": "color: $text-muted;",
    "warning": "color: $text-warning;",
    "error": "color: $text-error; text-style: bold;",
    "traceback": "color: $text-error;",
    "accent": "color: $text-accent;",
    "success": "color: $text-success;",
    "queued": "color: $text-primary;",
    "unknown": "color: $text-disabled;",  # as the table draws a status it does not know
}


def palette_classes(prefix: str) -> set[str]:
    """The component classes a widget declares to use the palette (`prefix--muted`, …)."""
    return {f"{prefix}--{name}" for name in _DECLARATIONS}


def palette_css(selector: str, prefix: str) -> str:
    """DEFAULT_CSS rules for those component classes."""
    return "\n".join(f"{selector} > .{prefix}--{name} {{ {rule} }}" for name, rule in _DECLARATIONS.items())


def palette_styles(widget: Widget, prefix: str) -> dict[str, Style]:
    """presentation style name -> the widget's current style for it: the foreground (translucent
    theme colours like $text-muted blended over the widget's background) and text style, but no
    background, so that a span keeps whatever row or cursor it sits on."""
    styles = {}
    for name, suffix in PRESENTATION_STYLES.items():
        full = widget.get_component_rich_style(f"{prefix}--{suffix}")
        styles[name] = Style(color=full.color, bold=full.bold, italic=full.italic, underline=full.underline)
    return styles


def themed(text: Text, styles: Mapping[str, Style]) -> Text:
    """A copy of `text` with every span whose style is a presentation name restyled. The
    characters are untouched (they were escaped by the core already)."""
    spans = [
        Span(span.start, span.end, styles.get(span.style, span.style) if isinstance(span.style, str) else span.style)
        for span in text.spans
    ]
    base = styles.get(text.style, text.style) if isinstance(text.style, str) else text.style
    return Text(text.plain, style=base, spans=spans, end=text.end, no_wrap=text.no_wrap, overflow=text.overflow)
