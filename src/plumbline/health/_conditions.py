"""Generic health from kstatus' standard conditions, for kinds with no rule of their own.

``Stalled=True`` is Degraded; ``Reconciling=True`` Progressing; ``Ready=True`` Healthy; ``Ready`` False
or Unknown Progressing. A status (or a single one of those conditions) that reports an
``observedGeneration`` older than ``metadata.generation`` describes an older spec: Progressing. An
object with none of the three conditions gets no opinion (None): plumbline cannot tell whether
anything will ever report on it (a per-kind CEL check can say).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from plumbline.health._model import Health, condition, degraded, field, healthy, integer, progressing, text


def stale_generation(obj: Mapping[str, Any]) -> Health | None:
    """Progressing if ``status.observedGeneration`` is present and is not the object's generation.

    Absent is no evidence either way for an arbitrary kind (many never set it), so it passes.
    """
    generation = integer(obj, "metadata", "generation")
    observed = field(obj, "status", "observedGeneration")
    if isinstance(observed, int) and generation and observed != generation:
        kind = text(obj, "kind")
        return progressing(
            f"{kind} generation is {generation}, but its status describes generation {observed}"
        )
    return None


def _describe(cond: Mapping[str, Any]) -> str:
    reason, message = cond.get("reason") or "", cond.get("message") or ""
    return f"{reason}: {message}" if reason and message else str(reason or message)


def assess(obj: Mapping[str, Any]) -> Health | None:
    if (stale := stale_generation(obj)) is not None:
        return stale
    generation = integer(obj, "metadata", "generation")
    found = {kind: condition(obj, kind) for kind in ("Stalled", "Reconciling", "Ready")}
    for kind, cond in found.items():
        observed = None if cond is None else cond.get("observedGeneration")
        if isinstance(observed, int) and generation and observed < generation:
            return progressing(f"condition {kind} describes generation {observed}, not {generation}")
    stalled, reconciling, ready = found["Stalled"], found["Reconciling"], found["Ready"]
    # Stalled before Reconciling: when a controller sets both, the worse one is what needs a human.
    if stalled is not None and stalled.get("status") == "True":
        return degraded(_describe(stalled))
    if reconciling is not None and reconciling.get("status") == "True":
        return progressing(_describe(reconciling))
    if ready is not None:
        if ready.get("status") == "True":
            return healthy(_describe(ready))
        return progressing(_describe(ready) or f"Ready is {ready.get('status')}")
    return None
