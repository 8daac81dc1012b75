"""One pass over one app whose owner Lease this replica holds: gather the :class:`Situation` (plan, state,
last sync, memory), :func:`decide`, carry the decision out through the engine's write path, and hand
each thing that happened to the recorder. The memory the decision needs between passes (self-heal's,
the last refusal's) is kept here, per app."""

from __future__ import annotations

import logging
import time
from typing import Any

from plumbline import engine
from plumbline.cluster import Cluster
from plumbline.config import App, Config, Mode
from plumbline.controller import _record as said
from plumbline.controller._log import log
from plumbline.controller._model import Outcome, Settings
from plumbline.controller._record import Recorder
from plumbline.controller.decide import (
    Decision,
    HealMemory,
    PauseChange,
    Refusal,
    Situation,
    Step,
    decide,
    refusal,
    sync_result,
)
from plumbline.engine import pause as _pause
from plumbline.plan import Plan, SyncStatus
from plumbline.store import AuditAction, Store, SyncResult


class Reconciler:
    def __init__(self, *, store: Store, settings: Settings, recorder: Recorder) -> None:
        self.store, self.settings, self.recorder = store, settings, recorder
        self.desired: dict[str, list[dict[str, Any]]] = {}  # each app's desired objects, last plan
        self._heal: dict[str, HealMemory] = {}
        self._refused: dict[str, Refusal] = {}

    def reconcile(self, app: App, cluster: Cluster, mode: Mode, config: Config) -> Outcome:
        name = app.name
        interrupted = self._interrupted(app, cluster)
        plan, rendered = engine.plan_app(app, cluster=cluster, store=self.store, config=config)
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
            return self._apply(app, cluster, config, outcome, decision, planned=(plan, rendered))
        return outcome

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
        return outcome

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
