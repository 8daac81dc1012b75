"""Plans as JSON for machines (``plumb diff -o json``). The schema is documented in docs/plan-schema.md.

The schema id changes whenever a field is removed or changes meaning; fields may be added.
"""

from __future__ import annotations

from typing import Any

from plumbline.plan.attribution import FieldChange
from plumbline.plan.model import ObjectRef, Plan, Unscanned

SCHEMA = "plumbline.dev/plan/v1alpha1"


def ref_to_dict(ref: ObjectRef) -> dict[str, Any]:
    return {"group": ref.group, "kind": ref.kind, "namespace": ref.namespace, "name": ref.name}


def change_to_dict(change: FieldChange) -> dict[str, Any]:
    """One attributed field change; ``path`` is the structured path (merge-keyed list items as objects)."""
    editor = change.editor
    return {
        "path": list(change.path),
        "pointer": change.pointer,
        "attribution": change.attribution.value,
        "live": change.live,
        "git": change.git,
        "lastSynced": change.last_synced,
        "editor": None
        if editor is None
        else {
            "manager": editor.manager,
            "operation": editor.operation,
            "time": editor.time.isoformat() if editor.time else None,
        },
        "rule": change.rule,
    }


def unscanned_to_dict(u: Unscanned) -> dict[str, Any]:
    return {"group": u.group, "kind": u.kind, "namespace": u.namespace, "scan": u.scan, "reason": u.reason}


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    attributions: dict[str, int] = {}
    for change in plan.changes:
        attributions[change.attribution.value] = attributions.get(change.attribution.value, 0) + 1
    return {
        "schema": SCHEMA,
        "app": plan.app,
        "revision": plan.revision,
        "sha": plan.sha,
        "namespace": plan.namespace,
        "summary": plan.counts,
        "attributions": attributions,
        "hasChanges": plan.has_changes,
        "unscanned": [unscanned_to_dict(u) for u in plan.unscanned],
        "objects": [
            {
                **ref_to_dict(item.ref),
                "apiVersion": item.api_version,
                "action": item.action.value,
                "source": item.source,
                "note": item.note,
                "error": item.error,
                "conflict": item.conflict,
                "kept": item.kept.value if item.kept else None,
                "proven": item.proven,
                "changes": [change_to_dict(c) for c in item.changes],
                "diff": item.diff,
            }
            for item in plan.items
        ],
    }
