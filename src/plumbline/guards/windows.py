"""Sync windows: per environment, cron-style allow and deny windows in a time zone.

"No prod syncs Friday 16:00 to Monday 08:00": ``{kind: deny, schedule: "0 16 * * 5", duration: 64h,
timeZone: Europe/Berlin}``. Inside a deny window (or outside every allow window, when there are any)
a sync blocks; a person may still sync manually by overriding with a reason, which is recorded.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter  # type: ignore[import-untyped]

from plumbline.config import GuardName, SyncWindow
from plumbline.guards._model import Finding, GuardContext, finding
from plumbline.plan import Plan

NAME = GuardName.WINDOWS
NEEDS_CLUSTER = False

_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def duration(window: SyncWindow) -> timedelta:
    return timedelta(**{_UNITS[window.duration[-1]]: int(window.duration[:-1])})


def open_since(window: SyncWindow, at: datetime) -> datetime | None:
    """When the window's current opening started, if it is open at ``at`` (aware), else None."""
    local = at.astimezone(ZoneInfo(window.time_zone))
    start: datetime = croniter(window.schedule, local + timedelta(seconds=1)).get_prev(datetime)
    return start if local < start + duration(window) else None


def _describe(window: SyncWindow) -> str:
    return f"{window.kind} {window.schedule!r} for {window.duration} ({window.time_zone})"


def check(*, plan: Plan, context: GuardContext) -> list[Finding]:
    windows = context.environment.spec.sync_windows
    if not windows:
        return []
    at = context.clock()
    env = context.environment.name
    message = ""
    for window in windows:
        if window.kind == "deny" and (since := open_since(window, at)) is not None:
            until = (since + duration(window)).isoformat(timespec="minutes")
            message = f"environment {env!r} is in a deny window ({_describe(window)}) until {until}"
            wait = "the controller waits for the window to close"
            break
    allows = [w for w in windows if w.kind == "allow"]
    if not message and allows and not any(open_since(w, at) is not None for w in allows):
        listed = "; ".join(_describe(w) for w in allows)
        message = f"environment {env!r} takes syncs only inside its allow windows ({listed}); none is open"
        wait = "the controller waits for an allow window"
    if not message:
        return []
    # A person may sync anyway, with a recorded reason; the controller waits.
    fix = "sync outside the window, or sync manually with a recorded reason" if context.manual else wait
    return [finding(NAME, context.app_subject, message, fix, overridable=context.manual)]
