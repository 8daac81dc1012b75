"""How plumbline marks the objects it manages, and recognises them again.

A label makes them cheap to find (a label selector); the annotation names the app *and* the object,
so a label copied onto another object (or a whole manifest copied between apps) is not taken for
ours, the way Argo CD's annotation-based tracking avoids it.
"""

from __future__ import annotations

from typing import Any

from plumbline.plan.model import ObjectRef

APP_LABEL = "plumbline.dev/app"
TRACKING_ANNOTATION = "plumbline.dev/tracking-id"


def tracking_id(app: str, ref: ObjectRef) -> str:
    return f"{app}:{ref.group}/{ref.kind}:{ref.namespace or ''}/{ref.name}"


def add_tracking(obj: dict[str, Any], *, app: str) -> None:
    """Mark ``obj`` (in place) as managed by ``app``."""
    metadata = obj.setdefault("metadata", {})
    metadata.setdefault("labels", {})[APP_LABEL] = app
    metadata.setdefault("annotations", {})[TRACKING_ANNOTATION] = tracking_id(app, ObjectRef.of(obj))


def tracked_by(obj: dict[str, Any], *, app: str) -> bool:
    """True if ``obj`` carries this app's tracking annotation for exactly this object."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return bool(annotations.get(TRACKING_ANNOTATION) == tracking_id(app, ObjectRef.of(obj)))
