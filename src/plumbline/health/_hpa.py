"""HorizontalPodAutoscaler (autoscaling): by its conditions, as gitops-engine reads them.

v1 keeps the conditions in the ``autoscaling.alpha.kubernetes.io/conditions`` annotation (JSON);
later versions in ``status.conditions``. No conditions yet: Progressing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from plumbline.health._model import Health, conditions, degraded, field, healthy, progressing, unknown

_ANNOTATION = "autoscaling.alpha.kubernetes.io/conditions"

# (type, reason) pairs the HPA controller sets when it cannot do its job.
_FAILED = {
    ("AbleToScale", "FailedGetScale"),
    ("AbleToScale", "FailedUpdateScale"),
    ("ScalingActive", "FailedGetResourceMetric"),
    ("ScalingActive", "InvalidSelector"),
}
_HEALTHY_TYPES = ("AbleToScale", "ScalingLimited")


def assess(obj: Mapping[str, Any]) -> Health:
    found: list[Mapping[str, Any]] = conditions(obj)
    annotation = field(obj, "metadata", "annotations", _ANNOTATION)
    if isinstance(annotation, str):
        try:
            decoded = json.loads(annotation)
        except ValueError:
            return unknown(f"the {_ANNOTATION} annotation is not JSON")
        found = [c for c in decoded if isinstance(c, Mapping)] if isinstance(decoded, list) else []
    for cond in found:
        message = str(cond.get("message") or "")
        if (cond.get("type"), cond.get("reason")) in _FAILED:
            return degraded(message)
        if cond.get("type") in _HEALTHY_TYPES and cond.get("status") == "True":
            return healthy(message)
    return progressing("Waiting to Autoscale")
