"""After a sync is Healthy: the verification window (``plumb sync --wait``, and the controller).

:func:`verify_app` measures the app's health — read as the wait reads it (:mod:`._wait`'s
:func:`poll`, one LIST per kind and namespace) — and the app's metric checks every interval, through
:func:`plumbline.verify.run_window`, and appends how it ended to the audit trail. What to *do* about a
failed window (``onFailure``: report, pause, roll back) is the caller's.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from plumbline.cluster import Cluster
from plumbline.config import App, Config, VerificationOutcome
from plumbline.engine._wait import HealthWatch, health_checks, poll, waited_on
from plumbline.errors import ClusterError
from plumbline.health import Health, HealthStatus, plan_health
from plumbline.plan import Plan
from plumbline.store import AuditAction, AuditOutcome, Store, SyncRecord, current_actor
from plumbline.verify import Measurement, Query, Verification, query, run_window, verification_record


def verify_app(
    app: App,
    plan: Plan,
    *,
    cluster: Cluster,
    config: Config,
    store: Store | None = None,
    record: SyncRecord | None = None,
    on_progress: Callable[[Sequence[Measurement]], None] | None = None,
    ask: Query = query,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Verification | None:
    """Run ``app``'s verification window after a sync of ``plan`` (call it once :func:`wait_healthy`
    says Healthy): its settings are ``config.verification(app)`` (the App's over its Environment's);
    None when it has none (no window, no checks). Each round, the app's health (worst of the objects
    the sync left, with its ``healthChecks``) must be Healthy or Suspended and each check must hold;
    ``on_progress`` hears each round. With ``store`` and the sync's ``record``, how it ended is
    appended to the audit trail: a ``verify`` record whose outcome is the verdict (Passed, Failed,
    Inconclusive), its summary the sync's history id and each check's counts."""
    spec = config.verification(app)
    if spec is None or not spec.enabled:
        return None
    checks = health_checks(app, config)
    groups = waited_on(plan)
    refs = [ref for found in groups.values() for ref in found]

    def health() -> Health:
        watch = HealthWatch(refs)
        try:
            watch.observe(poll(cluster, groups, app.name, checks))
        except ClusterError as error:  # discovery unreadable: nobody knows (an Error, not a crash)
            return Health(HealthStatus.UNKNOWN, f"could not read the app's objects: {error}")
        return watch.result(timed_out=False, elapsed_s=0.0).health

    verification = run_window(spec, health=health, ask=ask, on_round=on_progress, clock=clock, sleep=sleep)
    if store is not None and record is not None:
        store.audit(
            actor=current_actor(),
            app=record.app,
            action=AuditAction.VERIFY,
            revision=record.sha,
            reason=verification.reason,
            summary={"sync": record.id, **verification.to_dict(measurements=False)},
            outcome=AuditOutcome(verification.outcome.value),
        )
    return verification


def planned_health(app: App, plan: Plan, config: Config | None) -> Health:
    """``app``'s health from the live objects its ``plan`` read (no second read of the cluster), with
    its ``healthChecks``: what ``plumb status`` and ``plumb diff`` show, and the controller's
    ``plumbline_app_health``."""
    return plan_health(plan, health_checks(app, config))


def last_verification(store: Store, app: str, sha: str | None) -> VerificationOutcome | None:
    """How the last verification window of ``app`` at commit ``sha`` ended (None: never verified).
    A revision is "verified healthy" when this is Passed."""
    record = verification_record(store, app, sha)
    return VerificationOutcome(record.outcome.value) if record is not None else None
