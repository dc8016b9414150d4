"""The console's colours for styled output (tasktui.render): each semantic style name mapped to
its Textual theme's variables, never to a colour.

A widget that shows rendered `Text` declares component classes for the names (`semantic_classes`,
`semantic_css`) and restyles the text's spans with them (`semantic_styles`, `themed`): a theme
switch recolours statuses, log levels and tracebacks like the rest of the screen.
"""

from __future__ import annotations

from collections.abc import Mapping

from rich.style import Style
from rich.text import Span, Text
from textual.widget import Widget

from tasktui.render import styles

# semantic style name -> its declarations (theme variables only)
RULES: dict[str, str] = {
    styles.MUTED: "color: $text-muted;",
    styles.LABEL: "text-style: bold;",
    styles.ACCENT: "color: $text-accent;",
    styles.ID: "color: $text-accent; text-style: bold;",
    styles.GOOD: "color: $text-success;",
    styles.WARN: "color: $text-warning;",
    styles.BAD: "color: $text-error; text-style: bold;",
    styles.FAILURE: "color: $text-error;",
    styles.EMPHASIS: "text-style: bold;",
    # The statuses' colours are derived from the theme for every theme (tasktui.ui.themes).
    styles.status("error"): "color: $status-error; text-style: bold;",
    styles.status("warning"): "color: $status-warning;",
    styles.status("active"): "color: $status-active;",
    styles.status("queued"): "color: $status-queued;",
    styles.status("success"): "color: $status-success;",
    styles.status("unknown"): "color: $status-unknown;",  # a state tasktui does not know: set apart
    "level.debug": "color: $text-muted;",
    "level.warning": "color: $text-warning;",
    "level.error": "color: $text-error; text-style: bold;",
    styles.liveness("alive"): "color: $text-success; text-style: bold;",
    styles.liveness("stale"): "color: $text-warning; text-style: bold;",
    styles.liveness("dead"): "color: $text-error; text-style: bold;",
    styles.severity("error"): "color: $text-error; text-style: bold;",
    styles.severity("warning"): "color: $text-warning;",
}


def class_name(prefix: str, name: str) -> str:
    """The component class of semantic style `name` in a widget (`log-view--status-error`)."""
    return f"{prefix}--{name.replace('.', '-')}"


def semantic_classes(prefix: str) -> set[str]:
    """The component classes a widget declares to show rendered text."""
    return {class_name(prefix, name) for name in RULES}


def semantic_css(selector: str, prefix: str) -> str:
    """DEFAULT_CSS rules for those component classes."""
    return "\n".join(f"{selector} > .{class_name(prefix, name)} {{ {rule} }}" for name, rule in RULES.items())


def semantic_styles(widget: Widget, prefix: str) -> dict[str, Style]:
    """Semantic style name -> the widget's current style for it: the foreground (translucent
    theme colours like $text-muted blended over the widget's background) and text style, but no
    background, so that a span keeps whatever row or cursor it sits on."""
    result = {}
    for name in RULES:
        full = widget.get_component_rich_style(class_name(prefix, name))
        result[name] = Style(color=full.color, bold=full.bold, italic=full.italic, underline=full.underline)
    return result


def themed(text: Text, by_name: Mapping[str, Style]) -> Text:
    """A copy of `text` with every span whose style is a semantic name restyled. The characters
    are untouched (they were escaped when the text was built)."""
    spans = [
        Span(span.start, span.end, by_name.get(span.style, span.style) if isinstance(span.style, str) else span.style)
        for span in text.spans
    ]
    base = by_name.get(text.style, text.style) if isinstance(text.style, str) else text.style
    return Text(text.plain, style=base, spans=spans, end=text.end, no_wrap=text.no_wrap, overflow=text.overflow)
