"""Destructive changes: seed 01's wiped database and seed 04's prune surprises are blocked."""

from __future__ import annotations

import copy
from typing import Any

from plumbline.guards import Finding, Severity, run_guards
from plumbline.plan import Action, Keep, Plan
from plumbline.plan.model import CREATE_NAMESPACE_SOURCE
from tests.support.guards import context, corpus, deployment, guestbook, plan_of, project, service

PVC = {
    "apiVersion": "v1",
    "kind": "PersistentVolumeClaim",
    "metadata": {"name": "db-data"},
    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}}},
}
DB: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "StatefulSet",
    "metadata": {"name": "db"},
    "spec": {"serviceName": "db", "selector": {"matchLabels": {"app": "db"}}, "template": {}},
}


def destructive(plan: Plan, **kw: Any) -> list[Finding]:
    return run_guards(plan=plan, context=context(**kw), only={"destructive"})


def test_seed01_pruning_the_database_blocks_with_the_override_to_use() -> None:
    app = [deployment("orders"), service("orders")]
    plan = plan_of(app, base=[*app, DB, PVC])
    findings = destructive(
        plan, prune=True, the_project=project(blastRadius={"maxDeletes": 10, "maxDeletePercent": 100})
    )
    assert {f.subject for f in findings} == {"StatefulSet/db", "PersistentVolumeClaim/db-data"}
    db = next(f for f in findings if f.subject == "StatefulSet/db")
    assert db.blocks and "protected StatefulSet db" in db.message
    assert (
        "--allow destructive:StatefulSet/db --reason" in db.fix
        and "Plumb-Allow: destructive StatefulSet/db" in db.fix
    )


def test_prune_candidates_are_not_judged_when_the_sync_does_not_prune() -> None:
    plan = plan_of([deployment("orders")], base=[deployment("orders"), DB])
    assert destructive(plan, prune=False) == []


def test_protected_annotation_and_project_kinds() -> None:
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "keep", "annotations": {"plumbline.dev/protected": "true"}},
    }
    job = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "backup"}}
    keep = [deployment(f"d{i}") for i in range(8)]
    plan = plan_of(keep, base=[*keep, cm, job])
    findings = destructive(
        plan, prune=True, the_project=project(protectedKinds=[{"group": "batch", "kind": "CronJob"}])
    )
    assert {f.subject for f in findings} == {"ConfigMap/keep", "CronJob/backup"}


def test_replacement_of_a_statefulset_is_detected_offline() -> None:
    changed = copy.deepcopy(DB)
    changed["spec"]["serviceName"] = "db-headless"
    [finding] = destructive(plan_of([changed], base=[DB]))
    assert finding.blocks and "deleting and recreating the protected StatefulSet" in finding.message
    assert "spec.serviceName" in finding.message


def test_replacement_of_an_unprotected_deployment_warns() -> None:
    changed = deployment("orders")
    changed["spec"]["selector"] = {"matchLabels": {"app": "orders-v2"}}
    [finding] = destructive(plan_of([changed], base=[deployment("orders")]))
    assert finding.severity is Severity.WARN


def test_blast_radius() -> None:
    base = [deployment(f"d{i}") for i in range(20)]
    plan = plan_of(base[:5], base=base)
    [finding] = destructive(plan, prune=True)
    assert finding.subject == "App/orders" and "15 of 20 objects (75%)" in finding.message
    assert destructive(plan_of(base[:18], base=base), prune=True) == []


def test_empty_render_never_prunes() -> None:
    plan = plan_of([], base=[deployment("orders"), service("orders")])
    [finding] = destructive(plan, prune=True)
    assert finding.blocks and "render is empty" in finding.message


def test_an_empty_render_is_empty_whatever_plumbline_adds_itself() -> None:
    """syncOptions.createNamespace adds the destination Namespace to every render: it is not Git's."""
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}
    plan = plan_of([ns], base=[ns, deployment("orders"), service("orders")])
    (added,) = [i for i in plan.items if i.ref.kind == "Namespace"]
    added.source = CREATE_NAMESPACE_SOURCE
    wide = project(blastRadius={"maxDeletes": 100, "maxDeletePercent": 100})
    [finding] = destructive(plan, prune=True, the_project=wide)
    assert finding.blocks and "render is empty" in finding.message
    # The same Namespace declared in Git is a render like any other: the blast radius decides.
    added.source = "apps/orders/namespace.yaml"
    assert destructive(plan, prune=True, the_project=wide) == []


def test_kept_prune_candidates_are_not_counted_as_deletes() -> None:
    base = [deployment(f"d{i}") for i in range(4)]
    plan = plan_of(base[:3], base=base)
    for item in plan.items:
        if item.action is Action.PRUNE:
            item.kept = Keep.OUTSIDE_DESTINATION
    assert plan.prunable == [] and destructive(plan, prune=True) == []


def test_clean_apps_pass() -> None:
    assert destructive(plan_of(guestbook(), base=guestbook(), namespace="guestbook"), prune=True) == []
    assert destructive(plan_of(corpus(), namespace="default"), prune=True) == []
