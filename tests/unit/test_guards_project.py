"""Project bounds: repositories, namespaces and kinds outside the Project block."""

from __future__ import annotations

from _guards_support import context, corpus, deployment, guestbook, plan_of, project

from plumbline.guards import run_guards


def bounds(plan, **kw):  # type: ignore[no-untyped-def]
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


def test_clean_apps_pass() -> None:
    assert bounds(plan_of(guestbook(), namespace="guestbook")) == []
    allow_all = project(clusterResourceAllowList=[{"group": "*", "kind": "*"}])
    assert bounds(plan_of(corpus(), namespace="default"), the_project=allow_all) == []
