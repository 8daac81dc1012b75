"""The offline check of a merge request (``plumb check``): every guard that needs no cluster, over
the change from a base revision to a head revision, with no kubeconfig read.

Each app is rendered at both revisions from its own source; the base render stands in for live state
(:mod:`plumbline.guards.offline`), and the sync's own gate runs over the result. Sync windows are
skipped (a merge request is not a sync). An app's Terraform/OpenTofu plans are checked with it
(:mod:`plumbline.engine._terraform`), or on their own (:func:`check_plans`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plumbline.config import App, Config, Mode
from plumbline.engine._pipeline import render_app
from plumbline.engine._terraform import in_checkout, in_working_tree
from plumbline.errors import PlumbError, RenderError, SourceError
from plumbline.guards import (
    GUARDS,
    ExceptionUse,
    Finding,
    GuardContext,
    Overridden,
    decide,
    gate,
    parse_allow,
    trailers,
)
from plumbline.guards.offline import offline_plan
from plumbline.guards.secrets import is_file_subject
from plumbline.render import Manifest
from plumbline.source import resolve

OFFLINE_GUARDS = {guard.NAME for guard in GUARDS if not guard.NEEDS_CLUSTER} - {"windows"}


@dataclass
class AppCheck:
    app: str
    base_sha: str | None
    head_sha: str
    findings: list[Finding]
    blocking: list[Finding]
    overridden: list[Overridden]
    sources: dict[str, str] = field(default_factory=dict)  # finding subject -> file
    exceptions: list[ExceptionUse] = field(default_factory=list)
    terraform: list[str] = field(default_factory=list)  # the Terraform plans checked with the app

    def to_dict(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "base": self.base_sha,
            "head": self.head_sha,
            "blocked": bool(self.blocking),
            "findings": [
                {
                    **f.to_dict(),
                    "file": self.sources.get(f.subject),
                    "overridden": f not in self.blocking and f.blocks,
                }
                for f in self.findings
            ],
            "overridden": [o.to_dict() for o in self.overridden],
            "exceptions": [use.to_dict() for use in self.exceptions],
            "terraformPlans": self.terraform,
        }


def check_app(
    app: App,
    config: Config,
    *,
    base: str,
    head: str,
    terraform: Sequence[Path] = (),
    workspace: str | None = None,
    allow: Sequence[str] = (),
    reason: str | None = None,
) -> AppCheck:
    """Render ``app`` at both revisions and run the offline guards (the sync's gate, without a
    cluster or a store), over its Terraform too (``spec.terraform`` at head, and ``terraform`` plans).
    ``allow`` (with ``reason``) lets blocks through as ``plumb sync --allow`` does. Raises for a head
    that will not render or a plan that cannot be read."""
    project = config.project(app.spec.project)
    rendered = render_app(app, revision=head, project=project)
    before: list[Manifest] = []
    base_sha: str | None = None
    try:
        old = render_app(app, revision=base, project=project)
        before, base_sha = old.manifests, old.checkout.sha
    except (RenderError, SourceError):
        pass  # a new app, or a base that never rendered: everything in head is a create
    since = base_sha or _commit(app, base)  # strict signature checks start after the base commit
    plan = offline_plan(
        app=app.name,
        namespace=app.spec.destination.namespace,
        base=before,
        head=rendered.manifests,
        revision=head,
        sha=rendered.checkout.sha,
    )
    infra = in_checkout(app, rendered.checkout.root, plans=terraform, workspace=workspace)
    verdict = gate(
        plan=plan,
        checkout=rendered.checkout,
        app=app,
        config=config,
        store=None,
        cluster=None,
        prune=app.spec.mode.includes(Mode.PRUNE),
        manual=True,
        only=OFFLINE_GUARDS,
        base=since,
        allow=list(allow),
        reason=reason,
        more=infra,
    )
    sources = {f"{i.ref.kind}/{i.ref.name}": i.source for i in plan.items}
    # A finding about a file rather than an object (the secrets guard's raw text) names the file.
    sources.update(
        {f.subject: f.subject.partition("/")[2] for f in verdict.findings if is_file_subject(f.subject)}
    )
    if infra is not None:
        sources.update(infra.sources)
    return AppCheck(
        app.name,
        base_sha,
        rendered.checkout.sha,
        verdict.findings,
        verdict.blocking,
        verdict.overridden,
        sources,
        verdict.exceptions,
        infra.labels if infra is not None else [],
    )


def check_plans(
    app: App,
    config: Config,
    *,
    plans: Sequence[Path],
    branch: str | None = None,
    workspace: str | None = None,
    allow: Sequence[str] = (),
    reason: str | None = None,
    cwd: Path | None = None,
) -> AppCheck:
    """``plumb check --terraform PLAN.json``: the Terraform guards over ``plans`` as ``app``'s, with no
    render (its Project, Environment and GuardExceptions; the branch is ``branch`` or the one checked
    out in ``cwd``, whose commit message's ``Plumb-Allow`` trailers count)."""
    infra, info = in_working_tree(app, plans=plans, branch=branch, workspace=workspace, cwd=cwd)
    context = GuardContext.of(app, config, checkout=info)
    verdict = decide(
        infra(context),
        allows=[parse_allow(text, reason=reason) for text in allow],
        trailers=trailers(info.message, sha=info.sha),
        exceptions=config.exceptions_for(app.name),
        now=context.clock(),
    )
    return AppCheck(
        app.name,
        None,
        info.sha,
        verdict.findings,
        verdict.blocking,
        verdict.overridden,
        dict(infra.sources),
        verdict.exceptions,
        infra.labels,
    )


def terraform_app(config: Config, names: Sequence[str]) -> App:
    """The app a ``plumb check --terraform`` plan is checked as: the one named, else the one App with
    ``spec.terraform`` (else the only App)."""
    if len(names) > 1:
        raise PlumbError(f"plumb check --terraform checks plans as one app's; {len(names)} were named")
    if names:
        return config.app(names[0])
    candidates = [a for a in config.apps.values() if a.spec.terraform is not None] or list(
        config.apps.values()
    )
    if len(candidates) != 1:
        listed = ", ".join(a.name for a in candidates) or "none configured"
        raise PlumbError(
            "plumb check --terraform PLAN.json: name the app the plan belongs to (its Project, Environment "
            f"and GuardExceptions apply): plumb check --terraform PLAN.json APP (apps: {listed})"
        )
    return candidates[0]


def _commit(app: App, revision: str) -> str | None:
    """The SHA ``revision`` names in the app's repository; None if it names nothing there."""
    try:
        return resolve(app.spec.source.repo_url, revision)
    except SourceError:
        return None
