"""What in a plan is *drift* (live moved away from Git) rather than a new commit, as the controller
reports it: one line per field attributed to drift (:data:`~plumbline.plan.attribution.DRIFT`), plus,
at the commit last synced, each object deleted live (a create at an unchanged commit).
"""

from __future__ import annotations

from collections import Counter

from plumbline.plan import Action, Plan
from plumbline.plan.attribution import DRIFT, Attribution


def drift_of(plan: Plan, *, last_sha: str | None) -> list[str]:
    """Drift in ``plan``, one line per field (or object deleted live), sorted."""
    lines = {f"{c.ref} {c.pointer} ({c.attribution.value})" for c in plan.changes_of(*DRIFT)}
    if plan.sha == last_sha:
        # An object deleted live shows as a create at an unchanged commit. (Prune candidates are not
        # drift: they are what an earlier commit removed, left until prune is on.)
        lines |= {f"{i.ref} (create)" for i in plan.of(Action.CREATE)}
    return sorted(lines)


def counts_by_class(plan: Plan) -> dict[Attribution, int]:
    """Changes per attribution class, for metrics and reports."""
    return dict(Counter(c.attribution for c in plan.changes))
