"""``plumb readiness APP``: is the next step on the automation gradient safe, and why.

From the store (how long the app has been on its current step, its last syncs, fights in the audit)
and one fresh plan (drift nobody has classified yet, runtime fields ignored by rule, what a first
prune would delete). Every check that fails is a reason a person can act on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from plumbline import engine
from plumbline.cluster import Cluster
from plumbline.config import App, Config, Mode
from plumbline.engine import effective_mode
from plumbline.plan.attribution import Attribution
from plumbline.plan.drift import drift_of
from plumbline.store import AppStateKind, AuditAction, Store, SyncResult, now


@dataclass
class Readiness:
    app: str
    mode: Mode
    next_mode: Mode | None
    ready: bool
    reasons: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """For ``-o json`` (camelCase keys, as every ``-o json``)."""
        return {
            "app": self.app,
            "mode": self.mode.value,
            "next": self.next_mode.value if self.next_mode else None,
            "ready": self.ready,
            "reasons": self.reasons,
            "facts": self.facts,
        }


def readiness(
    app: App, *, cluster: Cluster, store: Store, min_days: float = 7.0, config: Config | None = None
) -> Readiness:
    mode = effective_mode(app, store)
    steps = list(Mode)
    next_mode = steps[mode.rank + 1] if mode.rank + 1 < len(steps) else None
    records = store.audit_log(app.name)
    history = store.history(app.name, limit=5, with_desired=False)
    on_step_since = None
    for record in records:
        if record.action == AuditAction.MODE and record.outcome == mode.value:
            on_step_since = record.time
    if on_step_since is None:
        times = [r.time for r in records] + [h.started_at for h in history]
        on_step_since = min(times) if times else None
    days = (now() - on_step_since).total_seconds() / 86400 if on_step_since else 0.0

    plan, _ = engine.plan_app(app, cluster=cluster, store=store, config=config)
    last = store.last_sync(app.name)
    drift = drift_of(plan, last_sha=last.sha if last else None)
    runtime = plan.changes_of(Attribution.RUNTIME)
    rules = sorted({c.rule for c in runtime if c.rule})
    prune = plan.prunable
    failed = [
        h for h in history if h.result in (SyncResult.FAILED, SyncResult.BLOCKED, SyncResult.INTERRUPTED)
    ]
    fights = [
        r for r in records if r.action == AuditAction.FIGHT and on_step_since and r.time >= on_step_since
    ]
    state = store.app_state(app.name)

    reasons: list[str] = []
    ok = next_mode is not None
    if next_mode is None:
        reasons.append("prune is the last step of the gradient")
    line = f"{days:.1f} days on {mode.value} (need {min_days:g})"
    reasons.append(line)
    ok &= days >= min_days
    reasons.append(f"{len(drift)} unclassified drift" + (": " + "; ".join(drift[:5]) if drift else ""))
    ok &= not drift
    reasons.append(f"{len(runtime)} runtime field(s) covered by {len(rules)} rule(s)")
    results = ", ".join(h.result.value for h in history) or "none"
    reasons.append(f"last syncs: {results}")
    ok &= not failed
    if fights:
        reasons.append(f"{len(fights)} self-heal fight(s) on this step: another writer owns some fields")
        ok = False
    if state.state is not AppStateKind.ACTIVE:
        reasons.append(f"the app is {state.state.value}")
        ok = False
    if next_mode is Mode.PRUNE or mode is Mode.PRUNE:
        reasons.append(
            f"{len(prune)} object(s) a prune would delete now"
            + (": " + "; ".join(str(i.ref) for i in prune[:5]) if prune else "")
        )
        ok &= not prune
    return Readiness(
        app=app.name,
        mode=mode,
        next_mode=next_mode,
        ready=bool(ok),
        reasons=reasons,
        facts={
            "daysOnStep": round(days, 2),
            "drift": drift,
            "runtimeFields": len(runtime),
            "rules": rules,
            "lastSyncs": [h.result.value for h in history],
            "fights": len(fights),
            "state": state.state.value,
            "pruneCandidates": [str(i.ref) for i in prune],
        },
    )
