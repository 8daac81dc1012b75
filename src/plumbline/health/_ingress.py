"""Ingress (networking.k8s.io, extensions): Healthy once its controller has assigned an address."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from plumbline.health._model import Health, healthy, progressing
from plumbline.health._service import load_balancer_assigned


def assess(obj: Mapping[str, Any]) -> Health:
    if not load_balancer_assigned(obj):
        return progressing("waiting for the ingress controller to assign an address")
    return healthy()
