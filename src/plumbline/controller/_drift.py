"""Drift counted for metrics. What a plan's drift is: :func:`plumbline.plan.drift.drift_of`."""

from __future__ import annotations

from collections import Counter

from plumbline.plan import Plan
from plumbline.plan.attribution import Attribution


def counts_by_class(plan: Plan) -> dict[Attribution, int]:
    """Changes per attribution class, for metrics and reports."""
    return dict(Counter(c.attribution for c in plan.changes))
