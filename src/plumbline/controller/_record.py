"""The controller's one recorder: each thing that happened to an app, fanned out once to the audit
trail, the log, the metrics, the notification webhooks and a Kubernetes Event.

A :class:`Happening` says which of those it goes to (an audit record, a notice, a Kubernetes Event,
a counter — each optional; the log line always); the functions below build the controller's
happenings, and :meth:`Recorder.record` writes them. Drift is reported when it changes, a refusal
once (``refused``, then ``resolved``): the scheduler decides when, the recorder only says it.
Messages name apps, objects, fields and revisions, never field values.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from plumbline.cluster import ApiFailure, Cluster
from plumbline.config import App, Config, Mode, VerificationOutcome
from plumbline.controller._log import log
from plumbline.controller._metrics import Metrics
from plumbline.controller._notify import Notice, NoticeKind, Notifier
from plumbline.controller.decide import Decision, Refusal, Response, Result
from plumbline.errors import PlumbError
from plumbline.health import Health
from plumbline.plan import Plan, Unscanned
from plumbline.store import AppState, AuditAction, AuditOutcome, Store, SyncRecord, SyncResult
from plumbline.verify import Verification

if TYPE_CHECKING:
    from plumbline.controller._model import Outcome
    from plumbline.controller._status import StatusWriter
    from plumbline.engine import Rollback

# The per-app counters of :class:`Metrics` a happening bumps.
Tally = Literal["fights", "guard_blocks", "pause_expiries"]


@dataclass(frozen=True)
class Audit:
    action: AuditAction
    outcome: AuditOutcome
    reason: str = ""
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class KubeEvent:
    reason: str  # e.g. Drift, Synced, SelfHealFight (what `kubectl get events` shows)
    message: str
    warning: bool = False


@dataclass(frozen=True)
class Happening:
    """One thing that happened to ``app`` at ``revision``, and where it is told."""

    app: str
    revision: str
    level: int
    message: str  # the log line
    fields: dict[str, Any] = field(default_factory=dict)  # more on the log line
    audit: Audit | None = None
    notice: tuple[NoticeKind, str, dict[str, Any]] | None = None  # kind, message, details
    event: KubeEvent | None = None
    count: Tally | None = None


class Recorder:
    def __init__(
        self,
        *,
        store: Store,
        identity: str,
        metrics: Metrics,
        notifier: Notifier,
        objects: Callable[[str], list[dict[str, Any]]],
    ) -> None:
        self.store, self.identity, self.metrics, self.notifier = store, identity, metrics, notifier
        self._objects = objects  # an app's desired objects (the Kubernetes Event is filed on one)
        self._drift: dict[str, list[str]] = {}
        self.status: StatusWriter | None = None  # App.status, when the Apps are objects in a cluster
        self._unscanned: dict[str, list[str]] = {}
        self._alerted: set[str] = set()  # apps told to have had no holder, until one holds them

    def record(self, what: Happening, app: App | None = None, cluster: Cluster | None = None) -> None:
        """Tell ``what`` everywhere it goes. The Kubernetes Event needs ``app`` and ``cluster``."""
        if what.audit is not None:
            a = what.audit
            self.store.audit(
                actor=self.identity,
                app=what.app,
                action=a.action,
                revision=what.revision,
                reason=a.reason,
                summary=a.summary,
                outcome=a.outcome,
            )
        log(what.level, what.message, app=what.app, revision=what.revision, **what.fields)
        if what.count is not None:
            getattr(self.metrics, what.count).labels(app=what.app).inc()
        if what.notice is not None:
            kind, message, details = what.notice
            self.notifier.send(Notice(kind, what.app, what.revision, message, details))
        if what.event is not None and app is not None and cluster is not None:
            self._kube_event(app, cluster, what.event)

    def planned(
        self, app: App, cluster: Cluster, plan: Plan, drift: list[str], health: Health | None = None
    ) -> None:
        """The app's plan: its changes per attribution class counted, its ``health`` (as the plan read
        the live objects: ``engine.planned_health``) set, its drift reported when it differs from the
        drift last reported."""
        self.metrics.drift(app.name, Counter(change.attribution for change in plan.changes))
        if self.status is not None:
            self.status.planned(app, plan)
        if health is not None:
            self.metrics.health(app.name, health.status)
        if drift and drift != self._drift.get(app.name):
            self.record(drift_seen(app.name, plan.sha, drift), app, cluster)
        self._drift[app.name] = drift
        gaps = [unscanned_line(gap) for gap in plan.unscanned]
        self.metrics.unscanned.labels(app=app.name).set(len(gaps))
        if gaps and gaps != self._unscanned.get(app.name):
            self.record(scan_incomplete(app.name, plan.sha, gaps), app, cluster)
        self._unscanned[app.name] = gaps

    def unheld(self, app: App, cluster: Cluster, seconds: float, *, period: int) -> None:
        """``app`` has been seen without a holder for ``seconds`` (0: it has one now): the gauge, and
        once it is longer than a lease ``period``, an alert (once per such stretch)."""
        self.metrics.unheld.labels(app=app.name).set(round(seconds, 1))
        if seconds <= period:
            self._alerted.discard(app.name)
        elif app.name not in self._alerted:
            self._alerted.add(app.name)
            self.record(no_holder(app.name, seconds, self.identity), app, cluster)

    def sync_ended(self, what: Happening, app: App, cluster: Cluster, *, seconds: float) -> None:
        """A sync the controller ran is over (``what``: :func:`synced`), after ``seconds``."""
        self.metrics.sync_seconds.labels(app=app.name).observe(seconds)
        self.record(what, app, cluster)

    def verified(self, app: App, cluster: Cluster, record: SyncRecord, verification: Verification) -> None:
        """A verification window after the sync ``record`` ended (``engine.verify_app``, which audited
        it): counted, logged, evented, and notified when it did not pass."""
        self.metrics.verified(app.name, verification.outcome)
        self.record(verification_ended(app.name, record, verification), app, cluster)

    def config_mode(self, app: App, effective: Mode) -> None:
        """Audit the config's ``spec.mode`` when it differs from the one last seen (or is first seen):
        a mode change made in Git is recorded too, by the controller that notices it."""
        seen = None
        for record in reversed(self.store.audit_log(app.name)):
            if record.action == AuditAction.MODE and record.summary.get("source") == "config":
                seen = record.summary.get("to")
                break
        if seen != app.spec.mode.value:
            self.record(config_mode(app, seen, effective))

    def loaded(self, config: Config) -> None:
        """The configuration was (re)loaded: the Apps it left out as invalid say so on themselves."""
        if self.status is not None and config.rejected:
            self.status.rejected(config.rejected)

    def passed(self, outcome: Outcome, *, seconds: float) -> None:
        """A pass is over: counted and timed, and the App's status written."""
        self.metrics.observe(outcome, seconds=seconds)
        if self.status is not None:
            self.status.passed(outcome)

    def _kube_event(self, app: App, cluster: Cluster, event: KubeEvent) -> None:
        """A Kubernetes Event in the app's namespace, on its first object there (else the namespace):
        what ``kubectl describe`` and ``kubectl get events`` show beside the audit trail."""
        namespace = app.spec.destination.namespace
        # (an Event must name its own namespace, also for the Namespace object itself)
        target: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "name": namespace,
            "namespace": namespace,
        }
        for obj in self._objects(app.name):
            metadata = obj.get("metadata") or {}
            if metadata.get("namespace") == namespace:
                target = {
                    "apiVersion": obj.get("apiVersion"),
                    "kind": obj.get("kind"),
                    "name": metadata.get("name"),
                    "namespace": namespace,
                }
                break
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"plumbline-{app.name}-", "namespace": namespace},
            "involvedObject": target,
            "reason": event.reason,
            "message": event.message[:1000],
            "type": "Warning" if event.warning else "Normal",
            "source": {"component": "plumbline-controller", "host": self.identity[:60]},
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
        }
        try:
            cluster.request("POST", f"/api/v1/namespaces/{namespace}/events", body=body)
        except (ApiFailure, PlumbError) as error:
            log(logging.WARNING, f"cannot record a Kubernetes Event: {error}", app=app.name)


# ---- what the controller records ------------------------------------------------------------------


def drift_seen(app: str, sha: str, drift: list[str]) -> Happening:
    return Happening(
        app,
        sha,
        logging.WARNING,
        f"drift: {len(drift)} change(s) live that Git does not have",
        {"drift": drift},
        audit=Audit(AuditAction.DRIFT, AuditOutcome.OBSERVED, summary={"drift": drift}),
        notice=(NoticeKind.DRIFT, f"{len(drift)} live change(s) Git does not have", {"drift": drift}),
        event=KubeEvent("Drift", f"live differs from Git: {'; '.join(drift)}", warning=True),
    )


def unscanned_line(gap: Unscanned) -> str:
    """``Secret in shop (prune): forbidden: …`` — a kind a scan was not allowed to list."""
    kind = f"{gap.kind}.{gap.group}" if gap.group else gap.kind
    return f"{kind} in {gap.namespace or '(cluster-wide)'} ({gap.scan}): {gap.reason}"


def scan_incomplete(app: str, sha: str, gaps: list[str]) -> Happening:
    """A scan of the plan (prune, HPA) was not allowed to list some kinds: what it could not see is
    unknown, never taken for "nothing there" — said when the gaps change."""
    message = f"scan incomplete: not allowed to list {len(gaps)} kind(s); grant list, or narrow the Project"
    return Happening(
        app,
        sha,
        logging.WARNING,
        message,
        {"unscanned": gaps},
        event=KubeEvent("ScanIncomplete", f"{message}: {'; '.join(gaps)}", warning=True),
    )


def no_holder(app: str, seconds: float, identity: str) -> Happening:
    """No replica has held the app for longer than a lease period: nothing reconciled it meanwhile."""
    message = f"no controller replica held the app for {seconds:.0f}s; {identity} takes it beyond its share"
    return Happening(
        app,
        "",
        logging.WARNING,
        message,
        {"unheldSeconds": round(seconds, 1)},
        event=KubeEvent("NoHolder", message, warning=True),
    )


def pause_expired(app: str, sha: str, state: AppState, drift: list[str]) -> Happening:
    """The pause ran out (``state``: where it went; the audit record is the transition's own)."""
    notice = None
    if drift:
        why = "pause expired with drift made meanwhile: capture it or resume --revert"
        notice = (
            NoticeKind.PAUSE_EXPIRED_PENDING,
            why,
            {"drift": drift, "paused_reason": state.detail.get("paused_reason", "")},
        )
    return Happening(
        app,
        sha,
        logging.WARNING,
        f"pause expired: now {state.state.value}",
        notice=notice,
        event=KubeEvent(
            "PauseExpired",
            f"pause expired; now {state.state.value}" + (f": {'; '.join(drift)}" if drift else ""),
            warning=bool(drift),
        ),
        count="pause_expiries",
    )


def fight(app: str, sha: str, decision: Decision) -> Happening:
    """Self-heal stopped: the same drift kept coming back (``decision.cause`` says how often)."""
    drift = list(decision.drift)
    fighting = decision.heal.fighting if decision.heal else ""
    return Happening(
        app,
        sha,
        logging.ERROR,
        "another writer keeps changing what self-heal reverts; stopped healing",
        {"drift": drift},
        audit=Audit(AuditAction.FIGHT, AuditOutcome.SELF_HEAL_STOPPED, decision.cause, {"drift": drift}),
        notice=(NoticeKind.FIGHT, f"self-heal stopped: {fighting}", {"drift": drift}),
        event=KubeEvent("SelfHealFight", f"self-heal stopped: {fighting}", warning=True),
        count="fights",
    )


def synced(app: str, record: SyncRecord, result: Result, cause: str, *, first: bool) -> Happening:
    """A sync the controller ran ended (its history and audit records are the write path's). A
    failure or refusal is notified and evented only when ``first`` (not the refusal last told)."""
    succeeded = record.result is SyncResult.SUCCEEDED
    told = succeeded or first
    kind = NoticeKind.SYNC_BLOCKED if record.result is SyncResult.BLOCKED else NoticeKind.SYNC_FAILED
    reason = {Result.SYNCED: "Synced", Result.HEALED: "SelfHealed"}.get(result, "SyncFailed")
    message = f"{cause} at {record.sha[:12]}: {record.result.value}, {record.message}"
    return Happening(
        app,
        record.sha,
        logging.INFO if succeeded else logging.ERROR,
        f"{result.value}: {record.message}",
        notice=(kind, record.message, {"sync": record.id}) if told and not succeeded else None,
        event=KubeEvent(reason, message, warning=not succeeded) if told else None,
        count="guard_blocks"
        if record.result is SyncResult.BLOCKED and record.summary.get("blockedBy")
        else None,
    )


VERIFICATION_EVENT = {
    VerificationOutcome.PASSED: "Verified",
    VerificationOutcome.FAILED: "VerificationFailed",
    VerificationOutcome.INCONCLUSIVE: "VerificationInconclusive",
}


def verification_ended(app: str, record: SyncRecord, verification: Verification) -> Happening:
    """How the verification window after ``record``'s sync ended (its audit record is the engine's).
    Failed or Inconclusive is notified — which check, why, and what the configuration says to do."""
    outcome = verification.outcome
    message = f"verification {outcome} at {record.sha[:12]}: {verification.reason}"
    notice = None
    if not verification.passed:
        details = {
            "sync": record.id,
            "outcome": outcome.value,
            "check": verification.check,
            "onFailure": verification.on_failure.value,
        }
        said = f"verification {outcome}: {verification.reason} (onFailure: {verification.on_failure})"
        notice = (NoticeKind.VERIFICATION_FAILED, said, details)
    return Happening(
        app,
        record.sha,
        logging.INFO if verification.passed else logging.ERROR,
        message,
        {"outcome": outcome.value, "check": verification.check},
        notice=notice,
        event=KubeEvent(VERIFICATION_EVENT[outcome], message, warning=not verification.passed),
    )


def responded(
    app: str,
    record: SyncRecord,
    response: Response,
    outcome: Outcome,
    rollback: Rollback | None,
    *,
    healthy: bool,
) -> Happening:
    """What the controller did after the sync ``record`` did not end Healthy and verified (its audit
    records are the engine's: the wait's, the window's, the pause's, the rollback's). A rollback is
    notified with what it changed; an app not ``healthy`` (no window ran, so nothing else told it)
    with the response."""
    message = f"{outcome.result.value}: {outcome.message}"
    details: dict[str, Any] = {
        "sync": record.id,
        "onFailure": response.action.value if response.action else None,
    }
    notice = None
    if rollback is not None:
        details |= {
            **rollback.to_dict(),
            "rollback": rollback.record.id,
            "result": rollback.record.result.value,
        }
        notice = (NoticeKind.ROLLED_BACK, outcome.message, details)
    elif not healthy:
        notice = (NoticeKind.UNHEALTHY, outcome.message, details)
    reason = {Result.ROLLED_BACK: "RolledBack", Result.PAUSED: "PausedOnFailure"}.get(
        outcome.result, "Unverified"
    )
    return Happening(
        app,
        record.sha,
        logging.ERROR,
        message,
        notice=notice,
        event=KubeEvent(reason, message, warning=True),
    )


def resolved(app: str, sha: str, refused: Refusal, how: str) -> Happening:
    """The refusal last notified is over: said once."""
    message = f"no longer {refused.result.value}: {how}"
    details = {"was": refused.result.value, "revision": refused.sha}
    return Happening(app, sha, logging.INFO, message, notice=(NoticeKind.RESOLVED, message, details))


def pass_over(outcome: Outcome) -> Happening:
    """The running loop's line for each pass."""
    fields = {"mode": outcome.mode.value, "state": outcome.state.value}
    message = f"{outcome.result.value} ({outcome.status})"
    return Happening(outcome.app, outcome.sha, logging.INFO, message, fields)


def reconcile_failed(app: str, error: Exception) -> Happening:
    return Happening(app, "", logging.ERROR, f"reconcile failed: {error}")


def lease_taken(app: str, identity: str) -> Happening:
    return Happening(
        app,
        "",
        logging.INFO,
        "took the app's lease",
        {"identity": identity},
        audit=Audit(AuditAction.LEASE, AuditOutcome.ACQUIRED),
    )


def config_mode(app: App, seen: str | None, effective: Mode) -> Happening:
    """The config's ``spec.mode`` differs from the one last seen (``seen``; None: first seen)."""
    to = app.spec.mode.value
    return Happening(
        app.name,
        "",
        logging.WARNING if seen is not None else logging.DEBUG,
        f"config mode changed: {seen} → {to}" if seen is not None else f"config mode first seen: {to}",
        audit=Audit(
            AuditAction.MODE,
            AuditOutcome(effective.value),
            "spec.mode in the config" + (" (first seen)" if seen is None else " changed"),
            {"from": seen, "to": to, "source": "config", "override": False},
        ),
    )
