"""Destructive changes: deleting, pruning or replacing protected objects; blast radius; empty renders.

Seed 01, incident 1 (a merge wiped the live database) and seed 04 (prune deleting what the cluster
needed). Protected: PVCs, PVs, StatefulSets, Namespaces, CRDs, the Project's ``protectedKinds`` and
anything annotated ``plumbline.dev/protected: "true"``. A replacement is an update the API server
refuses because it changes an immutable field: applying it means delete and create.
"""

from __future__ import annotations

import re
from typing import Any

from plumbline.config import GuardName, Severity
from plumbline.guards._model import Finding, GuardContext, finding
from plumbline.plan import Action, ObjectRef, Plan, PlanItem

NAME = GuardName.DESTRUCTIVE
NEEDS_CLUSTER = False

PROTECTED_ANNOTATION = "plumbline.dev/protected"
ALWAYS_PROTECTED: frozenset[tuple[str, str]] = frozenset(
    {
        ("", "PersistentVolumeClaim"),
        ("", "PersistentVolume"),
        ("apps", "StatefulSet"),
        ("", "Namespace"),
        ("apiextensions.k8s.io", "CustomResourceDefinition"),
    }
)
# How the API server words a change it cannot make in place.
_IMMUTABLE = re.compile(r"field is immutable|updates to \w+ spec for fields other than|is immutable", re.I)

# An offline plan (plumb check) marks an update that changes an immutable field with this note.
REPLACE_NOTE = "replace: "

# Fields that cannot change in place, for offline comparison of two renders (plumb check).
IMMUTABLE_FIELDS: dict[tuple[str, str], tuple[tuple[str, ...], ...]] = {
    ("apps", "StatefulSet"): (
        ("spec", "selector"),
        ("spec", "serviceName"),
        ("spec", "volumeClaimTemplates"),
    ),
    ("apps", "Deployment"): (("spec", "selector"),),
    ("apps", "DaemonSet"): (("spec", "selector"),),
    ("batch", "Job"): (("spec", "selector"), ("spec", "template")),
    ("", "PersistentVolumeClaim"): (
        ("spec", "storageClassName"),
        ("spec", "accessModes"),
        ("spec", "volumeName"),
    ),
    ("", "Service"): (("spec", "clusterIP"),),
}


def is_protected(ref: ObjectRef, obj: dict[str, Any] | None, context: GuardContext) -> bool:
    if (ref.group, ref.kind) in ALWAYS_PROTECTED or context.project.is_protected(ref.group, ref.kind):
        return True
    annotations = ((obj or {}).get("metadata") or {}).get("annotations") or {}
    return str(annotations.get(PROTECTED_ANNOTATION, "")).lower() == "true"


def replacement_field(item: PlanItem) -> str | None:
    """Why ``item`` needs delete + create: the server's immutable-field refusal, else None."""
    if item.error and _IMMUTABLE.search(item.error):
        return item.error
    return None


def changed_immutable(ref: ObjectRef, before: dict[str, Any], after: dict[str, Any]) -> str | None:
    """The first immutable field (dotted) that differs between two desired objects, else None."""
    for path in IMMUTABLE_FIELDS.get((ref.group, ref.kind), ()):
        a: Any = before
        b: Any = after
        for key in path:
            a = a.get(key) if isinstance(a, dict) else None
            b = b.get(key) if isinstance(b, dict) else None
        if a is not None and b is not None and a != b:
            return ".".join(path)
    return None


def check(*, plan: Plan, context: GuardContext) -> list[Finding]:
    findings: list[Finding] = []
    for item in plan.items:
        ref = item.ref
        protected = is_protected(ref, item.live or item.desired, context)
        if item.action is Action.PRUNE and not item.kept and context.prune and protected:
            message = (
                f"pruning would delete the protected {ref.kind} {ref.name} (no longer in Git); "
                "its data goes with it"
            )
            fix = "put it back in Git if the removal was a mistake"
            findings.append(finding(NAME, ref, message, fix, overridable=True))
        why = replacement_field(item)
        if why is None and item.note.startswith(REPLACE_NOTE):
            why = item.note.removeprefix(REPLACE_NOTE)
        if why:
            message = (
                f"this change cannot be made in place (the server says: {why}); applying it "
                f"means deleting and recreating the {'protected ' if protected else ''}{ref.kind}"
            )
            fix = "revert the immutable field in Git; if the object must be recreated, do it deliberately"
            severity = Severity.BLOCK if protected else Severity.WARN
            findings.append(finding(NAME, ref, message, fix, severity=severity, overridable=True))
    findings += _blast_radius(plan, context)
    return findings


def _blast_radius(plan: Plan, context: GuardContext) -> list[Finding]:
    pruned = plan.prunable
    if not pruned or not context.prune:
        return []
    existing = [i for i in plan.items if i.action is not Action.CREATE and not i.kept]
    limits = context.project.spec.blast_radius
    share = 100 * len(pruned) / max(len(existing), 1)
    if plan.empty_render:  # what plumbline adds itself (createNamespace) is not a render
        message = (
            f"the render is empty: pruning would delete all {len(pruned)} objects of the app; "
            "an empty render never prunes (a wrong path or a broken overlay looks exactly like this; "
            "objects plumbline adds itself, such as the createNamespace Namespace, do not count)"
        )
        fix = "check the app's source path and revision; to tear the app down on purpose, override"
    elif len(pruned) > limits.max_deletes or share > limits.max_delete_percent:
        message = (
            f"pruning would delete {len(pruned)} of {len(existing)} objects ({share:.0f}%); the "
            f"project allows at most {limits.max_deletes} or {limits.max_delete_percent}% per sync"
        )
        fix = "check the render lost nothing by mistake (plumb diff), or prune in smaller steps"
    else:
        return []
    return [finding(NAME, context.app_subject, message, fix, overridable=True)]
