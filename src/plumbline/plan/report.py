"""Plans as JSON for machines (``plumb diff -o json``). The schema is documented in docs/plan-schema.md."""

from __future__ import annotations

from typing import Any

from plumbline.plan.model import Plan

SCHEMA = "plumbline.dev/plan/v1alpha1"


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "app": plan.app,
        "revision": plan.revision,
        "sha": plan.sha,
        "namespace": plan.namespace,
        "summary": plan.counts,
        "hasChanges": plan.has_changes,
        "objects": [
            {
                "group": item.ref.group,
                "kind": item.ref.kind,
                "namespace": item.ref.namespace,
                "name": item.ref.name,
                "apiVersion": item.api_version,
                "action": item.action.value,
                "source": item.source,
                "note": item.note,
                "error": item.error,
                "conflict": item.conflict,
                "diff": item.diff,
            }
            for item in plan.items
        ],
    }
