"""argparse types shared by tasktui's commands and the demo's workload."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

Number = TypeVar("Number", int, float)


def positive(kind: Callable[[str], Number]) -> Callable[[str], Number]:
    """An argparse type: a number of `kind` greater than 0 (shared with `tasktui demo`)."""

    def parse(text: str) -> Number:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be greater than 0: {text!r}")
        return value

    return parse


_SPAN = re.compile(r"(\d+)\s*(s|m|h|d)")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def time_span(maximum: timedelta) -> Callable[[str], timedelta]:
    """An argparse type: a span such as 90s, 15m, 1h or 2d, more than 0 and at most `maximum`."""

    def parse(text: str) -> timedelta:
        match = _SPAN.fullmatch(text.strip().lower())
        if match is None:
            raise argparse.ArgumentTypeError(f"expected a time span such as 15m, 1h or 2d, got {text!r}")
        value = timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
        if not timedelta(0) < value <= maximum:
            raise argparse.ArgumentTypeError(f"expected a span more than 0 and at most {maximum}, got {text!r}")
        return value

    return parse


def bounded_int(low: int, high: int, what: str) -> Callable[[str], int]:
    """An argparse type: a whole number from `low` to `high`."""

    def parse(text: str) -> int:
        if not text.strip().isdigit() or not low <= int(text) <= high:
            raise argparse.ArgumentTypeError(f"expected {what} from {low} to {high}, got {text!r}")
        return int(text)

    return parse


def retries_per_second(text: str) -> float:
    """An argparse type: a bulk retry's rate, 0 or more (0: as fast as the database allows)."""
    try:
        number = float(text)
    except ValueError:
        number = -1.0
    if not number >= 0 or number == float("inf"):
        raise argparse.ArgumentTypeError(f"expected retries per second (0 or more), got {text!r}")
    return number
