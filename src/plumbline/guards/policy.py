"""Policy as code: CEL expressions that must hold for every object, plus the API server's own denials.

Each policy (Project ``spec.policies``, and the default pack below) is an expression over:

* ``object`` — the desired object; ``live`` — the live one (null if none);
* ``containers`` — every container of a Pod or workload (empty for other kinds);
* ``app`` — ``{name, namespace, project, environment}``; ``environment`` — ``{name, protected}``.

A policy that evaluates to false yields a finding with its message and severity. Expressions are
checked when compiled; one that fails on an object (a missing field) is reported as a warning, never
silently passed. The API server's ValidatingAdmissionPolicies and webhooks run during the dry run:
their denials (in the plan item's ``error``) are reported here as blocks.
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

from plumbline.cel import compile_expression, evaluate
from plumbline.config import GroupKind, GuardName, Policy, Severity
from plumbline.guards._model import Finding, GuardContext, finding
from plumbline.guards._objects import containers
from plumbline.plan import Action, Plan, PlanItem

NAME = GuardName.POLICY
NEEDS_CLUSTER = False

_WORKLOADS = [GroupKind(group=g, kind=k) for g, k in (
    ("", "Pod"), ("apps", "Deployment"), ("apps", "StatefulSet"), ("apps", "DaemonSet"),
    ("apps", "ReplicaSet"), ("batch", "Job"), ("batch", "CronJob"),
)]  # fmt: skip

DEFAULT_PACK: tuple[Policy, ...] = (
    Policy(
        name="no-latest-image",
        expression="!environment.protected || containers.all(c, "
        "c.image.matches('@sha256:[0-9a-f]+$') || "
        "(c.image.matches(':[^:/]+$') && !c.image.endsWith(':latest')))",
        message="a protected environment runs pinned images: no ':latest' and no untagged image",
        severity=Severity.BLOCK,
        kinds=_WORKLOADS,
    ),
    Policy(
        name="resource-limits",
        expression="containers.all(c, has(c.resources) && has(c.resources.limits) && "
        "has(c.resources.limits.memory))",
        message="every container sets a memory limit, so one pod cannot starve its neighbours",
        severity=Severity.WARN,
        kinds=_WORKLOADS,
    ),
)

_ADMISSION = re.compile(r"admission|ValidatingAdmissionPolicy|denied the request|webhook", re.I)


def _applies(policy: Policy, item: PlanItem) -> bool:
    return not policy.kinds or any(gk.matches(item.ref.group, item.ref.kind) for gk in policy.kinds)


_VARIABLES = ("object", "live", "containers", "app", "environment")


@cache
def _referenced(expression: str) -> frozenset[str]:
    """The activation variables an expression names: only those are converted to CEL values."""
    return frozenset(name for name in _VARIABLES if re.search(rf"\b{name}\b", expression))


def _inputs(item: PlanItem, context: GuardContext, names: frozenset[str]) -> dict[str, Any]:
    """The plain-data values of ``names`` for one object."""
    app = context.app
    data: dict[str, Any] = {}
    if "object" in names:
        data["object"] = item.desired
    if "live" in names:
        data["live"] = item.live
    if "containers" in names:
        data["containers"] = [c for c, _ in containers(item.desired or {})]
    if "app" in names:
        data["app"] = {
            "name": app.name,
            "namespace": app.spec.destination.namespace,
            "project": app.spec.project,
            "environment": app.spec.environment,
        }
    if "environment" in names:
        data["environment"] = {
            "name": context.environment.name,
            "protected": context.environment.spec.protected,
        }
    return data


def check(*, plan: Plan, context: GuardContext) -> list[Finding]:
    import celpy

    findings: list[Finding] = []
    policies = [*DEFAULT_PACK, *context.project.spec.policies]
    programs: dict[str, Any] = {}
    verdicts: dict[tuple[str, str], bool | str] = {}
    for policy in policies:
        try:
            programs[policy.name] = compile_expression(policy.expression)
        except celpy.CELParseError as error:  # type: ignore[attr-defined]
            message = (
                f"policy {policy.name!r} of Project {context.project.name!r} is not valid CEL: "
                f"{str(error).splitlines()[0]}"
            )
            field = f"spec.policies[{policy.name}].expression"
            fix = "correct the expression in the Project"
            findings.append(finding(NAME, context.app_subject, message, fix, field=field))
    for item in plan.items:
        if item.error and _ADMISSION.search(item.error):
            message = f"the API server's admission control denied it: {item.error}"
            fix = "change the object to satisfy the cluster's policy (it cannot be overridden here)"
            findings.append(finding(NAME, item.ref, message, fix))
        if item.desired is None or item.action is Action.PRUNE:
            continue
        for policy in policies:
            program = programs.get(policy.name)
            if program is None or not _applies(policy, item):
                continue
            inputs = _inputs(item, context, _referenced(policy.expression))
            # Objects often share what a policy reads (the same container spec in many workloads):
            # evaluate each distinct input once.
            key = (policy.name, json.dumps(inputs, sort_keys=True, default=str))
            if key not in verdicts:
                verdicts[key] = evaluate(program, inputs)
            outcome = verdicts[key]
            if isinstance(outcome, str):
                message = f"policy {policy.name} {outcome}"
                fix = "guard the expression with has(...) for fields that may be absent"
                findings.append(finding(NAME, item.ref, message, fix, severity=Severity.WARN))
            elif not outcome:
                message = f"policy {policy.name}: {policy.message} (from {item.source})"
                fix = "change the object to satisfy it"
                findings.append(
                    finding(NAME, item.ref, message, fix, severity=policy.severity, overridable=True)
                )
    return findings
