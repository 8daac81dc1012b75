"""Project bounds: the app's repository, every object's namespace and kind must be inside its Project."""

from __future__ import annotations

from plumbline.guards._model import Finding, GuardContext, Severity
from plumbline.plan import Action, Plan

NAME = "project"
NEEDS_CLUSTER = False


def check(*, plan: Plan, context: GuardContext) -> list[Finding]:
    project, app = context.project, context.app
    findings: list[Finding] = []
    where = f"Project {project.name!r}"
    if not project.allows_repo(app.spec.source.repo_url):
        findings.append(
            Finding(
                guard=NAME,
                severity=Severity.BLOCK,
                ref=None,
                field="spec.source.repoURL",
                message=f"the repository {app.spec.source.repo_url} is not in {where} sourceRepos "
                f"({', '.join(project.spec.source_repos)})",
                fix=f"add the repository to {where} spec.sourceRepos, "
                "or move the app to a project that allows it",
                subject=context.app_subject,
            )
        )
    for item in plan.items:
        if item.action is Action.PRUNE or item.desired is None:
            continue
        ref = item.ref
        if ref.namespace is None:
            if not project.allows_cluster_kind(ref.group, ref.kind):
                group = ref.group or '""'
                findings.append(
                    Finding(
                        guard=NAME,
                        severity=Severity.BLOCK,
                        ref=ref,
                        field="kind",
                        message=f"{ref.kind} is cluster-scoped and {where} does not list it in "
                        f"clusterResourceAllowList (from {item.source})",
                        fix=f"add {{group: {group}, kind: {ref.kind}}} to {where} "
                        "spec.clusterResourceAllowList, or remove the object from the source",
                    )
                )
            continue
        if not project.allows_namespace(ref.namespace):
            allowed = ", ".join(d.namespace for d in project.spec.destinations)
            findings.append(
                Finding(
                    guard=NAME,
                    severity=Severity.BLOCK,
                    ref=ref,
                    field="metadata.namespace",
                    message=f"namespace {ref.namespace!r} is outside {where} destinations ({allowed}) "
                    f"(from {item.source})",
                    fix=f"deploy into an allowed namespace, "
                    f"or add {ref.namespace!r} to {where} spec.destinations",
                )
            )
        if not project.allows_namespaced_kind(ref.group, ref.kind):
            findings.append(
                Finding(
                    guard=NAME,
                    severity=Severity.BLOCK,
                    ref=ref,
                    field="kind",
                    message=f"{where} denies the kind {ref.kind} (namespaceResourceDenyList) "
                    f"(from {item.source})",
                    fix="remove the object from the source, or ask the project's owners to allow the kind",
                )
            )
    return findings
