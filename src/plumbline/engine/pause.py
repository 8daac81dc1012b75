"""Break-glass: pause an app (reason and expiry required), resume it, and never revert silently;
and the hold a rollback leaves an app in.

States (:class:`AppStateKind`): ``active`` → ``paused`` (no writes; drift still observed) → on resume
or expiry either ``active`` (no drift appeared) or ``paused-pending`` (drift appeared: it stays
there until the drift is captured into Git — the next plan then shows none — or someone resumes
with ``--revert``). A rollback (:mod:`plumbline.engine._rollback`) leaves the app ``held`` at the good
revision until a sync of another commit succeeds (``active``). Every transition is an audit record.

The SHAs a rollback left are *failed*: each rollback's audit record names the one it rolled back from
(summary ``failed``), so the mark outlives any later state change (a pause over a hold, say);
:func:`plumbline.store.failed_revisions` reads them back.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from plumbline.errors import PlumbError
from plumbline.store import FAILED, AppState, AppStateKind, AuditAction, AuditOutcome, Store, now

_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_PAUSE = timedelta(days=30)


class PauseError(PlumbError):
    """A pause or resume that cannot be done as asked (bad duration, not paused, ...)."""


def parse_duration(text: str) -> timedelta:
    """``30m``, ``2h``, ``1d``, ``90s`` → timedelta. At most 30 days: a pause is not a way of life."""
    match = _DURATION.match(text.strip())
    if not match or int(match.group(1)) == 0:
        raise PauseError(f"duration {text!r}: expected a positive number and a unit s, m, h or d (30m, 2h)")
    value = timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])
    if value > MAX_PAUSE:
        raise PauseError(f"duration {text!r} is longer than {MAX_PAUSE.days} days")
    return value


def pause(store: Store, app: str, *, reason: str, duration: timedelta, actor: str) -> AppState:
    if not reason.strip():
        raise PauseError("a pause needs a reason (--reason): say why, for whoever reads the audit later")
    current = store.app_state(app)
    moment = now()
    state = replace(
        current,
        state=AppStateKind.PAUSED,
        reason=reason,
        actor=actor,
        since=moment,
        until=moment + duration,
        detail={"previous": current.state.value},
    )
    until = state.until.isoformat() if state.until else None
    return _move(store, state, action=AuditAction.PAUSE, reason=reason, summary={"until": until})


def end_pause(
    store: Store,
    app: str,
    *,
    drift: list[str],
    actor: str,
    action: AuditAction,
    reason: str = "",
    revision: str = "",
) -> AppState:
    """Leave ``paused`` (by ``resume`` or ``expire``): pending if ``drift`` is not empty, else active."""
    current = store.app_state(app)
    state = replace(
        current,
        state=AppStateKind.PAUSED_PENDING if drift else AppStateKind.ACTIVE,
        actor=actor,
        since=now(),
        until=None,
        detail={"drift": drift, "paused_reason": current.reason} if drift else {},
    )
    summary = {"drift": drift, "from": current.state.value}
    return _move(
        store, state, action=action, reason=reason or current.reason, revision=revision, summary=summary
    )


def activate(store: Store, app: str, *, actor: str, reason: str, revision: str = "") -> AppState:
    """Back to ``active`` (drift captured, or deliberately reverted), recorded."""
    current = store.app_state(app)
    state = replace(current, state=AppStateKind.ACTIVE, actor=actor, since=now(), until=None, detail={})
    summary = {"from": current.state.value}
    return _move(store, state, action=AuditAction.RESUME, reason=reason, revision=revision, summary=summary)


def _move(
    store: Store,
    state: AppState,
    *,
    action: AuditAction,
    reason: str,
    summary: dict[str, Any],
    revision: str = "",
) -> AppState:
    """Store the app's new ``state`` and audit the move; its outcome is the state's own word."""
    store.set_app_state(state)
    store.audit(
        actor=state.actor,
        app=state.app,
        action=action,
        revision=revision,
        reason=reason,
        summary=summary,
        outcome=AuditOutcome(state.state.value),
    )
    return state


def hold(
    store: Store, app: str, *, revision: str, failed: str, sync: int | None, actor: str, reason: str
) -> AppState:
    """``held`` at ``revision`` (the rollback's sync ``sync`` applied it), rolled back from ``failed``."""
    current = store.app_state(app)
    detail = {"revision": revision, FAILED: failed, "sync": sync, "previous": current.state.value}
    state = replace(current, state=AppStateKind.HELD, reason=reason, actor=actor, since=now(), until=None)
    state = replace(state, detail=detail)
    summary = {FAILED: failed, "to": revision, "sync": sync}
    return _move(store, state, action=AuditAction.ROLLBACK, reason=reason, revision=revision, summary=summary)


def release(store: Store, app: str, *, actor: str, revision: str) -> AppState | None:
    """A sync of ``revision`` succeeded: a hold at another revision ends (``active``), recorded; the
    new state, or None if the app was not held (or is held at ``revision`` itself)."""
    current = store.app_state(app)
    if current.state is not AppStateKind.HELD or current.detail.get("revision") == revision:
        return None
    held = str(current.detail.get("revision", ""))
    reason = f"a new commit ({revision[:12]}) was synced after the hold at {held[:12]}"
    state = replace(current, state=AppStateKind.ACTIVE, actor=actor, since=now(), until=None, detail={})
    summary = {"from": current.state.value, "held": current.detail}
    return _move(store, state, action=AuditAction.RESUME, reason=reason, revision=revision, summary=summary)


def expired(state: AppState, at: datetime | None = None) -> bool:
    return state.state is AppStateKind.PAUSED and state.until is not None and (at or now()) >= state.until


def write_refusal(store: Store, app: str) -> str | None:
    """Why no one may write to ``app`` now (paused or paused-pending), or None. For ``plumb sync``:
    a manual sync of a paused app needs an explicit ``plumb resume`` first."""
    state = store.app_state(app)
    if state.state is AppStateKind.PAUSED and not expired(state):
        return f"{app} is paused until {state.until:%Y-%m-%d %H:%M} UTC by {state.actor}: {state.reason}"
    if state.state is AppStateKind.PAUSED_PENDING:
        return (
            f"{app} is paused-pending: drift made during the pause waits to be captured (`plumb capture`) "
            f"or reverted (`plumb resume {app} --revert`)"
        )
    return None
