"""The controller: every configured app reconciled per its mode, one writer per app.

A pass over one app (:meth:`Controller.reconcile`):

1. Hold the app's Lease, or leave the app to the replica that does.
2. Plan it through the engine (fetch the target revision, render, server-side dry run).
3. Paused: observe only; at expiry (or ``plumb resume``) go to ``paused-pending`` if drift appeared,
   else ``active``. Pending: stay, until the plan shows no drift (captured into Git) or a revert.
4. Active, by mode — ``observe``: report. ``sync``: a commit other than the last synced one is
   applied (drift left alone, reported). ``self-heal``: drift at the synced commit is reverted too,
   with exponential backoff, and a *fight* (the same drift back more than ``fight_limit`` times in
   ``fight_window_s``) stops healing and is reported. ``prune``: syncs pass ``prune=True``.

Passes are queued by a Git poll per app (``interval_s``), by watches on the objects each app manages
(label ``plumbline.dev/app=<app>``, per kind of its last synced desired state), and by webhooks.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from plumbline import engine
from plumbline.cluster import ApiFailure, Cluster
from plumbline.config import App, Config, Mode
from plumbline.controller import _anchor, _pause
from plumbline.controller._drift import counts_by_class
from plumbline.controller._health import ApiHealth, Monitor
from plumbline.controller._lease import (
    LEASE_DURATION_S,
    LEASE_NAMESPACE,
    Grant,
    Renewer,
    heartbeat,
    release,
    release_replica,
)
from plumbline.controller._log import log
from plumbline.controller._metrics import Metrics
from plumbline.controller._notify import Notice, NoticeKind, Notifier
from plumbline.controller._watch import Watcher
from plumbline.controller.decide import (
    Decision,
    HealMemory,
    PauseChange,
    Refusal,
    Result,
    Rules,
    Situation,
    Step,
    decide,
    refusal,
    sync_result,
)
from plumbline.errors import PlumbError
from plumbline.plan import Plan
from plumbline.store import AppStateKind, AuditAction, Store, SyncRecord, SyncResult


@dataclass
class Settings:
    identity: str
    interval_s: float = 30.0
    lease_namespace: str = LEASE_NAMESPACE
    lease_duration_s: int = LEASE_DURATION_S
    watch: bool = True
    fight_limit: int = 3
    fight_window_s: float = 600.0
    backoff_base_s: float = 2.0
    backoff_max_s: float = 300.0
    kubeconfig: str | None = None
    context: str | None = None

    @property
    def rules(self) -> Rules:
        return Rules(
            fight_limit=self.fight_limit,
            fight_window_s=self.fight_window_s,
            backoff_base_s=self.backoff_base_s,
            backoff_max_s=self.backoff_max_s,
        )


@dataclass
class Outcome:
    app: str
    mode: Mode
    state: AppStateKind
    result: Result
    status: engine.SyncStatus = engine.SyncStatus.UNKNOWN
    sha: str = ""
    drift: list[str] = field(default_factory=list)
    message: str = ""


def effective_mode(app: App, store: Store) -> Mode:
    """The mode override set with ``plumb mode`` if any, else the config's ``spec.mode``."""
    override = store.app_state(app.name).mode
    return Mode(override) if override else app.spec.mode


def plan_of(app: App, *, cluster: Cluster, store: Store, config: Config | None = None) -> Plan:
    """The app's plan, tracked under ``config``'s instance and bounded by its Project."""
    plan, _ = engine.plan_app(app, cluster=cluster, store=store, **engine.scope(app, config))
    return plan


class Controller:
    def __init__(
        self,
        *,
        config: Callable[[], Config],
        store: Store,
        settings: Settings,
        metrics: Metrics | None = None,
        notifier: Notifier | None = None,
    ) -> None:
        self._load_config = config
        self.store = store
        self.settings = settings
        self.metrics = metrics or Metrics()
        self.notifier = notifier or Notifier()
        self._clusters: dict[tuple[str | None, str | None], Cluster] = {}
        self._heal: dict[str, HealMemory] = {}
        self._refused: dict[str, Refusal] = {}
        self._reported_drift: dict[str, list[str]] = {}
        self._renewers: dict[str, Renewer] = {}
        self._replicas: dict[str, tuple[int, float]] = {}
        self._queue: queue.Queue[str] = queue.Queue()
        self._queued: set[str] = set()
        self._queue_lock = threading.Lock()
        self._stop = threading.Event()
        self._watchers: dict[str, Watcher] = {}
        self._desired: dict[str, list[dict[str, Any]]] = {}
        self._clusters_lock = threading.Lock()
        self._anchor_broken: str | None = None
        self.health = ApiHealth()
        self.config = config()

    # ---- plumbing -----------------------------------------------------------------------------

    def cluster_for(self, app: App) -> Cluster:
        key = (
            self.settings.kubeconfig or app.spec.destination.kubeconfig,
            self.settings.context or app.spec.destination.context,
        )
        with self._clusters_lock:  # the health monitor asks too
            if key not in self._clusters:
                self._clusters[key] = engine.connect(
                    app, kubeconfig=self.settings.kubeconfig, context=self.settings.context
                )
            return self._clusters[key]

    def clusters(self) -> list[Cluster]:
        """The API servers the configured apps live on, one each."""
        found: dict[str, Cluster] = {}
        for _, app in sorted(self.config.apps.items()):
            cluster = self.cluster_for(app)
            found.setdefault(cluster.server, cluster)
        return list(found.values())

    def file_anchor(self) -> None:
        """File the audit trail's head in each cluster (``_anchor.py``); an anchor there that no
        longer matches the trail (newest records removed) is kept, and logged as an error once."""
        try:
            clusters = self.clusters()
        except PlumbError as error:
            log(logging.WARNING, f"cannot file the audit anchor: {error}")
            return
        for cluster in clusters:
            broken = _anchor.publish(cluster, self.store, namespace=self.settings.lease_namespace)
            if broken is not None and broken.why != self._anchor_broken:
                log(
                    logging.ERROR,
                    f"the audit trail no longer matches its anchor in "
                    f"{_anchor.where(self.settings.lease_namespace)}: {broken.why}; "
                    "left in place as evidence (plumb audit verify --cluster)",
                )
            self._anchor_broken = broken.why if broken is not None else None

    def healthy(self) -> tuple[bool, str]:
        """(True, ...) if every API server the apps live on is ready (etcd included), else why not."""
        try:
            answers = [self.health.check(cluster) for cluster in self.clusters()]
        except PlumbError as error:
            return False, str(error)
        bad = [why for ok, why in answers if not ok]
        return (False, "; ".join(bad)) if bad else (True, "ok")

    def _renewer(self, cluster: Cluster) -> Renewer:
        if cluster.server not in self._renewers:
            self._renewers[cluster.server] = Renewer(
                cluster,
                self.settings.identity,
                namespace=self.settings.lease_namespace,
                duration_s=self.settings.lease_duration_s,
            ).start()
        return self._renewers[cluster.server]

    def enqueue(self, app: str) -> None:
        """Ask for a pass over ``app`` soon (deduplicated: a queued app is queued once)."""
        with self._queue_lock:
            if app in self._queued:
                return
            self._queued.add(app)
        self._queue.put(app)
        self.metrics.queue_depth.set(self._queue.qsize())

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        self.notifier.close()
        for watcher in self._watchers.values():
            watcher.stop()
        for server, renewer in self._renewers.items():
            renewer.stop()
            cluster = next(c for c in self._clusters.values() if c.server == server)
            for app in sorted(renewer.apps):
                release(cluster, app, self.settings.identity, namespace=self.settings.lease_namespace)
            release_replica(cluster, self.settings.identity, namespace=self.settings.lease_namespace)
        for cluster in self._clusters.values():
            cluster.close()

    # ---- one pass -----------------------------------------------------------------------------

    def fair_share(self, cluster: Cluster) -> int:
        """How many apps this replica should hold: all configured apps over the live replicas, rounded
        up (membership refreshed every third of the lease duration)."""
        moment = time.monotonic()
        cached = self._replicas.get(cluster.server)
        if cached is None or moment - cached[1] > self.settings.lease_duration_s / 3:
            count = heartbeat(
                cluster,
                self.settings.identity,
                namespace=self.settings.lease_namespace,
                duration_s=self.settings.lease_duration_s,
            )
            self._replicas[cluster.server] = cached = (count, moment)
        return -(-len(self.config.apps) // max(1, cached[0]))

    def holds(self, app: App, cluster: Cluster) -> bool:
        """Take or renew ``app``'s lease — unless this replica already holds its fair share (then a
        free app is left to the others, and one held beyond the share is given up, between passes)."""
        renewer = self._renewer(cluster)
        share = self.fair_share(cluster)
        mine = app.name in renewer.apps
        if not mine and len(renewer.apps) >= share:
            return False
        if mine and len(renewer.apps) > share:
            renewer.discard(app.name)
            release(cluster, app.name, self.settings.identity, namespace=self.settings.lease_namespace)
            log(logging.INFO, f"gave the app up to another replica (fair share {share})", app=app.name)
            return False
        grant = renewer.claim(app.name)
        if grant is Grant.ACQUIRED:
            log(logging.INFO, "took the app's lease", app=app.name, identity=self.settings.identity)
            self.store.audit(
                actor=self.settings.identity, app=app.name, action=AuditAction.LEASE, outcome="acquired"
            )
        return grant is not Grant.REFUSED

    def reconcile(self, app: App) -> Outcome:
        """One pass over ``app``; never raises for the app's own trouble (reported in the outcome)."""
        mode = effective_mode(app, self.store)
        state = self.store.app_state(app.name)
        outcome = Outcome(app=app.name, mode=mode, state=state.state, result=Result.ERROR)
        started = time.monotonic()
        try:
            cluster = self.cluster_for(app)
            if not self.holds(app, cluster):
                outcome.result = Result.NOT_HOLDER
                return outcome
            self._note_config_mode(app, mode)
            outcome = self._reconcile(app, cluster, mode)
            self._watch(app, cluster)
        except PlumbError as error:
            outcome.result, outcome.message = Result.ERROR, str(error)
            log(logging.ERROR, f"reconcile failed: {error}", app=app.name)
        finally:
            self.metrics.observe(outcome, seconds=time.monotonic() - started)
        return outcome

    def _reconcile(self, app: App, cluster: Cluster, mode: Mode) -> Outcome:
        name = app.name
        actor = self.settings.identity
        interrupted = self._interrupted(app, cluster)
        plan = plan_of(app, cluster=cluster, store=self.store, config=self.config)
        self._desired[name] = [item.desired for item in plan.items if item.desired is not None]
        last = self.store.last_sync(name)
        state = self.store.app_state(name)
        situation = Situation(
            mode=mode,
            state=state,
            plan=plan,
            last_sha=last.sha if last else None,
            now=time.monotonic(),
            pause_expired=_pause.expired(state),
            interrupted=interrupted,
            heal=self._heal.get(name, HealMemory()),
            refused=self._refused.get(name),
        )
        decision = decide(situation, self.settings.rules)
        drift = list(decision.drift)
        self.metrics.drift(name, counts_by_class(plan))
        outcome = Outcome(
            app=name,
            mode=mode,
            state=decision.state,
            result=decision.result,
            status=engine.sync_status(plan),
            sha=plan.sha,
            drift=drift,
            message=decision.message,
        )
        self._report_drift(app, cluster, plan, drift)

        if decision.pause is PauseChange.EXPIRE:
            state = _pause.end_pause(
                self.store, name, drift=drift, actor=actor, action=AuditAction.EXPIRE, revision=plan.sha
            )
            log(logging.WARNING, f"pause expired: now {state.state.value}", app=name, revision=plan.sha)
            if drift:
                self.notifier.send(
                    Notice(
                        NoticeKind.PAUSE_EXPIRED_PENDING,
                        name,
                        plan.sha,
                        "pause expired with drift made meanwhile: capture it or resume --revert",
                        {"drift": drift, "paused_reason": state.detail.get("paused_reason", "")},
                    )
                )
            self._event(
                app,
                cluster,
                reason="PauseExpired",
                message=f"pause expired; now {state.state.value}"
                + (f": {'; '.join(drift)}" if drift else ""),
                warning=bool(drift),
            )
        elif decision.pause is PauseChange.ACTIVATE:
            _pause.activate(
                self.store,
                name,
                actor=actor,
                reason="the drift left from the pause is gone (captured)",
                revision=plan.sha,
            )
        if decision.heal is None:
            self._heal.pop(name, None)
        else:
            self._heal[name] = decision.heal
        if decision.resolved:
            self._resolved(app, plan.sha, decision.resolved)
        if decision.step is Step.STOP_HEALING:
            self._fight(app, cluster, decision, sha=plan.sha)
        if decision.writes:
            return self._apply(app, cluster, outcome, decision)
        return outcome

    def _note_config_mode(self, app: App, effective: Mode) -> None:
        """Audit the config's ``spec.mode`` when it differs from the one last seen (or is first seen):
        a mode change made in Git is recorded too, by the controller that notices it."""
        seen = None
        for record in reversed(self.store.audit_log(app.name)):
            if record.action == AuditAction.MODE and record.summary.get("source") == "config":
                seen = record.summary.get("to")
                break
        if seen == app.spec.mode.value:
            return
        self.store.audit(
            actor=self.settings.identity,
            app=app.name,
            action=AuditAction.MODE,
            reason="spec.mode in the config" + (" (first seen)" if seen is None else " changed"),
            summary={"from": seen, "to": app.spec.mode.value, "source": "config", "override": False},
            outcome=effective.value,
        )
        if seen is not None:
            log(logging.WARNING, f"config mode changed: {seen} → {app.spec.mode.value}", app=app.name)

    def _event(self, app: App, cluster: Cluster, *, reason: str, message: str, warning: bool = False) -> None:
        """A Kubernetes Event in the app's namespace, on its first object there (else the namespace):
        what ``kubectl describe`` and ``kubectl get events`` show beside the audit trail."""
        namespace = app.spec.destination.namespace
        target: dict[str, Any] = {"apiVersion": "v1", "kind": "Namespace", "name": namespace}
        for obj in self._desired.get(app.name, []):
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
            "reason": reason,
            "message": message[:1000],
            "type": "Warning" if warning else "Normal",
            "source": {"component": "plumbline-controller", "host": self.settings.identity[:60]},
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
        }
        try:
            cluster.request("POST", f"/api/v1/namespaces/{namespace}/events", body=body)
        except (ApiFailure, PlumbError) as error:
            log(logging.WARNING, f"cannot record a Kubernetes Event: {error}", app=app.name)

    def _interrupted(self, app: App, cluster: Cluster) -> bool:
        """True (and reported) if a sync of the app was interrupted (its writer died mid-apply); the
        caller then syncs again, which finishes it (apply is idempotent). The rule is the write path's
        (:func:`engine.close_interrupted`); this replica holds the app's Lease, so it may say so."""
        closed = engine.close_interrupted(self.store, cluster, app.name, writer=self._writer())
        for record in closed:
            log(logging.WARNING, f"{record.message}; syncing again", app=app.name, revision=record.sha)
        return bool(closed)

    def _writer(self) -> engine.Writer:
        return engine.Writer(
            identity=self.settings.identity,
            namespace=self.settings.lease_namespace,
            duration_s=self.settings.lease_duration_s,
            held=True,
            actor=self.settings.identity,
        )

    def _fight(self, app: App, cluster: Cluster, decision: Decision, *, sha: str) -> None:
        fighting = decision.heal.fighting if decision.heal else ""
        drift = list(decision.drift)
        self.metrics.fights.labels(app=app.name).inc()
        self.store.audit(
            actor=self.settings.identity,
            app=app.name,
            action=AuditAction.FIGHT,
            revision=sha,
            reason=decision.cause,
            summary={"drift": drift},
            outcome="self-heal stopped",
        )
        log(
            logging.ERROR,
            "another writer keeps changing what self-heal reverts; stopped healing",
            app=app.name,
            revision=sha,
            drift=drift,
        )
        self.notifier.send(
            Notice(NoticeKind.FIGHT, app.name, sha, f"self-heal stopped: {fighting}", {"drift": drift})
        )
        self._event(
            app, cluster, reason="SelfHealFight", message=f"self-heal stopped: {fighting}", warning=True
        )

    def _apply(self, app: App, cluster: Cluster, outcome: Outcome, decision: Decision) -> Outcome:
        started = time.monotonic()
        healing = decision.step is Step.HEAL
        reason = decision.cause
        # The write path records the intent before writing and the outcome after (history and audit):
        # if this process dies mid-apply, the next pass (here or on another replica) finishes it.
        _, _, record = engine.sync_app(
            app,
            cluster=cluster,
            store=self.store,
            prune=decision.prune,
            revert_drift=decision.revert,
            config=self.config,
            manual=False,
            writer=self._writer(),
            cause=reason,
            detail={"drift": outcome.drift if healing else []},
        )
        if record.result is SyncResult.BLOCKED and record.summary.get("blocked_by"):
            self.metrics.guard_blocks.labels(app=app.name).inc()
        self.metrics.sync_seconds.labels(app=app.name).observe(time.monotonic() - started)
        result = sync_result(decision, record.result)
        log(
            logging.INFO if record.result is SyncResult.SUCCEEDED else logging.ERROR,
            f"{result.value}: {record.message}",
            app=app.name,
            revision=record.sha,
        )
        succeeded = record.result is SyncResult.SUCCEEDED
        if succeeded:
            self._resolved(app, record.sha, f"synced {record.sha[:12]}")
        if succeeded or self._first_refusal(app.name, record, result, outcome.drift):
            self._event(
                app,
                cluster,
                reason={Result.SYNCED: "Synced", Result.HEALED: "SelfHealed"}.get(result, "SyncFailed"),
                message=f"{reason} at {record.sha[:12]}: {record.result.value}, {record.message}",
                warning=not succeeded,
            )
            if not succeeded:
                blocked = record.result is SyncResult.BLOCKED
                kind = NoticeKind.SYNC_BLOCKED if blocked else NoticeKind.SYNC_FAILED
                self.notifier.send(Notice(kind, app.name, record.sha, record.message, {"sync": record.id}))
        outcome.result, outcome.message, outcome.sha = result, record.message, record.sha
        if record.result is SyncResult.SUCCEEDED:
            outcome.status = engine.SyncStatus.SYNCED
        return outcome

    def _first_refusal(self, app: str, record: SyncRecord, result: Result, drift: list[str]) -> bool:
        """Remember a failed or blocked sync; True if it is not the refusal last notified for ``app``."""
        self._refused[app], new = refusal(
            self._refused.get(app),
            sha=record.sha,
            result=result,
            reason=record.message,
            drift=tuple(drift),
            now=time.monotonic(),
            rules=self.settings.rules,
        )
        return new

    def _resolved(self, app: App, sha: str, how: str) -> None:
        """The refusal last notified for ``app`` is over: say so once."""
        refused = self._refused.pop(app.name, None)
        if refused is None:
            return
        log(logging.INFO, f"no longer {refused.result.value}: {how}", app=app.name, revision=sha)
        self.notifier.send(
            Notice(
                NoticeKind.RESOLVED,
                app.name,
                sha,
                f"no longer {refused.result.value}: {how}",
                {"was": refused.result.value, "revision": refused.sha},
            )
        )

    def _report_drift(self, app: App, cluster: Cluster, plan: Plan, drift: list[str]) -> None:
        if drift and drift != self._reported_drift.get(app.name):
            self.store.audit(
                actor=self.settings.identity,
                app=app.name,
                action=AuditAction.DRIFT,
                revision=plan.sha,
                summary={"drift": drift},
                outcome="observed",
            )
            log(
                logging.WARNING,
                f"drift: {len(drift)} change(s) live that Git does not have",
                app=app.name,
                revision=plan.sha,
                drift=drift,
            )
            self.notifier.send(
                Notice(
                    NoticeKind.DRIFT,
                    app.name,
                    plan.sha,
                    f"{len(drift)} live change(s) Git does not have",
                    {"drift": drift},
                )
            )
            self._event(
                app,
                cluster,
                reason="Drift",
                message=f"live differs from Git: {'; '.join(drift)}",
                warning=True,
            )
        self._reported_drift[app.name] = drift

    # ---- loops --------------------------------------------------------------------------------

    def run_once(self) -> list[Outcome]:
        """One pass over every configured app, in name order."""
        self.config = self._load_config()
        outcomes = [self.reconcile(app) for _, app in sorted(self.config.apps.items())]
        self.file_anchor()
        return outcomes

    def run(self) -> None:
        """Until :meth:`stop`: poll every app each ``interval_s``, and reconcile what is queued."""
        monitor = Monitor(self.health, self.clusters).start()
        try:
            self._run()
        finally:
            monitor.stop()

    def _run(self) -> None:
        next_poll = 0.0
        while not self._stop.is_set():
            moment = time.monotonic()
            if moment >= next_poll:
                try:
                    self.config = self._load_config()
                except PlumbError as error:
                    log(logging.ERROR, f"config cannot be loaded; keeping the last good one: {error}")
                for name in sorted(self.config.apps):
                    self.enqueue(name)
                self.file_anchor()
                next_poll = moment + self.settings.interval_s
            try:
                name = self._queue.get(timeout=max(0.05, min(1.0, next_poll - time.monotonic())))
            except queue.Empty:
                continue
            with self._queue_lock:
                self._queued.discard(name)
            self.metrics.queue_depth.set(self._queue.qsize())
            app = self.config.apps.get(name)
            if app is None:
                continue
            outcome = self.reconcile(app)
            log(
                logging.INFO,
                f"{outcome.result.value} ({outcome.status})",
                app=name,
                revision=outcome.sha,
                mode=outcome.mode.value,
                state=outcome.state.value,
            )

    def _watch(self, app: App, cluster: Cluster) -> None:
        if not self.settings.watch:
            return
        last = self.store.last_sync(app.name)
        desired = (last.desired if last else []) + self._desired.get(app.name, [])
        watcher = self._watchers.get(app.name)
        if watcher is None:
            watcher = Watcher(cluster, app.name, on_change=self.enqueue)
            self._watchers[app.name] = watcher
        watcher.update(desired)
