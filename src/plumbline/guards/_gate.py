"""The gate a sync passes through: every guard over the plan, then what lets a block through — the
user's ``--allow``, the commit's ``Plumb-Allow`` trailers and the app's standing GuardExceptions."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from plumbline.cluster import Cluster
from plumbline.config import App, Config, GuardException, Severity
from plumbline.guards._model import Finding, GuardContext
from plumbline.guards._reach import checkout_info
from plumbline.guards._runner import run_guards, sort_findings
from plumbline.guards.overrides import (
    Allow,
    ExceptionUse,
    Overridden,
    apply_overrides,
    exception_allow,
    parse_allow,
    trailers,
)
from plumbline.plan import Plan
from plumbline.source import Checkout
from plumbline.store import Store


@dataclass(frozen=True)
class GateResult:
    findings: list[Finding]
    blocking: list[Finding]  # blocks nothing let through: the sync must not write
    overridden: list[Overridden]  # blocks let through, with who/why: history records them
    exceptions: list[ExceptionUse] = field(default_factory=list)  # the app's, active and expired

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.WARN]

    @property
    def expired(self) -> list[ExceptionUse]:
        return [use for use in self.exceptions if use.expired]

    def blocked_by(self) -> str:
        """``references Deployment/carts (exception carts-tracing expired 2026-11-30); ...``"""
        parts = []
        for finding in self.blocking:
            lapsed = [u for u in self.expired if finding in u.covers]
            note = "".join(
                f" (exception {u.exception.name} expired {u.exception.spec.expires.date().isoformat()})"
                for u in lapsed
            )
            parts.append(f"{finding.guard} {finding.subject}{note}")
        return "; ".join(parts)


def decide(
    findings: list[Finding],
    *,
    allows: Sequence[Allow] = (),
    trailers: Sequence[Allow] = (),
    exceptions: Sequence[GuardException] = (),
    now: datetime,
) -> GateResult:
    """Which blocking findings still block, given the overrides in force at ``now``.

    The one place findings become blocking (``plumb sync``, the controller and ``plumb check`` all
    come here). An exception that expired before ``now`` lets nothing through; a finding it would have
    covered blocks and its message says the exception expired, so the owner knows what to renew.
    """
    active = [exception_allow(e) for e in exceptions if not e.expired(now)]
    lapsed = {e.name: exception_allow(e) for e in exceptions if e.expired(now)}
    remaining, overridden = apply_overrides(findings, list(allows), [*trailers, *active])
    amended: dict[Finding, Finding] = {}
    for finding in remaining:
        gone = [a for a in lapsed.values() if a.matches(finding)]
        if gone:
            notes = "; ".join(
                f"standing exception {a.name!r} (owner {a.owner}) expired "
                f"{a.expires.date().isoformat() if a.expires else ''} and no longer applies"
                for a in gone
            )
            amended[finding] = replace(finding, message=f"{finding.message} ({notes})")
    findings = [amended.get(f, f) for f in findings]
    remaining = [amended.get(f, f) for f in remaining]
    uses = []
    for exception in exceptions:
        if exception.name in lapsed:
            covers = tuple(f for f in remaining if lapsed[exception.name].matches(f))
            uses.append(ExceptionUse(exception, expired=True, covers=covers))
        else:
            covers = tuple(o.finding for o in overridden if o.allow.name == exception.name)
            uses.append(ExceptionUse(exception, expired=False, covers=covers))
    return GateResult(findings=findings, blocking=remaining, overridden=overridden, exceptions=uses)


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
    only: set[str] | None = None,
    base: str | None = None,
    more: Callable[[GuardContext], list[Finding]] | None = None,
) -> GateResult:
    """Run every guard on ``plan`` (or those named in ``only``; without ``cluster``, those that need
    none); apply ``--allow GUARD:KIND/NAME`` (with ``reason``), the ``Plumb-Allow`` trailers of the
    commit and the app's GuardExceptions. ``manual`` is False when the controller syncs. ``base``: the
    SHA a merge request is checked against (``plumb check``; strict signature checks start there).
    ``more`` adds findings made over the same context from outside the plan (``plumb check``'s
    Terraform plans)."""
    info = checkout_info(checkout, cache=cache, base=base)
    context = GuardContext.of(
        app, config, checkout=info, store=store, cluster=cluster, prune=prune, manual=manual
    )
    findings = run_guards(plan=plan, context=context, only=only)
    if more is not None:
        findings = sort_findings([*findings, *more(context)])
    return decide(
        findings,
        allows=[parse_allow(text, reason=reason) for text in allow or []],
        trailers=trailers(info.message, sha=info.sha),
        exceptions=config.exceptions_for(app.name),
        now=context.clock(),
    )
