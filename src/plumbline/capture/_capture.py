"""``capture_changes``: live drift in, edits to the Git source out, each proven by rendering again.

The work per source kind is in :mod:`._plain`, :mod:`._kustomize` and :mod:`._helm` (as render/ has
it); this module picks one, then proves what it wrote by rendering the edited copy. ``capture_app``
is the same for an App and its plan, with the App's own settings.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

from plumbline.capture import _helm, _kustomize, _plain
from plumbline.capture._model import Captured, CapturePlan, FileEdit, Unmapped, is_secret
from plumbline.capture._work import Work, carries, manifest_for, work_copy
from plumbline.config import App, Tool
from plumbline.errors import PlumbError
from plumbline.plan import Plan
from plumbline.plan.attribution import Attribution, FieldChange
from plumbline.plan.model import CREATE_NAMESPACE_SOURCE
from plumbline.redact import contains_fingerprint
from plumbline.render import HelmOptions, Manifest, chosen_tool, helm_options
from plumbline.source import safe_join

# The attributions that are live drift: capture turns each into Git matching live.
CAPTURABLE = frozenset({Attribution.DRIFT_REVERT, Attribution.CONFLICT, Attribution.UNMANAGED_ADDITION})

_BY_KIND: dict[Tool, Callable[[Work], tuple[list[FileEdit], list[Captured]]]] = {
    Tool.PLAIN: _plain.capture,
    Tool.KUSTOMIZE: _kustomize.capture,
    Tool.HELM: _helm.capture,
}


def drift(plan: Plan) -> list[FieldChange]:
    """The fields of ``plan`` that are live drift (:data:`CAPTURABLE`): what a capture is about."""
    return [c for item in plan.items for c in item.changes if c.attribution in CAPTURABLE]


def capture_app(
    app: App,
    *,
    plan: Plan,
    checkout_root: Path,
    manifests: Sequence[Manifest],
    allow_remote: Sequence[str] = (),
) -> CapturePlan:
    """:func:`capture_changes` for ``app``'s drift in ``plan``, rendered from ``checkout_root`` into
    ``manifests``: the App's path, render tool, Helm options (:func:`plumbline.render.helm_options`)
    and release namespace. Objects plumbline adds itself (the createNamespace Namespace) are not in
    the source, so not captured. An empty plan when there is no drift."""
    changes = drift(plan)
    if not changes:
        return CapturePlan()
    return capture_changes(
        checkout_root=checkout_root,
        app_path=app.spec.source.path,
        tool=app.spec.source.tool,
        helm=helm_options(app),
        manifests=[m for m in manifests if m.file != CREATE_NAMESPACE_SOURCE],
        changes=changes,
        namespace=app.spec.destination.namespace,
        allow_remote=allow_remote,
    )


def capture_changes(
    *,
    checkout_root: Path,
    app_path: str,
    tool: Tool,
    helm: HelmOptions | None,
    manifests: list[Manifest],
    changes: list[FieldChange],
    namespace: str | None = None,
    allow_remote: Sequence[str] = (),
) -> CapturePlan:
    """Edits to the files under ``checkout_root`` that make Git say what live says for ``changes``.

    ``manifests`` are the app rendered from ``checkout_root`` (as :func:`plumbline.render.render` gave
    them); ``namespace`` is the Helm release namespace the app was rendered with. Nothing under
    ``checkout_root`` is written: the edits are tried in a temporary copy, the app is rendered again
    there, and only fields that then carry their live value are reported as captured. Everything else
    is in ``unmapped`` with the reason (and, where one can be written, the strategic-merge patch).
    ``allow_remote`` (the Project's ``allowRemoteSources``) lets those renders fetch what the app's own
    render may.

    Changes with an attribution that is not drift (``commit``, ``create``, ``prune``, ``runtime``) are
    not captured: they are Git's to make, or nobody's.
    """
    plan = CapturePlan()
    wanted: list[FieldChange] = []
    for change in changes:
        reason = _refusal(change)
        if reason:
            plan.unmapped.append(Unmapped(change, reason))
        else:
            wanted.append(change)
    by_manifest: dict[int, list[FieldChange]] = defaultdict(list)
    for change in wanted:
        found = manifest_for(manifests, change.ref)
        if found is None:
            plan.unmapped.append(Unmapped(change, "the object is not among the app's rendered objects"))
        else:
            by_manifest[found].append(change)
    if not by_manifest:
        return plan
    with work_copy(checkout_root) as root:
        work = Work(root, app_path, helm, namespace, manifests, by_manifest, plan, allow_remote)
        chosen = chosen_tool(tool, safe_join(root, app_path))
        edits, captured = _BY_KIND[chosen](work)
        _verify(work, chosen, edits, captured)
    return plan


def _refusal(change: FieldChange) -> str | None:
    if change.attribution not in CAPTURABLE:
        return f"{change.attribution.value} is not live drift; there is nothing to capture"
    if not change.path:
        return "a whole object that only live has is not captured; add it to Git by hand"
    if (is_secret(change.ref) and change.path[0] in ("data", "stringData")) or contains_fingerprint(
        change.live
    ):
        return (
            "a secret value (a Secret's, or under a password-like name) is not written to Git in plain "
            "text; put it in your secret store and reference it (ExternalSecret, SealedSecret or SOPS)"
        )
    return None


def _verify(work: Work, tool: Tool, edits: list[FileEdit], captured: list[Captured]) -> None:
    """Keep in ``captured`` only what the edited copy renders with its live value."""
    plan = work.plan
    if not edits:
        plan.captured += captured
        return
    objects = work.render(tool)
    if isinstance(objects, PlumbError):
        plan.unmapped += [
            Unmapped(c.change, f"the edited source does not render: {objects}") for c in captured
        ]
        return
    plan.edits += edits
    for item in captured:
        index = manifest_for(objects, item.ref)
        if index is not None and carries(objects[index].obj, item.change):
            plan.captured.append(item)
        else:
            plan.unmapped.append(
                Unmapped(item.change, f"after editing {item.file} the field still does not render as live")
            )
