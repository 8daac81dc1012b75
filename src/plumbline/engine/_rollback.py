"""Rollback of a whole revision (seed 04: the image rollback did not help, the regression was config).

:func:`rollback_app` applies the full desired state of a good revision — every object as its
successful sync recorded it in history, config and image together — through the one write path
(:func:`sync_app` with ``recorded=``: pause refusal, guards, intent, Lease, outcome). The commit it
rolls back from is recorded as *failed* first (an audit ``rollback`` record naming it), so neither the
controller nor ``plumb sync`` applies it again; once the good revision is applied the app is *held*
there (:func:`plumbline.engine.pause.hold`) until a sync of another commit succeeds. Git stays the
truth: the hold is visible everywhere, and a revert commit can be written to a branch for review
(:func:`plumbline.capture.commit_revert`).

Which revision is good: ``--to-history N`` (that sync), ``--to REV`` (the newest successful sync of
that SHA — a prefix of at least 7 hex digits — or revision name), else the newest successful sync of
another commit than the one applied now that no rollback left and, where verification ran for the
app, whose verification passed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from plumbline.cluster import Cluster
from plumbline.config import App, Config
from plumbline.engine._pipeline import Progress, _quiet
from plumbline.engine._write import Writer, sync_app
from plumbline.engine.pause import hold
from plumbline.errors import PlumbError
from plumbline.plan import Plan
from plumbline.plan.attribution import Attribution
from plumbline.store import (
    FAILED,
    AuditAction,
    AuditOutcome,
    Store,
    SyncRecord,
    SyncResult,
    failed_revisions,
)
from plumbline.sync import SyncReport
from plumbline.verify import verification_record

_HEX = re.compile(r"^[0-9a-f]{7,40}$")


class RollbackError(PlumbError):
    """No revision to roll back to, or one that cannot be (named, with why)."""


@dataclass(frozen=True)
class Rollback:
    """What a rollback did (or, dry, would do): from which sync to which, the plan, the outcome."""

    target: SyncRecord  # the good revision's sync, whose desired objects were applied
    current: SyncRecord  # the sync rolled back from (its SHA is failed from now on)
    plan: Plan
    report: SyncReport | None
    record: SyncRecord  # the rollback's own history record
    changes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "to": {"sync": self.target.id, "revision": self.target.revision, "sha": self.target.sha},
            "from": {"sync": self.current.id, "revision": self.current.revision, "sha": self.current.sha},
            "changes": self.changes,
        }


def changed_fields(plan: Plan) -> list[str]:
    """Every object and field the plan changes, as people read it (``ConfigMap shop/env
    /data/DB_HOST``): what "this rollback changes DB_HOST and the image" is made of."""
    lines = []
    for change in plan.changes:
        if change.attribution is Attribution.RUNTIME:
            continue
        whole = change.attribution in (Attribution.CREATE, Attribution.PRUNE)
        lines.append(
            f"{change.ref} ({change.attribution.value})" if whole else f"{change.ref} {change.pointer}"
        )
    return lines


def rollback_target(
    store: Store,
    app: str,
    *,
    to: str | None = None,
    to_history: int | None = None,
) -> tuple[SyncRecord, SyncRecord]:
    """(the good sync to roll back to, whole; the sync applied now). By default the newest successful
    sync of another commit that no rollback left and — once a verification window has passed for any
    of the app's commits — whose last window passed (:func:`plumbline.verify.verification_record`).
    :class:`RollbackError` if there is none, naming what was looked at."""
    current = store.last_sync(app)
    if current is None:
        raise RollbackError(f"{app} has no successful sync in the history: nothing to roll back from")
    succeeded = [
        r for r in store.history(app, limit=None, with_desired=False) if r.result is SyncResult.SUCCEEDED
    ]
    if to_history is not None:
        target = store.get(to_history)
        if target.app != app:
            raise RollbackError(f"history #{to_history} is a sync of {target.app}, not of {app}")
        if target.result is not SyncResult.SUCCEEDED:
            raise RollbackError(
                f"history #{to_history} ({target.sha[:12]}) {target.result.value}: only a successful sync's "
                "desired state is known to have been applied"
            )
    elif to is not None:
        wanted = to.strip().lower()
        matching = [
            r for r in succeeded if r.revision == to or (_HEX.match(wanted) and r.sha.startswith(wanted))
        ]
        if not matching:
            known = ", ".join(f"#{r.id} {r.sha[:12]} ({r.revision})" for r in succeeded[:8]) or "none"
            raise RollbackError(f"{app}: no successful sync of {to!r} in the history (recent: {known})")
        target = matching[0]
    else:
        failed = failed_revisions(store, app)
        candidates = [r for r in succeeded if r.sha != current.sha and r.sha not in failed]
        passed = {r.sha for r in succeeded if _passed(store, app, r.sha)}
        if passed:
            candidates = [r for r in candidates if r.sha in passed]
        if not candidates:
            raise RollbackError(
                f"{app}: no good revision to roll back to: no successful sync of a commit other than "
                f"{current.sha[:12]} (the one applied now) that no rollback left"
                + (" and whose verification passed" if passed else "")
            )
        target = candidates[0]
    if target.sha == current.sha:
        raise RollbackError(f"{app} is at {current.sha[:12]} already (history #{current.id})")
    assert target.id is not None
    return store.get(target.id), current


def _passed(store: Store, app: str, sha: str) -> bool:
    """The last verification window of ``app`` at ``sha`` passed."""
    record = verification_record(store, app, sha)
    return record is not None and record.outcome is AuditOutcome.PASSED


def rollback_app(
    app: App,
    *,
    cluster: Cluster,
    store: Store,
    config: Config | None = None,
    to: str | None = None,
    to_history: int | None = None,
    dry_run: bool = False,
    prune: bool = False,
    revert_drift: bool = False,
    reason: str = "",
    manual: bool = True,
    writer: Writer | None = None,
    progress: Progress = _quiet,
) -> Rollback:
    """Roll ``app`` back to a good revision (:func:`rollback_target`), through :func:`sync_app`.

    Unless ``dry_run``: the SHA rolled back from is recorded as failed before anything is written (an
    audit ``rollback`` record, outcome ``started``); then the sync; then, if it succeeded, the app is
    held at the good revision (a ``rollback`` record, outcome ``held``), else the rollback's result is
    recorded (``blocked``, ``failed``). ``reason`` says why (e.g. "verification failed: ...")."""
    target, current = rollback_target(store, app.name, to=to, to_history=to_history)
    writer = writer or Writer.for_one_sync()
    why = reason or f"plumb rollback by {writer.who}"
    summary = {FAILED: current.sha, "to": target.sha, "history": target.id, "fromSync": current.id}

    def audit(outcome: AuditOutcome, **more: Any) -> None:
        store.audit(
            actor=writer.who,
            app=app.name,
            action=AuditAction.ROLLBACK,
            revision=target.sha,
            reason=why,
            summary={**summary, **more},
            outcome=outcome,
        )

    if not dry_run:
        progress(f"recording {current.sha[:12]} as failed: it is never applied again by itself")
        audit(AuditOutcome.STARTED)
    plan, report, record = sync_app(
        app,
        cluster=cluster,
        store=store,
        config=config,
        dry_run=dry_run,
        prune=prune,
        revert_drift=revert_drift,
        manual=manual,
        writer=writer,
        progress=progress,
        cause=f"rollback to history #{target.id} ({target.sha[:12]}) from {current.sha[:12]}: {why}",
        detail={"rollback": summary},
        recorded=target,
    )
    if not dry_run:
        if record.result is SyncResult.SUCCEEDED:
            hold(
                store,
                app.name,
                revision=target.sha,
                failed=current.sha,
                sync=record.id,
                actor=writer.who,
                reason=why,
            )
        else:
            audit(AuditOutcome(record.result.value), sync=record.id, message=record.message)
    return Rollback(target, current, plan, report, record, changed_fields(plan))
