"""What in a plan is *drift* (live moved away from Git) rather than a new commit.

With the plan's field-level attribution (``plan.changes``, see plan/attribution.py) drift is every
change attributed ``drift-revert``, ``conflict`` or ``unmanaged-addition``. Plans without attribution
fall back to object level: when the commit is the one last synced, every difference is drift; when it
is a new commit, updated objects count as (possible) drift — erring towards "someone should look".
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from plumbline.plan import Action, Plan

DRIFT_CLASSES = frozenset({"drift-revert", "conflict", "unmanaged-addition"})


def _changes(plan: Plan) -> list[Any] | None:
    changes = getattr(plan, "changes", None)
    return list(changes) if changes is not None else None


def drift_of(plan: Plan, *, last_sha: str | None) -> list[str]:
    """Drift in ``plan``, one line per field (or object, without attribution), sorted."""
    changes = _changes(plan)
    if changes is not None:
        lines = {
            f"{c.ref} {c.pointer} ({c.attribution.value})" for c in changes if c.attribution in DRIFT_CLASSES
        }
        if plan.sha == last_sha:
            # An object deleted live shows as a create at an unchanged commit. (Prune candidates are
            # not drift: they are what an earlier commit removed, left until prune is on.)
            lines |= {f"{i.ref} (create)" for i in plan.items if i.action is Action.CREATE}
        return sorted(lines)
    if plan.sha == last_sha:
        changed = (Action.CREATE, Action.UPDATE)
        return sorted(f"{i.ref} ({i.action.value})" for i in plan.items if i.action in changed)
    return sorted(f"{i.ref} (update)" for i in plan.items if i.action is Action.UPDATE)


def counts_by_class(plan: Plan, *, last_sha: str | None) -> dict[str, int]:
    """Changes per attribution class (or per action, without attribution), for metrics and reports."""
    changes = _changes(plan)
    if changes is not None:
        return dict(Counter(c.attribution.value for c in changes))
    return {k: v for k, v in plan.counts.items() if k != Action.UNCHANGED.value and v}
