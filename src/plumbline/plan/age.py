"""How long ago, in the words a person reads at a glance ("183 days ago", "3 hours ago")."""

from __future__ import annotations

from datetime import UTC, datetime


def age_in_words(moment: datetime | None, *, now: datetime | None = None) -> str:
    """``moment`` relative to ``now`` (default: the current time): "just now", "5 minutes ago",
    "3 hours ago", "183 days ago", "2 years ago"; "unknown time" for None (the entry had no time)."""
    if moment is None:
        return "unknown time"
    current = now or datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    seconds = int((current - moment).total_seconds())
    if seconds < 0:
        return "in the future"
    if seconds < 60:
        return "just now"
    for unit, size in (("year", 365 * 86400), ("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and (unit != "year" or seconds >= 2 * size):
            n = seconds // size
            return f"{n} {unit}{'' if n == 1 else 's'} ago"
    return "just now"  # unreachable: minutes cover the rest
