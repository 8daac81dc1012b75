"""ReplicaSet (apps): every wanted replica available, no ReplicaFailure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from plumbline.health._model import (
    Health,
    condition,
    degraded,
    generation_unobserved,
    healthy,
    integer,
    is_true,
    progressing,
)


def assess(obj: Mapping[str, Any]) -> Health:
    if (waiting := generation_unobserved(obj, "ReplicaSet")) is not None:
        return waiting
    failure = condition(obj, "ReplicaFailure")
    if is_true(failure) and failure is not None:
        return degraded(str(failure.get("message") or "ReplicaFailure"))
    wanted = integer(obj, "spec", "replicas", default=1)
    available = integer(obj, "status", "availableReplicas")
    if available < wanted:
        return progressing(f"waiting for rollout: {available} of {wanted} replicas available")
    return healthy()
