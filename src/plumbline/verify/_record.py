"""Where a verification window's verdict is kept: the audit trail (``engine.verify_app`` appends it)."""

from __future__ import annotations

from plumbline.store import AuditAction, AuditRecord, Store


def verification_record(store: Store, app: str, sha: str | None) -> AuditRecord | None:
    """The audit record of the last verification window of ``app`` at commit ``sha`` (its outcome,
    reason and time); None if that commit was never verified (or ``sha`` is None)."""
    if sha is None:
        return None
    for record in reversed(store.audit_log(app)):
        if record.action == AuditAction.VERIFY and record.revision == sha:
            return record
    return None
