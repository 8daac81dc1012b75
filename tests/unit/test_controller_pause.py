"""Break-glass state transitions on a real store, and the duration syntax."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from plumbline.engine.pause import PauseError, activate, end_pause, expired, parse_duration, pause
from plumbline.store import AppStateKind, AuditAction, Store, now


@pytest.mark.parametrize(
    ("text", "seconds"), [("30m", 1800), ("2h", 7200), ("1d", 86400), ("90s", 90), (" 5m ", 300)]
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "0m", "soon", "5", "2w", "-1h", "31d", "1.5h"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(PauseError):
        parse_duration(text)


def test_pause_needs_a_reason(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db") as store, pytest.raises(PauseError, match="reason"):
        pause(store, "shop", reason="  ", duration=timedelta(minutes=5), actor="a")


def test_pause_then_drift_goes_pending_then_active(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db") as store:
        state = pause(store, "shop", reason="incident", duration=timedelta(minutes=5), actor="alice")
        assert state.state is AppStateKind.PAUSED and not expired(state)
        assert expired(state, at=now() + timedelta(minutes=6))
        pending = end_pause(
            store,
            "shop",
            drift=["ConfigMap shop/env /data/X (drift-revert)"],
            actor="ctl",
            action=AuditAction.EXPIRE,
        )
        assert pending.state is AppStateKind.PAUSED_PENDING and pending.until is None
        assert store.app_state("shop").detail["drift"] == ["ConfigMap shop/env /data/X (drift-revert)"]
        activate(store, "shop", actor="bob", reason="captured")
        assert store.app_state("shop").state is AppStateKind.ACTIVE
        trail = [(r.action, r.outcome, r.actor) for r in store.audit_log("shop")]
        assert trail == [
            ("pause", "paused", "alice"),
            ("expire", "paused-pending", "ctl"),
            ("resume", "active", "bob"),
        ]
        assert store.verify_audit() == (3, None)


def test_resume_without_drift_is_active(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db") as store:
        pause(store, "shop", reason="deploy freeze", duration=timedelta(hours=1), actor="alice")
        state = end_pause(store, "shop", drift=[], actor="alice", action=AuditAction.RESUME)
        assert state.state is AppStateKind.ACTIVE
