"""Environment binding: the revision must come from a branch the environment allows, objects must not
be marked for another environment, and (optionally) the revision must have passed an earlier one.

Seed 01, incident 1: a Friday merge meant for test went to production. Here a prod app refuses a
revision no allowed branch contains, whatever branch or SHA someone pointed it at.
"""

from __future__ import annotations

from plumbline.config import GuardName, Severity
from plumbline.guards._model import Finding, GuardContext, finding
from plumbline.guards._objects import labels_and_annotations
from plumbline.plan import Action, Plan
from plumbline.store import SyncResult

NAME = GuardName.ENVIRONMENT
NEEDS_CLUSTER = False

# Labels or annotations that say which environment an object is meant for.
ENVIRONMENT_KEYS = ("plumbline.dev/environment", "environment", "env", "app.kubernetes.io/environment")


def check(*, plan: Plan, context: GuardContext) -> list[Finding]:
    return [*_branch(plan, context), *_marked(plan, context), *_promotion(plan, context)]


def _branch(plan: Plan, context: GuardContext) -> list[Finding]:
    env = context.environment
    if env.spec.branches == ["*"]:
        return []
    allowed = ", ".join(env.spec.branches)
    revision = f"{context.checkout.revision} ({context.checkout.sha[:12]})"
    branches = context.checkout.branches
    if branches is None:
        if env.allows_branch(context.checkout.revision):
            return []
        message = (
            f"environment {env.name!r} takes revisions from {allowed} only, and it is not known "
            f"which branches contain {revision}"
        )
        fix = f"deploy a branch named in Environment {env.name} spec.branches"
        return [finding(NAME, context.app_subject, message, fix, field="revision")]
    if any(env.allows_branch(branch) for branch in branches):
        return []
    on = ", ".join(branches) if branches else "no branch"
    message = (
        f"revision {revision} is on {on}, but environment {env.name!r} takes only revisions reachable "
        f"from {allowed}"
    )
    fix = (
        f"merge the change into {allowed} first (a branch meant for another environment does not "
        f"reach {env.name})"
    )
    return [finding(NAME, context.app_subject, message, fix, field="revision", overridable=True)]


def _marked(plan: Plan, context: GuardContext) -> list[Finding]:
    here = context.environment.name
    others = set(context.environments) - {here}
    findings = []
    for item in plan.items:
        if item.desired is None or item.action is Action.PRUNE:
            continue
        for key, value in labels_and_annotations(item.desired).items():
            if key in ENVIRONMENT_KEYS and value != here and value in others:
                message = (
                    f"the object is marked for environment {value!r}, but app "
                    f"{context.app.name!r} deploys to {here!r} (from {item.source})"
                )
                fix = f"render the {here} variant (check the overlay or value files), or mark it {here!r}"
                findings.append(finding(NAME, item.ref, message, fix, field=f"metadata {key}"))
                break
    return findings


def _promotion(plan: Plan, context: GuardContext) -> list[Finding]:
    earlier = context.environment.spec.requires_passed_in
    if not earlier:
        return []
    sha = context.checkout.sha
    here = context.environment.name
    apps = [a.name for a in context.apps.values() if a.spec.environment == earlier]
    if context.store is None:
        message = (
            f"environment {here!r} requires revisions to pass {earlier!r} first; "
            "no history is at hand to confirm it here"
        )
        fix = "the sync itself checks this against history"
        return [finding(NAME, context.app_subject, message, fix, field="revision", severity=Severity.WARN)]
    for name in apps:
        for record in context.store.history(name, limit=200, with_desired=False):
            if record.sha == sha and record.result is SyncResult.SUCCEEDED:
                return []
    tried = ", ".join(apps) if apps else f"none: no app is in environment {earlier!r}"
    message = (
        f"revision {sha[:12]} has not synced successfully in {earlier!r} (apps there: {tried}); "
        f"environment {here!r} requires that first"
    )
    fix = f"sync this revision to {earlier} and let it settle"
    return [finding(NAME, context.app_subject, message, fix, field="revision", overridable=True)]
