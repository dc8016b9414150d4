"""Report dataclasses as JSON: one conversion for every incident view's `--json` and `to_json()`.

Times are ISO 8601 in UTC, durations seconds (3 decimals), enums their value, tuples lists.
A field declared with `field(metadata=INTERNAL)` stays out (id lists that only feed an action).
"""

from __future__ import annotations

import dataclasses
import enum
from datetime import UTC, datetime, timedelta
from typing import Any

INTERNAL = {"json": False}


def jsonable(value: Any) -> Any:
    """`value` as plain JSON types (see the module docstring)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            item.name: jsonable(getattr(value, item.name))
            for item in dataclasses.fields(value)
            if item.metadata.get("json", True)
        }
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, timedelta):
        return round(value.total_seconds(), 3)
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value) if isinstance(value, set | frozenset) else value
        return [jsonable(item) for item in items]
    if isinstance(value, float):
        return round(value, 3)
    return value


class JsonReport:
    """Mixin for report dataclasses: `to_json()` is `jsonable(self)`."""

    def to_json(self) -> dict[str, Any]:
        value = jsonable(self)
        assert isinstance(value, dict)
        return value
