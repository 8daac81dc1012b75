"""Service (core): Healthy, except a LoadBalancer that has no address assigned yet (Progressing)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from plumbline.health._model import Health, field, healthy, progressing, text


def load_balancer_assigned(obj: Mapping[str, Any]) -> bool:
    """``status.loadBalancer.ingress`` has an entry (even ``[{}]``, as gitops-engine counts it)."""
    entries = field(obj, "status", "loadBalancer", "ingress")
    return isinstance(entries, list) and len(entries) > 0


def assess(obj: Mapping[str, Any]) -> Health:
    if text(obj, "spec", "type") == "LoadBalancer" and not load_balancer_assigned(obj):
        return progressing("waiting for the load balancer to be assigned an address")
    return healthy()
