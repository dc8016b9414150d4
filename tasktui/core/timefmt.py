"""Times as an SRE reads them: relative ("12s ago", "in 3m") and absolute — in UTC by default, or
in the local time zone when the person asks for it (the console's `z`) — always naming the zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def duration(seconds: float) -> str:
    """A span as an SRE says it: '42s', '3m', '5h', '2d' (rounded; never negative)."""
    seconds = abs(seconds)
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 5400:
        return f"{seconds / 60:.0f}m"
    if seconds < 172800:
        return f"{seconds / 3600:.0f}h"
    return f"{seconds / 86400:.0f}d"


def elapsed(seconds: float) -> str:
    """How long something took: tenths under 10 s ('<0.1s', '0.4s', '9.5s'), else as
    `duration`. A run aborted at once took 0.4s, not "0s"."""
    seconds = abs(seconds)
    if seconds < 0.05:
        return "<0.1s"
    return f"{seconds:.1f}s" if seconds < 9.95 else duration(seconds)


def relative(moment: datetime | None, now: datetime) -> str:
    """'12s ago', '3m ago', '2h ago', '4d ago'; future times as 'in 12s'."""
    if moment is None:
        return ""
    seconds = (now - moment).total_seconds()
    return f"in {duration(seconds)}" if seconds < 0 else f"{duration(seconds)} ago"


def in_zone(moment: datetime, local: bool) -> datetime:
    """`moment` in UTC, or in the local zone (its offset at that moment: summer time or not)."""
    return moment.astimezone() if local else moment.astimezone(UTC)


def zone_name(local: bool) -> str:
    """'UTC', or the local zone's name now ('CET'; '+0530' for a zone without an abbreviation)."""
    return in_zone(utc_now(), local).strftime("%Z") if local else "UTC"


def absolute(moment: datetime | None, *, local: bool = False) -> str:
    """'2026-11-25 16:05:09 UTC', or '2026-11-25 17:05:09 CET' in local time: always labelled."""
    if moment is None:
        return ""
    return in_zone(moment, local).strftime("%Y-%m-%d %H:%M:%S %Z")


def utc_now() -> datetime:
    return datetime.now(UTC)


def exact_span(delta: timedelta) -> str:
    """A span as it would be typed: the largest unit it is a whole number of ('2d', '90m', '45s')."""
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
