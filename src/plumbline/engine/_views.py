"""Read-only views over apps, their history and their state: ``plumb status`` and ``plumb history``.

Each returns typed results; ``to_dict`` gives the ``-o json`` form (camelCase keys, enum values as
the words users see: docs/plan-schema.md).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from plumbline.cluster import Cluster
from plumbline.config import App, Config, Mode, StoreBackend, VerificationOutcome
from plumbline.engine._pipeline import connect, plan_app
from plumbline.engine._verify import last_verification, planned_health
from plumbline.engine._write import Unfinished, unfinished_syncs
from plumbline.guards import ExceptionUse
from plumbline.health import HealthStatus
from plumbline.plan import Plan, SyncStatus
from plumbline.redact import Redactor
from plumbline.store import FAILED, AppState, AppStateKind, Store, SyncRecord, SyncResult, now


@dataclass
class AppStatus:
    """One app in ``plumb status``: whether live matches Git, its health, its last sync and how that
    commit's verification window ended (None: never verified), its GuardExceptions (each with what it
    covered in the last recorded sync), unfinished syncs, and the store its history is read from
    (backend and where).
    ``error``: why it could not be checked (status Unknown), or the server's refusal to compare."""

    app: str
    mode: Mode
    status: SyncStatus = SyncStatus.UNKNOWN
    health: HealthStatus | None = None
    health_message: str | None = None
    target: str | None = None
    counts: dict[str, int] | None = None
    drift: dict[str, int] | None = None  # field changes by attribution (runtime ones included)
    error: str | None = None
    last_synced_sha: str | None = None
    last_result: SyncResult | None = None
    last_at: datetime | None = None
    verification: VerificationOutcome | None = None
    last_actor: str | None = None
    exceptions: list[dict[str, Any]] = field(default_factory=list)
    unfinished: list[Unfinished] = field(default_factory=list)
    state: AppStateKind = AppStateKind.ACTIVE
    held: dict[str, Any] | None = None  # a rollback's hold: revision, failed, sync, since, reason
    pause: AppState | None = None  # paused or paused-pending: until when, why, by whom
    store_backend: StoreBackend = StoreBackend.SQLITE  # where its history and state are kept
    store_where: str = ""

    @property
    def settled(self) -> bool:
        """Synced, and no sync without a recorded outcome (whatever the plan shows, that is not synced)."""
        return self.status is SyncStatus.SYNCED and not self.unfinished

    def to_dict(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "mode": self.mode.value,
            "status": self.status.value,
            "health": self.health.value if self.health else None,
            "healthMessage": self.health_message,
            "target": self.target,
            "counts": self.counts,
            "drift": self.drift,
            "error": self.error,
            "lastSyncedSha": self.last_synced_sha,
            "lastResult": self.last_result.value if self.last_result else None,
            "lastAt": self.last_at.isoformat() if self.last_at else None,
            "verification": self.verification.value if self.verification else None,
            "lastActor": self.last_actor,
            "exceptions": self.exceptions,
            "unfinished": [unfinished_to_dict(u) for u in self.unfinished],
            "state": self.state.value,
            "held": self.held,
            "pause": pause_to_dict(self.pause) if self.pause else None,
            "store": {"backend": self.store_backend.value, "where": self.store_where},
        }

    def held_line(self) -> str | None:
        """Where a held app stands, as ``plumb status`` says it (None: not held)."""
        if self.held is None:
            return None
        h = self.held
        return (
            f"{self.app} is held at {h['revision'][:12]} (rolled back from {h['failed'][:12]}, history "
            f"#{h['sync']}, since {h['since'][:19]} UTC: {h['reason']}); {h['failed'][:12]} is never applied "
            "again by itself; the next new commit ends the hold"
        )


def pause_to_dict(state: AppState) -> dict[str, Any]:
    return {
        "reason": state.reason,
        "actor": state.actor,
        "since": state.since.isoformat() if state.since else None,
        "until": state.until.isoformat() if state.until else None,
    }


def unfinished_to_dict(found: Unfinished) -> dict[str, Any]:
    i = found.intent
    return {
        "intent": i.id,
        "state": found.state.value,
        "revision": i.revision,
        "sha": i.sha,
        "actor": i.actor,
        "writer": i.holder,
        "startedAt": i.started_at.isoformat(),
        "planned": {k: v for k, v in i.planned.items() if k != "objects"},
        "message": found.describe(),
    }


def app_status(
    app: App,
    *,
    config: Config,
    store: Store,
    kubeconfig: str | None = None,
    context: str | None = None,
    planned: tuple[Plan, Cluster] | None = None,
) -> AppStatus:
    """``app``'s status; never raises for the app's own trouble (one broken app must not hide the
    others'): an app that cannot be checked is Unknown, with the error. ``planned``: the app's plan,
    just made as configured, and its cluster (the dashboard's app page), instead of planning again."""
    row = AppStatus(app=app.name, mode=app.spec.mode, store_backend=store.backend, store_where=store.where)
    try:
        if planned is not None:
            plan, cluster = planned
            row.unfinished = unfinished_syncs(store, cluster, app.name)
        else:
            with connect(app, kubeconfig=kubeconfig, context=context) as opened:
                plan, _ = plan_app(app, cluster=opened, store=store, config=config)
                row.unfinished = unfinished_syncs(store, opened, app.name)
        health = planned_health(app, plan, config)
        row.status, row.target, row.counts = plan.sync_status, plan.sha, plan.counts
        row.drift = dict(Counter(change.attribution.value for change in plan.changes))
        row.health, row.health_message = health.status, health.message
        if plan.errors:  # the server refused to compare some object: status unknown
            first = plan.errors[0]
            more = f" (and {len(plan.errors) - 1} more)" if len(plan.errors) > 1 else ""
            row.error = f"{first.ref}: {first.error}{more}"
    except Exception as error:
        row.error = str(error)
        row.unfinished = unfinished_syncs(store, None, app.name)
    last = store.last_sync(app.name, result=None)
    last_ok = store.last_sync(app.name)
    row.last_synced_sha = last_ok.sha if last_ok else None
    row.last_result = last.result if last else None
    row.last_at = last.finished_at if last else None
    row.verification = last_verification(store, app.name, row.last_synced_sha)
    row.last_actor = last.actor if last else None
    row.exceptions = exceptions_of(config, app.name, last)
    state = store.app_state(app.name)
    row.state = state.state
    if state.state in (AppStateKind.PAUSED, AppStateKind.PAUSED_PENDING):
        row.pause = state
    if state.state is AppStateKind.HELD:
        d = state.detail
        since = state.since.isoformat() if state.since else ""
        row.held = {
            "revision": d.get("revision", ""),
            "failed": d.get(FAILED, ""),
            "sync": d.get("sync"),
            "since": since,
            "reason": state.reason,
        }
    return row


def exceptions_of(config: Config, app: str, last: SyncRecord | None) -> list[dict[str, Any]]:
    """The app's GuardExceptions as of now, each with what it covered in the last recorded sync."""
    covered = {e["name"]: e["covers"] for e in (last.flags.get("exceptions") or [])} if last else {}
    rows = []
    for exception in config.exceptions_for(app):
        row = ExceptionUse(exception, expired=exception.expired(now())).to_dict()
        row["covers"] = covered.get(exception.name, [])
        rows.append(row)
    return rows


def history(store: Store, app: str, *, limit: int, desired: bool = False) -> list[SyncRecord]:
    """``app``'s recorded syncs, newest first (``plumb history``). With ``desired``, each carries its
    desired objects with secret values fingerprinted: records written before values were fingerprinted
    may hold them in clear, so they are redacted here, on the way out."""
    records = store.history(app, limit=limit, with_desired=desired)
    if not desired:
        return records
    redactor = Redactor.for_store(store)
    return [
        replace(r, desired=[shown for obj in r.desired if (shown := redactor.redact(obj)) is not None])
        for r in records
    ]


def record_to_dict(record: SyncRecord, *, desired: bool = False) -> dict[str, Any]:
    """A history record as ``-o json`` gives it (``plumb sync``, ``plumb history``)."""
    data: dict[str, Any] = {
        "id": record.id,
        "app": record.app,
        "revision": record.revision,
        "sha": record.sha,
        "startedAt": record.started_at.isoformat(),
        "finishedAt": record.finished_at.isoformat() if record.finished_at else None,
        "actor": record.actor,
        "result": record.result.value,
        "message": record.message,
        "summary": record.summary,
        "flags": record.flags,
        "intent": record.intent,
    }
    if desired:
        data["desired"] = record.desired
    return data
