"""CustomResourceDefinition (apiextensions.k8s.io): Healthy once Established, names accepted."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from plumbline.health._model import (
    Health,
    condition,
    conditions,
    degraded,
    healthy,
    is_false,
    is_true,
    progressing,
)


def _why(cond: Mapping[str, Any] | None) -> str:
    return str((cond or {}).get("message") or (cond or {}).get("reason") or "")


def assess(obj: Mapping[str, Any]) -> Health:
    if not conditions(obj):
        return progressing("waiting for the API server to report the CRD's conditions")
    terminating = condition(obj, "Terminating")
    if is_true(terminating):
        return progressing(f"CRD is being deleted: {_why(terminating)}")
    names = condition(obj, "NamesAccepted")
    if is_false(names):
        return degraded(f"CRD names were not accepted: {_why(names)}")
    established = condition(obj, "Established")
    if is_true(established):
        violations = condition(obj, "NonStructuralSchema")
        if is_true(violations):
            return degraded(f"CRD schema is not structural: {_why(violations)}")
        return healthy("CRD is established")
    if established is not None and established.get("reason") not in (None, "", "Installing"):
        return degraded(f"CRD is not established: {_why(established)}")
    return progressing("CRD is being installed")
