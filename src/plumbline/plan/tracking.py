"""How plumbline marks the objects it manages, and recognises them again.

Labels make them cheap to find (a label selector on the app's name); the annotation names the
*instance* (this plumbline installation, see :class:`plumbline.config.Instance`), the app and the
object, so none of these is taken for ours: a label copied onto another object, a whole manifest
copied between apps, or an app of the same name that another team's plumbline manages on the same
cluster (Argo CD's ``installationID`` plus annotation tracking, for the same reasons).

The annotation ``INSTANCE/APP:GROUP/KIND:NAMESPACE/NAME`` is unambiguous: instance and app are
DNS-1123 labels, which hold neither ``/`` nor ``:``. Earlier versions wrote ``APP:GROUP/KIND:...``
without the instance (:data:`Tracked.LEGACY`): such an object is adopted when this app applies it
again, and otherwise only reported, never pruned on that old mark alone.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from plumbline.config import DEFAULT_INSTANCE
from plumbline.plan.model import ObjectRef

APP_LABEL = "plumbline.dev/app"
INSTANCE_LABEL = "plumbline.dev/instance"
TRACKING_ANNOTATION = "plumbline.dev/tracking-id"

__all__ = [
    "APP_LABEL",
    "DEFAULT_INSTANCE",
    "INSTANCE_LABEL",
    "TRACKING_ANNOTATION",
    "Tracked",
    "add_tracking",
    "tracked",
    "tracking_id",
]


class Tracked(StrEnum):
    """Whose an object is, by its tracking annotation, as seen by one app of one instance."""

    OURS = "ours"  # this instance, this app, this very object
    LEGACY = "legacy"  # the old mark without an instance, naming this app and this object
    NOT_OURS = "not-ours"  # another instance or app, a copied label, or an annotation for another object


def tracking_id(app: str, ref: ObjectRef, *, instance: str = DEFAULT_INSTANCE) -> str:
    return f"{instance}/{_legacy_id(app, ref)}"


def _legacy_id(app: str, ref: ObjectRef) -> str:
    return f"{app}:{ref.group}/{ref.kind}:{ref.namespace or ''}/{ref.name}"


def add_tracking(obj: dict[str, Any], *, app: str, instance: str = DEFAULT_INSTANCE) -> None:
    """Mark ``obj`` (in place) as managed by ``app`` of ``instance``."""
    metadata = obj.setdefault("metadata", {})
    labels = metadata.setdefault("labels", {})
    labels[APP_LABEL] = app
    labels[INSTANCE_LABEL] = instance
    metadata.setdefault("annotations", {})[TRACKING_ANNOTATION] = tracking_id(
        app, ObjectRef.of(obj), instance=instance
    )


def tracked(obj: dict[str, Any], *, app: str, instance: str = DEFAULT_INSTANCE) -> Tracked:
    """Whether ``obj``'s tracking annotation names ``app`` of ``instance`` and this very object."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    value = annotations.get(TRACKING_ANNOTATION)
    ref = ObjectRef.of(obj)
    if value == tracking_id(app, ref, instance=instance):
        return Tracked.OURS
    if value == _legacy_id(app, ref):
        return Tracked.LEGACY
    return Tracked.NOT_OURS
