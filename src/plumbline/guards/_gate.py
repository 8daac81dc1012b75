"""The gate a sync passes through: every guard over the plan, then the overrides the user gave."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from plumbline.cluster import Cluster
from plumbline.config import App, Config
from plumbline.guards._model import Finding, GuardContext, Severity
from plumbline.guards._reach import checkout_info
from plumbline.guards._runner import run_guards
from plumbline.guards.overrides import Overridden, apply_overrides, parse_allow, trailers
from plumbline.plan import Plan
from plumbline.source import Checkout
from plumbline.store import Store


@dataclass(frozen=True)
class GateResult:
    findings: list[Finding]
    blocking: list[Finding]  # blocks no override named: the sync must not write
    overridden: list[Overridden]  # blocks let through, with who/why: history records them

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.WARN]


def gate(
    *,
    plan: Plan,
    checkout: Checkout,
    app: App,
    config: Config,
    store: Store | None,
    cluster: Cluster | None,
    prune: bool,
    manual: bool,
    allow: list[str] | None = None,
    reason: str | None = None,
    cache: Path | None = None,
) -> GateResult:
    """Run every guard on ``plan``; apply ``--allow GUARD:KIND/NAME`` (with ``reason``) and the
    ``Plumb-Allow`` trailers of the commit. ``manual`` is False when the controller syncs."""
    info = checkout_info(checkout, cache=cache)
    context = GuardContext(
        app=app,
        project=config.project(app.spec.project),
        environment=config.environment(app.spec.environment),
        checkout=info,
        apps=config.apps,
        environments=config.environments,
        store=store,
        cluster=cluster,
        prune=prune,
        manual=manual,
    )
    findings = run_guards(plan=plan, context=context)
    allows = [parse_allow(text, reason=reason) for text in allow or []]
    blocking, overridden = apply_overrides(findings, allows, trailers(info.message, sha=info.sha))
    return GateResult(findings=findings, blocking=blocking, overridden=overridden)
