"""PersistentVolumeClaim (core): Bound is Healthy, Pending (or no phase yet) Progressing, Lost Degraded."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from plumbline.health._model import Health, degraded, healthy, progressing, text, unknown


def assess(obj: Mapping[str, Any]) -> Health:
    phase = text(obj, "status", "phase")
    if phase == "Bound":
        return healthy()
    if phase == "Lost":
        return degraded("the claim lost its volume")
    if phase in ("Pending", ""):
        # No phase: the controller has not looked at it yet (just created).
        return progressing(f"claim is {phase or 'not yet observed'}")
    return unknown(f"unknown claim phase {phase!r}")
