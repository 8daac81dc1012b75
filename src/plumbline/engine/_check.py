"""The offline check of a merge request (``plumb check``): every guard that needs no cluster, over
the change from a base revision to a head revision, with no kubeconfig read.

Each app is rendered at both revisions from its own source; the base render stands in for live state
(:mod:`plumbline.guards.offline`), and the sync's own gate runs over the result. Sync windows are
skipped (a merge request is not a sync).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from plumbline.config import App, Config, Mode
from plumbline.engine._pipeline import render_app
from plumbline.errors import RenderError, SourceError
from plumbline.guards import GUARDS, ExceptionUse, Finding, Overridden, gate
from plumbline.guards.offline import offline_plan
from plumbline.guards.secrets import is_file_subject
from plumbline.render import Manifest

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
        }


def check_app(app: App, config: Config, *, base: str, head: str) -> AppCheck:
    """Render ``app`` at both revisions and run the offline guards (the sync's gate, without a
    cluster or a store). Raises for a head that will not render."""
    project = config.project(app.spec.project)
    rendered = render_app(app, revision=head, project=project)
    before: list[Manifest] = []
    base_sha: str | None = None
    try:
        old = render_app(app, revision=base, project=project)
        before, base_sha = old.manifests, old.checkout.sha
    except (RenderError, SourceError):
        pass  # a new app, or a base that never rendered: everything in head is a create
    plan = offline_plan(
        app=app.name,
        namespace=app.spec.destination.namespace,
        base=before,
        head=rendered.manifests,
        revision=head,
        sha=rendered.checkout.sha,
    )
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
        base=base_sha,
    )
    sources = {f"{i.ref.kind}/{i.ref.name}": i.source for i in plan.items}
    # A finding about a file rather than an object (the secrets guard's raw text) names the file.
    sources.update(
        {f.subject: f.subject.partition("/")[2] for f in verdict.findings if is_file_subject(f.subject)}
    )
    return AppCheck(
        app.name,
        base_sha,
        rendered.checkout.sha,
        verdict.findings,
        verdict.blocking,
        verdict.overridden,
        sources,
        verdict.exceptions,
    )
