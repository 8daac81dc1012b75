"""CronJob (batch): Suspended when ``spec.suspend``; else Healthy — each Job it starts has its own health."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from plumbline.health._model import Health, field, healthy, suspended


def assess(obj: Mapping[str, Any]) -> Health:
    if field(obj, "spec", "suspend") is True:
        return suspended("CronJob is suspended")
    return healthy()
