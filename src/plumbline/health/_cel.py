"""Per-kind health as CEL (a Project's or App's ``healthChecks``, like Flux's ``healthCheckExprs``).

Each expression sees the object's top-level fields (``metadata``, ``spec``, ``status``...) and
``object``, the whole of it. ``inProgress``, then ``failed``, then ``current``: the first that is true
decides. None true, or one that cannot be evaluated yet (a status field not written so far): Progressing,
saying so — a check that stays unevaluable is caught by the wait's deadline, not taken as healthy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from plumbline.cel import compile_expression, evaluate
from plumbline.config import HealthCheck, HealthStatus
from plumbline.health._model import Health, progressing


def assess(check: HealthCheck, obj: Mapping[str, Any]) -> Health:
    inputs: dict[str, Any] = {key: value for key, value in obj.items() if isinstance(key, str)}
    inputs["object"] = dict(obj)
    problems: list[str] = []
    for name, expression, status in (
        ("inProgress", check.in_progress, HealthStatus.PROGRESSING),
        ("failed", check.failed, HealthStatus.DEGRADED),
        ("current", check.current, HealthStatus.HEALTHY),
    ):
        if expression is None:
            continue
        outcome = evaluate(compile_expression(expression), inputs)
        if outcome is True:
            return Health(status, f"healthChecks {name}: {expression}")
        if isinstance(outcome, str):
            problems.append(f"{name} {outcome}")
    if problems:
        return progressing(f"healthChecks for {check.kind}: {'; '.join(problems)}")
    return progressing(f"healthChecks for {check.kind}: no expression is true yet")
