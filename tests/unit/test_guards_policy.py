"""Policy as code: CEL policies over objects, the default pack, and bad expressions reported."""

from __future__ import annotations

from typing import Any

from plumbline.guards import Finding, Severity, run_guards
from plumbline.plan import Plan
from tests.support.guards import context, corpus, deployment, environment, guestbook, plan_of, project

PROD = environment("prod", protected=True)


def policy(plan: Plan, **kw: Any) -> list[Finding]:
    return run_guards(plan=plan, context=context(**kw), only={"policy"})


def test_latest_image_in_prod_blocks_but_not_in_test() -> None:
    plan = plan_of([deployment("a", image="nginx:latest"), deployment("b", image="nginx"), deployment("c")])
    findings = policy(plan, the_env=PROD)
    assert [(f.subject, f.severity) for f in findings] == [
        ("Deployment/a", Severity.BLOCK),
        ("Deployment/b", Severity.BLOCK),
    ]
    assert "no-latest-image" in findings[0].message
    assert policy(plan) == []


def test_missing_limits_warn() -> None:
    bare = deployment("a")
    del bare["spec"]["template"]["spec"]["containers"][0]["resources"]
    [finding] = policy(plan_of([bare]))
    assert finding.severity is Severity.WARN and "resource-limits" in finding.message


def test_user_policies_and_broken_expressions() -> None:
    the_project = project(
        policies=[
            {
                "name": "team-label",
                "expression": "has(object.metadata.labels) && 'team' in object.metadata.labels",
                "message": "every object names its team",
                "kinds": [{"group": "apps", "kind": "Deployment"}],
            },
            {"name": "broken", "expression": "object.kind ==", "message": "x"},
        ]
    )
    findings = policy(plan_of([deployment("a")]), the_project=the_project)
    assert {(f.subject, f.severity.value) for f in findings} == {
        ("Deployment/a", "block"),
        ("App/orders", "block"),
    }


def test_clean_apps_pass_in_prod() -> None:
    assert [f for f in policy(plan_of(guestbook(), namespace="guestbook"), the_env=PROD) if f.blocks] == []
    blocking = [f.subject for f in policy(plan_of(corpus(), namespace="default")) if f.blocks]
    assert blocking == []
