"""The vocabulary of attribution: who is behind each field-level change a sync would make.

Defined once here and used by the plan, the sync's refusal rules, ``plumb drift``, ``plumb capture``,
the guards and the controller. The words are the ones DESIGN.md gives and users see.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from plumbline.plan.model import ObjectRef

# A path into an object: keys of mappings (str) and positions in lists (int), e.g.
# ("spec", "template", "spec", "containers", 0, "image"). Lists with a merge key (containers by
# name, env by name, ports by containerPort) use the key's value in a one-entry dict instead of the
# position: ("spec", "containers", {"name": "web"}, "image") — stable when the list is reordered.
PathPart = str | int | dict[str, Any]
FieldPath = tuple[PathPart, ...]


class Attribution(StrEnum):
    """Why a field would change in a sync."""

    COMMIT = "commit"  # Git changed it since the last sync; live still has the last-synced value
    DRIFT_REVERT = "drift-revert"  # Git did not change it; live did: the sync would undo a live edit
    CONFLICT = "conflict"  # both Git and live changed it since the last sync, to different values
    CREATE = "create"  # the whole object is new
    PRUNE = "prune"  # the whole object left Git and would be deleted
    RUNTIME = "runtime"  # owned by another controller or the server (status, HPA replicas, ...): ignored
    UNMANAGED_ADDITION = "unmanaged-addition"  # live has it, Git never had it (server-side apply keeps it)


# Attributions a sync must not carry out silently (it stops unless told to revert drift).
NEEDS_CONSENT = frozenset({Attribution.DRIFT_REVERT, Attribution.CONFLICT})
# Drift: live moved away from Git (what ``plumb drift`` reports, ``plumb capture`` takes into Git and
# the controller reports, heals in self-heal and holds a pause pending on).
DRIFT = NEEDS_CONSENT | {Attribution.UNMANAGED_ADDITION}


@dataclass(frozen=True)
class Editor:
    """Who last wrote a live field, from ``metadata.managedFields``."""

    manager: str  # e.g. "kubectl-edit", "kubectl-client-side-apply", "kube-controller-manager"
    operation: str  # "Apply" or "Update"
    time: datetime | None  # when that manager last wrote (the entry's time; per manager, not per field)


@dataclass(frozen=True)
class FieldChange:
    """One field a sync would change (or that differs and is deliberately left alone, for RUNTIME).

    ``live`` and ``git`` are the values (None when absent on that side; ``MISSING`` is not used — a
    value of JSON null is rare in manifests and treated as absent). ``last_synced`` is the value in
    the desired state of the last successful sync (None if absent, or if there was none).
    """

    ref: ObjectRef
    path: FieldPath
    attribution: Attribution
    live: Any = None
    git: Any = None
    last_synced: Any = None
    editor: Editor | None = None
    rule: str | None = None  # for RUNTIME: the ignore rule that matched, as people read it

    @property
    def pointer(self) -> str:
        """The path as a JSON pointer people read (merge keys shown as ``[name=web]``)."""
        parts = []
        for part in self.path:
            if isinstance(part, dict):
                parts.append("[" + ",".join(f"{k}={v}" for k, v in part.items()) + "]")
            else:
                parts.append(str(part).replace("~", "~0").replace("/", "~1"))
        return "/" + "/".join(parts)
