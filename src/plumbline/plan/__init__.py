"""The plan stage: what a sync would do, compared on the server's own terms (server-side dry run)."""

from plumbline.plan.build import Bounds, build_plan
from plumbline.plan.model import Action, Keep, ObjectRef, Plan, PlanItem, SyncStatus, Unscanned
from plumbline.plan.normalize import normalize
from plumbline.plan.tracking import (
    APP_LABEL,
    INSTANCE_LABEL,
    TRACKING_ANNOTATION,
    Tracked,
    add_tracking,
    tracked,
)

__all__ = [
    "APP_LABEL",
    "INSTANCE_LABEL",
    "TRACKING_ANNOTATION",
    "Action",
    "Bounds",
    "Keep",
    "ObjectRef",
    "Plan",
    "PlanItem",
    "SyncStatus",
    "Tracked",
    "Unscanned",
    "add_tracking",
    "build_plan",
    "normalize",
    "tracked",
]
