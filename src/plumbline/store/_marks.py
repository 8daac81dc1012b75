"""The commits a rollback left (*failed*: never applied again by itself), read back from the audit
trail: each rollback's ``rollback`` records name the SHA it rolled back from. Read with
:meth:`Store.audit_log` — no table or method of their own, so every store backend carries them,
tamper-evident like the rest of the trail.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from plumbline.store._audit import AuditAction
from plumbline.store._base import Store

FAILED = "failed"  # the key of a rollback's audit summary naming the SHA it rolled back from


@dataclass(frozen=True)
class FailedRevision:
    """A commit a rollback left: never applied again automatically (``plumb sync`` refuses it too)."""

    sha: str
    at: datetime
    actor: str
    reason: str
    rolled_back_to: str

    def describe(self) -> str:
        return (
            f"{self.sha[:12]} was rolled back to {self.rolled_back_to[:12]} by {self.actor} at "
            f"{self.at:%Y-%m-%d %H:%M:%S} UTC ({self.reason})"
        )


def failed_revisions(store: Store, app: str) -> dict[str, FailedRevision]:
    """The app's failed SHAs (each a rollback left), with the first rollback that left each."""
    found: dict[str, FailedRevision] = {}
    for record in store.audit_log(app):
        sha = record.summary.get(FAILED) if record.action == AuditAction.ROLLBACK else None
        if isinstance(sha, str) and sha and sha not in found:
            to = str(record.summary.get("to") or "")
            found[sha] = FailedRevision(sha, record.time, record.actor, record.reason, to)
    return found
