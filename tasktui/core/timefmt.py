"""Times as an SRE reads them: relative ("12s ago", "in 3m") and absolute in UTC, said so."""

from __future__ import annotations

from datetime import UTC, datetime


def relative(moment: datetime | None, now: datetime) -> str:
    """'12s ago', '3m ago', '2h ago', '4d ago'; future times as 'in 12s'."""
    if moment is None:
        return ""
    seconds = (now - moment).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    if seconds < 60:
        amount = f"{int(seconds)}s"
    elif seconds < 3600:
        amount = f"{int(seconds // 60)}m"
    elif seconds < 86400:
        amount = f"{int(seconds // 3600)}h"
    else:
        amount = f"{int(seconds // 86400)}d"
    return f"in {amount}" if future else f"{amount} ago"


def absolute_utc(moment: datetime | None) -> str:
    """'2026-11-25 16:05:09 UTC' (always converted to UTC, always labelled)."""
    if moment is None:
        return ""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def utc_now() -> datetime:
    return datetime.now(UTC)
