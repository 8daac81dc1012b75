"""Project bounds: the app's repository, every object's namespace and kind must be inside its Project.

A prune candidate the plan keeps because it lies outside the app's destination or Project blocks a
sync with prune: an object carrying this app's tracking where the app never deploys means two
installations share an app name (or someone copied the tracking), and a person must sort that out.
"""

from __future__ import annotations

from plumbline.config import INSTANCE_ENV, GuardName
from plumbline.guards._model import Finding, GuardContext, finding
from plumbline.plan import Action, Keep, ObjectRef, Plan

NAME = GuardName.PROJECT
NEEDS_CLUSTER = False


def check(*, plan: Plan, context: GuardContext) -> list[Finding]:
    project, app = context.project, context.app
    findings: list[Finding] = []
    where = f"Project {project.name!r}"
    if not project.allows_repo(app.spec.source.repo_url):
        repos = ", ".join(project.spec.source_repos)
        message = f"the repository {app.spec.source.repo_url} is not in {where} sourceRepos ({repos})"
        fix = f"add the repository to {where} spec.sourceRepos, or move the app to a project that allows it"
        findings.append(finding(NAME, context.app_subject, message, fix, field="spec.source.repoURL"))
    for item in plan.items:
        if item.kept in (Keep.OUTSIDE_DESTINATION, Keep.OUTSIDE_PROJECT) and context.prune:
            findings.append(_not_ours(item.ref, item.note))
        if item.action is Action.PRUNE or item.desired is None:
            continue
        ref = item.ref
        if ref.namespace is None:
            if not project.allows_cluster_kind(ref.group, ref.kind):
                message = (
                    f"{ref.kind} is cluster-scoped and {where} does not list it in "
                    f"clusterResourceAllowList (from {item.source})"
                )
                group = ref.group or '""'
                fix = (
                    f"add {{group: {group}, kind: {ref.kind}}} to {where} "
                    "spec.clusterResourceAllowList, or remove the object from the source"
                )
                findings.append(finding(NAME, ref, message, fix, field="kind"))
            continue
        if not project.allows_namespace(ref.namespace):
            allowed = ", ".join(d.namespace for d in project.spec.destinations)
            outside = f"outside {where} destinations ({allowed})"
            message = f"namespace {ref.namespace!r} is {outside} (from {item.source})"
            fix = f"deploy into an allowed namespace, or add {ref.namespace!r} to {where} spec.destinations"
            findings.append(finding(NAME, ref, message, fix, field="metadata.namespace"))
        if not project.allows_namespaced_kind(ref.group, ref.kind):
            message = f"{where} denies the kind {ref.kind} (namespaceResourceDenyList) (from {item.source})"
            fix = "remove the object from the source, or ask the project's owners to allow the kind"
            findings.append(finding(NAME, ref, message, fix, field="kind"))
    return findings


def _not_ours(ref: ObjectRef, note: str) -> Finding:
    fix = (
        "if another plumbline installation runs an app of the same name, give each installation its "
        f"own name (an Instance in each config, or ${INSTANCE_ENV}); if the object is this app's, delete it "
        "by hand. Either way this app never prunes it"
    )
    message = f"a prune candidate this app must not delete: it {note}"
    return finding(NAME, ref, message, fix, field="metadata.annotations")
