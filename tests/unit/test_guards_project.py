"""Project bounds: repositories, namespaces and kinds outside the Project block."""

from __future__ import annotations

from typing import Any

from plumbline.guards import Finding, run_guards
from plumbline.plan import Action, Keep, Plan
from tests.support.guards import context, corpus, deployment, guestbook, plan_of, project


def bounds(plan: Plan, **kw: Any) -> list[Finding]:
    return run_guards(plan=plan, context=context(**kw), only={"project"})


def test_repo_namespace_and_cluster_kinds_outside_the_project_block() -> None:
    elsewhere = deployment("orders")
    elsewhere["metadata"]["namespace"] = "kube-system"
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "x.y"},
    }
    the_project = project(sourceRepos=["https://git.example/shop/*"], destinations=[{"namespace": "shop"}])
    findings = bounds(plan_of([elsewhere, crd]), the_project=the_project)
    assert {(f.subject, f.field) for f in findings} == {
        ("App/orders", "spec.source.repoURL"),
        ("Deployment/orders", "metadata.namespace"),
        ("CustomResourceDefinition/x.y", "kind"),
    }
    assert all(f.blocks and f.fix for f in findings)


def test_a_kept_prune_candidate_outside_the_destination_blocks_a_prune() -> None:
    plan = plan_of([deployment("orders")], base=[deployment("orders"), deployment("web")])
    (theirs,) = [i for i in plan.items if i.action is Action.PRUNE]
    theirs.kept = Keep.OUTSIDE_DESTINATION
    theirs.note = "carries this app's tracking, but namespace b is outside the app's destination (shop)"
    assert bounds(plan) == []  # nothing would be deleted without --prune: no finding
    [finding] = bounds(plan, prune=True)
    assert finding.blocks and finding.subject == "Deployment/web" and "namespace b" in finding.message
    assert "Instance" in finding.fix and "PLUMBLINE_INSTANCE" in finding.fix
    # An object tracked in the old format is reported by the plan, and does not block.
    theirs.kept = Keep.OLD_TRACKING
    assert bounds(plan, prune=True) == []


def test_clean_apps_pass() -> None:
    assert bounds(plan_of(guestbook(), namespace="guestbook")) == []
    allow_all = project(clusterResourceAllowList=[{"group": "*", "kind": "*"}])
    assert bounds(plan_of(corpus(), namespace="default"), the_project=allow_all) == []
