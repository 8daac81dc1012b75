"""The history store as tests fill it: one sync record with every field set, each overridable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from plumbline.store import AuditAction, AuditOutcome, Store, SyncRecord, SyncResult

T0 = datetime(2025, 3, 7, 16, 45, 0, 123456, tzinfo=UTC)


def sync_record(app: str = "guestbook", *, at: datetime = T0, **changes: Any) -> SyncRecord:
    """A successful sync of ``app`` started ``at`` (four seconds long); ``changes`` set any field."""
    fields: dict[str, Any] = {
        "id": None,
        "app": app,
        "revision": "main",
        "sha": "3f2b72e0c4d5a1b2c3d4e5f60718293a4b5c6d7e",
        "started_at": at,
        "finished_at": at + timedelta(seconds=4),
        "actor": "alice@laptop",
        "result": SyncResult.SUCCEEDED,
        "summary": {"create": 2, "update": 1, "unchanged": 0, "prune": 0},
        "desired": [],
        "message": "synced 3 objects",
        "flags": {"prune": False, "force_conflicts": False, "revert_drift": False},
    }
    fields.update(changes)
    return SyncRecord(**fields)


def verdict(store: Store, app: str, sha: str, outcome: AuditOutcome) -> None:
    """What ``engine.verify_app`` appends when the window after a sync of ``app`` at ``sha`` ends."""
    store.audit(actor="ci", app=app, action=AuditAction.VERIFY, revision=sha, outcome=outcome)
