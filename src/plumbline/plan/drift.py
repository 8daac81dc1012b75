"""The rebuildability report (``plumb drift``): what in the cluster Git could not reproduce.

Built from a plan (its attributed changes) plus one scan of the destination namespace. The verdict
"rebuildable from Git" is no when live holds state Git does not: fields live edits changed
(drift-revert, conflict), unmanaged additions, or objects in the namespace no app owns. Tracked objects
missing from the cluster are reported too, but Git can rebuild them, so they do not change the verdict;
nor do pending commits (Git is ahead of the cluster, which a sync fixes).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from plumbline.cluster import Cluster, ResourceInfo
from plumbline.plan.attribution import DRIFT, Attribution, FieldChange
from plumbline.plan.build import list_or_unscanned
from plumbline.plan.model import Action, ObjectRef, Plan, Unscanned
from plumbline.plan.tracking import TRACKING_ANNOTATION

# Objects the API server or its controllers put in every namespace, or derive from others.
DEFAULT_OBJECTS = frozenset({("", "ConfigMap", "kube-root-ca.crt"), ("", "ServiceAccount", "default")})
DERIVED_KINDS = frozenset(
    {
        ("", "Event"),
        ("events.k8s.io", "Event"),
        ("", "Endpoints"),  # kept in step with its Service by the endpoints controller
        ("discovery.k8s.io", "EndpointSlice"),
        ("", "Binding"),
        ("authorization.k8s.io", "LocalSubjectAccessReview"),
    }
)


def drift_of(plan: Plan, *, last_sha: str | None) -> list[str]:
    """Drift in ``plan`` (live moved away from Git, not a new commit), one line per field, sorted:
    every change attributed drift-revert, conflict or unmanaged-addition; at the commit last synced
    (``last_sha``) also every object deleted live, which shows as a create. Prune candidates are not
    drift: they are what an earlier commit removed, left until prune is on."""
    lines = {f"{c.ref} {c.pointer} ({c.attribution.value})" for c in plan.changes_of(*DRIFT)}
    if plan.sha == last_sha:
        lines |= {f"{i.ref} (create)" for i in plan.of(Action.CREATE)}
    return sorted(lines)


@dataclass
class DriftReport:
    app: str
    namespace: str
    sha: str
    drifted: list[FieldChange] = field(default_factory=list)  # drift-revert, conflict, unmanaged-addition
    missing: list[ObjectRef] = field(default_factory=list)  # tracked (last synced), not in the cluster
    unowned: list[ObjectRef] = field(default_factory=list)  # in the namespace, no app tracks them
    pending: list[FieldChange] = field(default_factory=list)  # commits not synced yet (not drift)
    # Kinds a scan this report rests on may not list (the HPA scan, the scan for unowned objects).
    unscanned: list[Unscanned] = field(default_factory=list)

    @property
    def rebuildable(self) -> bool:
        """Nothing drifted, nothing unowned, and nothing left unread that could hide either."""
        return not self.drifted and not self.unowned and not self.unscanned


def drift_report(
    plan: Plan, *, cluster: Cluster, last_synced: Mapping[ObjectRef, dict[str, Any]] | None
) -> DriftReport:
    """The rebuildability report for ``plan``'s app (``last_synced``: see :func:`build_plan`)."""
    report = DriftReport(app=plan.app, namespace=plan.namespace, sha=plan.sha)
    report.drifted = plan.changes_of(*DRIFT)
    report.pending = plan.changes_of(Attribution.COMMIT)
    synced = last_synced or {}
    report.missing = [item.ref for item in plan.of(Action.CREATE) if item.ref in synced]
    report.unowned, unscanned = unowned_objects(cluster, plan.namespace)
    # The prune scan's gaps hide nothing this report shows; the HPA scan's may make replicas look drifted.
    report.unscanned = [u for u in plan.unscanned if u.scan == "hpa"] + unscanned
    return report


def unowned_objects(cluster: Cluster, namespace: str) -> tuple[list[ObjectRef], list[Unscanned]]:
    """Objects in ``namespace`` that no plumbline app tracks, that no other object owns, and that
    the cluster does not create by itself (see :data:`DEFAULT_OBJECTS`, :data:`DERIVED_KINDS`); and
    the kinds it may not list there."""
    kinds = [
        info
        for info in cluster.discovery.listable()
        if info.namespaced and (info.group, info.kind) not in DERIVED_KINDS
    ]

    def scan(info: ResourceInfo) -> tuple[list[dict[str, Any]], Unscanned | None]:
        return list_or_unscanned(cluster, info, scan="unowned", namespace=namespace)

    found: set[ObjectRef] = set()
    unscanned: list[Unscanned] = []
    for objects, gap in cluster.map(scan, kinds):
        unscanned += [gap] if gap else []
        for obj in objects:
            metadata = obj.get("metadata") or {}
            if metadata.get("ownerReferences") or metadata.get("deletionTimestamp"):
                continue
            if TRACKING_ANNOTATION in (metadata.get("annotations") or {}):
                continue
            ref = ObjectRef.of(obj)
            if (ref.group, ref.kind, ref.name) in DEFAULT_OBJECTS:
                continue
            if ref.kind == "Secret" and obj.get("type") == "kubernetes.io/service-account-token":
                continue
            found.add(ref)
    return sorted(found), unscanned


def drift_to_dict(report: DriftReport) -> dict[str, Any]:
    from plumbline.plan.report import change_to_dict, ref_to_dict, unscanned_to_dict

    def changes(items: list[FieldChange]) -> list[dict[str, Any]]:
        return [{**ref_to_dict(c.ref), **change_to_dict(c)} for c in items]

    return {
        "schema": "plumbline.dev/drift/v1alpha1",
        "app": report.app,
        "namespace": report.namespace,
        "sha": report.sha,
        "rebuildable": report.rebuildable,
        "drifted": changes(report.drifted),
        "missing": [ref_to_dict(r) for r in report.missing],
        "unowned": [ref_to_dict(r) for r in report.unowned],
        "pending": changes(report.pending),
        "unscanned": [unscanned_to_dict(u) for u in report.unscanned],
    }
