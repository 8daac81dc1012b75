"""APIService (apiregistration.k8s.io): Healthy when Available; otherwise Progressing with its reason."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from plumbline.health._model import Health, condition, healthy, is_true, progressing


def assess(obj: Mapping[str, Any]) -> Health:
    available = condition(obj, "Available")
    if available is None:
        return progressing("waiting for the aggregator to check the APIService")
    message = f"{available.get('reason') or ''}: {available.get('message') or ''}"
    return healthy(message) if is_true(available) else progressing(message)
