"""The health vocabulary and the small readers every kind's rule shares."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from plumbline.config import HealthStatus


@dataclass(frozen=True)
class Health:
    """One assessment: a status and why (the message may be empty)."""

    status: HealthStatus
    message: str = ""

    def __str__(self) -> str:
        return f"{self.status}: {self.message}" if self.message else str(self.status)


def worst(statuses: Iterable[HealthStatus]) -> HealthStatus:
    """The worst of ``statuses``; Healthy if there are none."""
    return max(statuses, key=lambda s: s.rank, default=HealthStatus.HEALTHY)


def healthy(message: str = "") -> Health:
    return Health(HealthStatus.HEALTHY, message)


def progressing(message: str = "") -> Health:
    return Health(HealthStatus.PROGRESSING, message)


def degraded(message: str = "") -> Health:
    return Health(HealthStatus.DEGRADED, message)


def suspended(message: str = "") -> Health:
    return Health(HealthStatus.SUSPENDED, message)


def unknown(message: str = "") -> Health:
    return Health(HealthStatus.UNKNOWN, message)


# --- readers: a live object is plain JSON-like data; absent or mistyped fields read as the default ---


def field(obj: Mapping[str, Any], *path: str) -> Any:
    """``obj[path[0]][path[1]]...``, or None where a step is missing or not a mapping."""
    value: Any = obj
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def integer(obj: Mapping[str, Any], *path: str, default: int = 0) -> int:
    value = field(obj, *path)
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def text(obj: Mapping[str, Any], *path: str) -> str:
    value = field(obj, *path)
    return value if isinstance(value, str) else ""


def conditions(obj: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """``status.conditions`` entries that are mappings, in order."""
    found = field(obj, "status", "conditions")
    return [c for c in found if isinstance(c, Mapping)] if isinstance(found, list) else []


def condition(obj: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    """The first ``status.conditions`` entry of type ``kind``, or None."""
    return next((c for c in conditions(obj) if c.get("type") == kind), None)


def is_true(cond: Mapping[str, Any] | None) -> bool:
    return cond is not None and cond.get("status") == "True"


def is_false(cond: Mapping[str, Any] | None) -> bool:
    return cond is not None and cond.get("status") == "False"


def generation_unobserved(obj: Mapping[str, Any], what: str) -> Health | None:
    """Progressing if the controller has not yet seen the object's current spec, else None.

    For kinds whose controller always writes ``status.observedGeneration``: absent means the
    controller has not looked yet (right after create), so the object is never taken as done —
    the race where a fresh object with no status reads as ready.
    """
    generation = integer(obj, "metadata", "generation")
    observed = field(obj, "status", "observedGeneration")
    if not isinstance(observed, int) or isinstance(observed, bool):
        return progressing(f"waiting for the {what} controller to observe it (no status yet)")
    if generation > observed:
        return progressing(
            f"waiting for the {what} controller to observe generation {generation} (observed: {observed})"
        )
    return None
