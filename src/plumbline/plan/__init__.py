"""The plan stage: what a sync would do, compared on the server's own terms (server-side dry run)."""

from plumbline.plan.build import build_plan
from plumbline.plan.model import Action, ObjectRef, Plan, PlanItem
from plumbline.plan.normalize import normalize
from plumbline.plan.tracking import APP_LABEL, TRACKING_ANNOTATION, add_tracking, tracked_by

__all__ = [
    "APP_LABEL",
    "TRACKING_ANNOTATION",
    "Action",
    "ObjectRef",
    "Plan",
    "PlanItem",
    "add_tracking",
    "build_plan",
    "normalize",
    "tracked_by",
]
