"""One pass over one app whose owner Lease this replica holds: gather the :class:`Situation` (plan, state,
last sync, memory), :func:`decide`, carry the decision out through the engine's write path, and hand
each thing that happened to the recorder; after a new commit's sync, wait for health, run the
verification window and carry out the response (:func:`respond`: report, pause, roll back). The
memory the decision needs between passes (self-heal's, the last refusal's) is kept here, per app."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from plumbline import engine
from plumbline.cluster import Cluster
from plumbline.config import App, Config, Mode, OnFailure
from plumbline.controller import _record as said
from plumbline.controller._log import log
from plumbline.controller._model import Outcome, Settings
from plumbline.controller._record import Recorder
from plumbline.controller.decide import (
    AfterSync,
    Decision,
    HealMemory,
    PauseChange,
    Refusal,
    Result,
    Situation,
    Step,
    decide,
    refusal,
    respond,
    sync_result,
)
from plumbline.engine import pause as _pause
from plumbline.errors import PlumbError
from plumbline.plan import ObjectRef, Plan, SyncStatus
from plumbline.plan.unchanged import Proof
from plumbline.render import RenderCache
from plumbline.source import Refs
from plumbline.store import AppStateKind, AuditAction, Store, SyncRecord, SyncResult, failed_revisions

if TYPE_CHECKING:
    from plumbline.cluster.cache import LiveCache


class Reconciler:
    def __init__(self, *, store: Store, settings: Settings, recorder: Recorder) -> None:
        self.store, self.settings, self.recorder = store, settings, recorder
        self.desired: dict[str, list[dict[str, Any]]] = {}  # each app's desired objects, last plan
        self._heal: dict[str, HealMemory] = {}
        self._refused: dict[str, Refusal] = {}
        self.renders = RenderCache()  # a pass at an unchanged commit renders nothing (docs/controller.md)
        # The live objects a pass may read from a cache instead of its API server (the controller's),
        # and the kinds' stamps its proofs are checked by (without a cache: read for each plan).
        self.live: Callable[[Cluster], LiveCache | None] = lambda _: None
        # What each app's last plan proved unchanged (docs/unchanged.md): objects others changed and
        # then left alone are proved on later passes too, not only what the last sync recorded.
        self._proofs: dict[str, dict[ObjectRef, Proof]] = {}
        self._recheck_at: dict[str, float] = {}  # when each app's next plan dry-runs every object
        self.refs = Refs()  # each repository's revisions resolved once per interval (docs/controller.md)

    def reconcile(self, app: App, cluster: Cluster, mode: Mode, config: Config) -> Outcome:
        name = app.name
        interrupted = self._interrupted(app, cluster)
        now = time.monotonic()
        recheck = now >= self._recheck_at.setdefault(name, now + self._recheck_after())
        cache = self.live(cluster)
        self._overtaken(app)
        plan, rendered = engine.plan_app(
            app,
            cluster=cluster,
            store=self.store,
            config=config,
            renders=self.renders,
            live=cache,
            stamps=cache,
            proofs=self._proofs.get(name),
            recheck=recheck,
            refs=self.refs,
        )
        if recheck:
            self._recheck_at[name] = now + self._recheck_after()
        self._proofs[name] = {item.ref: item.proof for item in plan.items if item.proof is not None}
        self.desired[name] = [item.desired for item in plan.items if item.desired is not None]
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
            failed=frozenset(failed_revisions(self.store, name)),
        )
        decision = decide(situation, self.settings.rules)
        drift = list(decision.drift)
        self.recorder.planned(app, cluster, plan, drift, engine.planned_health(app, plan, config))
        outcome = Outcome(
            app=name,
            mode=mode,
            state=decision.state,
            result=decision.result,
            status=plan.sync_status,
            sha=plan.sha,
            drift=drift,
            message=decision.message,
        )
        actor = self.settings.identity
        if decision.pause is PauseChange.EXPIRE:
            state = _pause.end_pause(
                self.store, name, drift=drift, actor=actor, action=AuditAction.EXPIRE, revision=plan.sha
            )
            self.recorder.record(said.pause_expired(name, plan.sha, state, drift), app, cluster)
        elif decision.pause is PauseChange.ACTIVATE:
            why = "the drift left from the pause is gone (captured)"
            _pause.activate(self.store, name, actor=actor, reason=why, revision=plan.sha)
        if decision.heal is None:
            self._heal.pop(name, None)
        else:
            self._heal[name] = decision.heal
        if decision.resolved:
            self._resolved(name, plan.sha, decision.resolved)
        if decision.step is Step.STOP_HEALING:
            self.recorder.record(said.fight(name, plan.sha, decision), app, cluster)
        if decision.writes:
            self._proofs.pop(name, None)  # the sync records newer ones
            return self._apply(app, cluster, config, outcome, decision, planned=(plan, rendered))
        return outcome

    def _recheck_after(self) -> float:
        """Seconds until an app's next full dry-run plan: the setting, less up to a tenth at random, so
        apps first seen together do not all recheck in the same pass."""
        return self.settings.recheck_every_s * (1 - 0.1 * random.random())

    def _apply(
        self,
        app: App,
        cluster: Cluster,
        config: Config,
        outcome: Outcome,
        decision: Decision,
        *,
        planned: tuple[Plan, engine.Rendered],
    ) -> Outcome:
        started = time.monotonic()
        # The write path records the intent before writing and the outcome after (history and audit):
        # if this process dies mid-apply, the next pass (here or on another replica) finishes it.
        _, _, record = engine.sync_app(
            app,
            cluster=cluster,
            store=self.store,
            prune=decision.prune,
            revert_drift=decision.revert,
            config=config,
            manual=False,
            writer=self._writer(),
            cause=decision.cause,
            detail={"drift": outcome.drift if decision.step is Step.HEAL else []},
            planned=planned,  # what was decided on is what is written: not rendered and planned again
        )
        result = sync_result(decision, record.result)
        first = False
        if record.result is not SyncResult.SUCCEEDED:
            self._refused[app.name], first = refusal(
                self._refused.get(app.name),
                sha=record.sha,
                result=result,
                reason=record.message,
                drift=decision.drift,
                now=time.monotonic(),
                rules=self.settings.rules,
            )
        ended = said.synced(app.name, record, result, decision.cause, first=first)
        self.recorder.sync_ended(ended, app, cluster, seconds=time.monotonic() - started)
        if record.result is SyncResult.SUCCEEDED:
            self._resolved(app.name, record.sha, f"synced {record.sha[:12]}")
            outcome.status = SyncStatus.SYNCED
        outcome.result, outcome.message, outcome.sha = result, record.message, record.sha
        if decision.step is Step.SYNC and record.result is SyncResult.SUCCEEDED:
            outcome.state = self.store.app_state(app.name).state  # a sync of a new commit ends a hold
            self._after_sync(app, cluster, config, planned[0], record, outcome, decision)
        return outcome

    def _after_sync(
        self,
        app: App,
        cluster: Cluster,
        config: Config,
        plan: Plan,
        record: SyncRecord,
        outcome: Outcome,
        decision: Decision,
    ) -> None:
        """After a new commit's sync: wait for health (audited), run the verification window (audited),
        and carry out :func:`respond`'s answer — report, pause, or roll back to the last good revision."""
        waited = engine.wait_healthy(
            app,
            plan,
            cluster=cluster,
            config=config,
            timeout_s=self.settings.health_timeout_s,
            store=self.store,
            record=record,
            reason="controller: after the sync of a new commit",
        )
        verification = None
        if waited.healthy:
            verification = engine.verify_app(
                app, plan, cluster=cluster, config=config, store=self.store, record=record
            )
            if verification is not None:
                self.recorder.verified(app, cluster, record, verification)
        spec = config.verification(app)
        on_failure = spec.on_failure if spec is not None else OnFailure.REPORT
        health = waited.health
        response = respond(
            AfterSync(
                healthy=waited.healthy,
                health=f"{health.status}: {health.message}" if health.message else str(health.status),
                verification=verification.outcome if verification else None,
                reason=verification.reason if verification else "",
                on_failure=on_failure,
                good=self._good(app.name) if on_failure is OnFailure.ROLLBACK else None,
            )
        )
        if response.action is None:
            return
        outcome.result, outcome.message = response.result, response.reason
        rollback: engine.Rollback | None = None
        if response.action is OnFailure.ROLLBACK:
            try:
                rollback = engine.rollback_app(
                    app,
                    cluster=cluster,
                    store=self.store,
                    config=config,
                    reason=response.reason,
                    manual=False,
                    writer=self._writer(),
                    prune=decision.prune,
                    revert_drift=decision.revert,
                )
            except PlumbError as error:
                outcome.result, outcome.message = (
                    Result.ERROR,
                    f"{response.reason}; the rollback failed: {error}",
                )
            else:
                self._after_rollback(app, cluster, config, rollback, outcome)
        elif response.action is OnFailure.PAUSE:
            duration = timedelta(seconds=self.settings.failure_pause_s)
            paused = _pause.pause(
                self.store, app.name, reason=response.reason, duration=duration, actor=self.settings.identity
            )
            outcome.state = paused.state
        happened = said.responded(app.name, record, response, outcome, rollback, healthy=waited.healthy)
        self.recorder.record(happened, app, cluster)

    def _after_rollback(
        self, app: App, cluster: Cluster, config: Config, rollback: engine.Rollback, outcome: Outcome
    ) -> None:
        """The rollback's outcome in the pass; once applied, the app is held, and its health after the
        rollback is waited for (audited), so the trail says whether the good revision came back."""
        done = rollback.record
        if done.result is not SyncResult.SUCCEEDED:
            outcome.result = Result.BLOCKED if done.result is SyncResult.BLOCKED else Result.FAILED
            outcome.message = f"{outcome.message}; the rollback {done.result.value}: {done.message}"
            return
        outcome.sha, outcome.state = done.sha, AppStateKind.HELD
        engine.wait_healthy(
            app,
            rollback.plan,
            cluster=cluster,
            config=config,
            timeout_s=self.settings.health_timeout_s,
            store=self.store,
            record=done,
            reason="controller: after the rollback",
        )

    def _good(self, app: str) -> str | None:
        """The SHA a rollback of ``app`` would go to now (None: there is none)."""
        try:
            return engine.rollback_target(self.store, app)[0].sha
        except PlumbError:
            return None

    def _overtaken(self, app: App) -> None:
        """The commit kept for the app's revision is forgotten when a sync of another commit of that
        revision finished after it was kept (an operation, ``plumb sync``, another replica): the pass
        asks Git again rather than put an older commit back (:meth:`Refs.overtaken`)."""
        last = self.store.last_sync(app.name)
        source = app.spec.source
        if last is not None and last.finished_at is not None and last.revision == source.target_revision:
            self.refs.overtaken(source.repo_url, source.target_revision, sha=last.sha, at=last.finished_at)

    def _resolved(self, app: str, sha: str, how: str) -> None:
        refused = self._refused.pop(app, None)
        if refused is not None:
            self.recorder.record(said.resolved(app, sha, refused, how))

    def _interrupted(self, app: App, cluster: Cluster) -> bool:
        """True (and reported) if a sync of the app was interrupted (its writer died mid-apply); the
        caller then syncs again, which finishes it (apply is idempotent). The rule is the write path's
        (:func:`engine.close_interrupted`): a write in progress holds the app's write Lease."""
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
