"""structlog's exception values as Python-style traceback lines (the console's detail and
`tasktui show` draw them under an error line). All text here is untrusted."""

from __future__ import annotations

import json
from typing import Any

from tasktui.core.text import lines_of

_CAUSE = "The above exception was the direct cause of the following exception:"
_CONTEXT = "During handling of the above exception, another exception occurred:"
MAX_FRAMES_SHOWN = 60


def format_exception(value: Any) -> list[str]:
    """Lines like Python's traceback for structlog's ExceptionDictTransformer output: a list of
    stacks, raised exception first, each followed by its __cause__ (is_cause) or __context__;
    printed in Python's order (root cause first). Strings (format_exc_info) pass through."""
    if value is None:
        return []
    if isinstance(value, str):
        return lines_of(value)
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        return [json.dumps(value, default=str)]
    stacks = [s for s in value if isinstance(s, dict)]
    lines: list[str] = []
    for index in range(len(stacks) - 1, -1, -1):
        stack = stacks[index]
        lines.extend(_format_stack(stack))
        if index > 0:
            lines += ["", _CAUSE if stack.get("is_cause") else _CONTEXT, ""]
    return lines


def _format_stack(stack: dict[str, Any]) -> list[str]:
    lines = []
    frames = stack.get("frames")
    if isinstance(frames, list) and frames:
        lines.append("Traceback (most recent call last):")
        shown = frames if len(frames) <= MAX_FRAMES_SHOWN else [*frames[:20], None, *frames[20 - MAX_FRAMES_SHOWN :]]
        for frame in shown:
            if frame is None:
                lines.append(f"  ... {len(frames) - MAX_FRAMES_SHOWN} more frames ...")
                continue
            lines.extend(_format_frame(frame))
    syntax = stack.get("syntax_error")
    if isinstance(syntax, dict):
        lines.append(f'  File "{syntax.get("filename", "?")}", line {syntax.get("lineno", "?")}')
        if syntax.get("line"):
            lines.append(f"    {str(syntax['line']).strip()}")
    exc_type = str(stack.get("exc_type") or "Exception")
    exc_value = stack.get("exc_value")
    value_lines = lines_of(str(exc_value)) if exc_value not in (None, "") else []
    lines.append(f"{exc_type}: {value_lines[0]}" if value_lines else exc_type)
    lines.extend(value_lines[1:])
    for note in stack.get("exc_notes") or []:
        lines.append(str(note))
    for index, sub in enumerate(stack.get("exceptions") or [], 1):  # ExceptionGroup members
        lines.append(f"  +---------------- {index} ----------------")
        lines.extend("  | " + line for line in format_exception(sub))
    return lines


def _format_frame(frame: Any) -> list[str]:
    if not isinstance(frame, dict):
        return [f"  {frame}"]
    filename, lineno, name = frame.get("filename"), frame.get("lineno"), frame.get("name")
    if not filename and name:  # structlog's marker for frames it left out
        return [f"  ... {name} ..."]
    lines = [f'  File "{filename or "?"}", line {lineno if lineno is not None else "?"}, in {name or "?"}']
    if frame.get("line"):
        lines.append(f"    {str(frame['line']).strip()}")
    local_vars = frame.get("locals")
    if isinstance(local_vars, dict) and local_vars:
        for key, val in list(local_vars.items())[:20]:
            lines.append(f"      {key} = {val}")
    return lines
