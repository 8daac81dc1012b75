"""Deployment (apps): kubectl's rollout-status rules (as gitops-engine) plus kstatus' condition checks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from plumbline.health._model import (
    Health,
    condition,
    degraded,
    field,
    generation_unobserved,
    healthy,
    integer,
    is_false,
    is_true,
    progressing,
    suspended,
    text,
)


def assess(obj: Mapping[str, Any]) -> Health:
    if field(obj, "spec", "paused") is True:
        return suspended("Deployment is paused")
    if (waiting := generation_unobserved(obj, "Deployment")) is not None:
        return waiting
    advancing = condition(obj, "Progressing")
    if advancing is not None and advancing.get("reason") == "ProgressDeadlineExceeded":
        return degraded(f"Deployment {text(obj, 'metadata', 'name')!r} exceeded its progress deadline")
    wanted = integer(obj, "spec", "replicas", default=1)  # the API server's default
    replicas = integer(obj, "status", "replicas")
    updated = integer(obj, "status", "updatedReplicas")
    available = integer(obj, "status", "availableReplicas")
    if updated < wanted:
        return progressing(f"waiting for rollout: {updated} of {wanted} new replicas updated")
    if replicas > updated:
        return progressing(f"waiting for rollout: {replicas - updated} old replicas pending termination")
    if available < updated:
        return progressing(f"waiting for rollout: {available} of {updated} updated replicas available")
    # kstatus: with a progress deadline the controller reports the finished rollout as
    # Progressing=True/NewReplicaSetAvailable; until it does, the rollout is not known to be done.
    deadline = field(obj, "spec", "progressDeadlineSeconds")
    if isinstance(deadline, int) and not (
        is_true(advancing) and advancing is not None and advancing.get("reason") == "NewReplicaSetAvailable"
    ):
        return progressing("the new ReplicaSet is not yet reported available")
    if is_false(condition(obj, "Available")):
        return progressing("Deployment is not Available")
    return healthy()
