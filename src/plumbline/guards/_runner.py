"""Running every guard over a plan, in a fixed order."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

from plumbline.guards import destructive, environment, policy, project, references, secrets, windows
from plumbline.guards._model import Finding, GuardContext
from plumbline.plan import Plan

GuardFn = Callable[..., list[Finding]]

GUARDS: tuple[ModuleType, ...] = (project, environment, destructive, references, secrets, windows, policy)
"""Each module has ``NAME``, ``NEEDS_CLUSTER`` and ``check(*, plan, context) -> list[Finding]``."""


def run_guards(*, plan: Plan, context: GuardContext, only: set[str] | None = None) -> list[Finding]:
    """Every guard's findings for ``plan``, blocks first. Guards needing a cluster are skipped offline."""
    findings: list[Finding] = []
    for guard in GUARDS:
        if only is not None and guard.NAME not in only:
            continue
        if guard.NEEDS_CLUSTER and context.cluster is None:
            continue
        check: GuardFn = guard.check
        findings += check(plan=plan, context=context)
    return sort_findings(findings)


def sort_findings(findings: list[Finding]) -> list[Finding]:
    """Blocks first, then in the guards' order, then by object."""
    return sorted(findings, key=lambda f: (not f.blocks, GUARDS_ORDER[f.guard], str(f.ref or "")))


GUARDS_ORDER = {guard.NAME: index for index, guard in enumerate(GUARDS)}
