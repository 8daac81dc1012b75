"""DaemonSet (apps): kubectl's rollout-status rules, as gitops-engine applies them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from plumbline.health._model import Health, generation_unobserved, healthy, integer, progressing, text


def assess(obj: Mapping[str, Any]) -> Health:
    if (waiting := generation_unobserved(obj, "DaemonSet")) is not None:
        return waiting
    desired = integer(obj, "status", "desiredNumberScheduled")
    updated = integer(obj, "status", "updatedNumberScheduled")
    available = integer(obj, "status", "numberAvailable")
    if text(obj, "spec", "updateStrategy", "type") == "OnDelete":
        return healthy(f"daemon set {updated} out of {desired} new pods have been updated")
    if updated < desired:
        return progressing(f"waiting for rollout: {updated} of {desired} new pods updated")
    if available < desired:
        return progressing(f"waiting for rollout: {available} of {desired} updated pods available")
    return healthy()
