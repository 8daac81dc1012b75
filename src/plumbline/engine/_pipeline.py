"""The read side of the pipeline for one app, stage by stage: source → render → plan (and drift), and
the guards over the plan.

Each stage lives in its own package and takes plain data; this module only connects them, so every
caller (CLI, controller, dashboard) plans and guards exactly the same way. Nothing here writes to the cluster.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from plumbline.cluster import Cluster
from plumbline.cluster.throttle import Limits
from plumbline.config import DEFAULT_INSTANCE, App, Config, Project
from plumbline.errors import ClusterError, RenderError
from plumbline.guards import GateResult, gate
from plumbline.paths import local_dir
from plumbline.plan import Bounds, ObjectRef, Plan, build_plan
from plumbline.plan.drift import DriftReport, drift_report
from plumbline.plan.model import CREATE_NAMESPACE_SOURCE
from plumbline.plan.normalize import string_data_into_data
from plumbline.plan.runtime import IgnoreRule
from plumbline.plan.unchanged import Proof, RequestedStamps, Stamps
from plumbline.redact import Redactor, contains_fingerprint
from plumbline.render import Manifest, RenderCache, helm_options, render
from plumbline.source import Checkout, Refs, fetch
from plumbline.store import Store, SyncRecord

if TYPE_CHECKING:
    from plumbline.cluster.cache import LiveView

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


def resolve_kubeconfig(explicit: str | None, app: App | None = None) -> Path | None:
    """The kubeconfig to use: ``--kubeconfig``, else the app's, else $KUBECONFIG or ~/.kube/config (the
    client's usual lookup, signalled by None), else in a Pod its service account's (None too), else the
    local control plane's (``plumb local up``)."""
    if explicit:
        return Path(explicit)
    if app is not None and app.spec.destination.kubeconfig:
        return Path(app.spec.destination.kubeconfig)
    if os.environ.get("KUBECONFIG") or (Path.home() / ".kube" / "config").exists():
        return None
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        return None
    local = local_dir() / "kubeconfig"
    if local.exists():
        return local
    raise ClusterError(
        "no kubeconfig: none given (--kubeconfig), none in the app's destination, $KUBECONFIG unset, no "
        "~/.kube/config, and no local control plane. Start one with `plumb local up`."
    )


def connect(
    app: App, *, kubeconfig: str | None = None, context: str | None = None, limits: Limits | None = None
) -> Cluster:
    """A connection to ``app``'s destination; ``limits``: client-side QPS and burst (None: none)."""
    return Cluster(
        kubeconfig=resolve_kubeconfig(kubeconfig, app),
        context=context or app.spec.destination.context,
        limits=limits,
    )


@dataclass
class Rendered:
    checkout: Checkout
    manifests: list[Manifest]


def render_app(
    app: App,
    *,
    revision: str | None = None,
    progress: Progress = _quiet,
    project: Project | None = None,
    renders: RenderCache | None = None,
    refs: Refs | None = None,
) -> Rendered:
    """Fetch the app's source at ``revision`` (default: its targetRevision) and render it.

    ``project`` (the app's) may allow remote kustomize bases and Helm dependencies
    (``spec.allowRemoteSources``); without it, every remote source is refused. ``renders`` (the
    controller's): a render of the same commit with the same settings (:func:`render_key`) is taken
    from there instead of run again. ``refs`` (the controller's): the revision is resolved from there
    while it is kept (:class:`plumbline.source.Refs`: once per repository and revision per interval).
    """
    source = app.spec.source
    wanted = revision or source.target_revision
    progress(f"fetching {source.repo_url} at {wanted}")
    checkout = fetch(source.repo_url, wanted, refs=refs)

    def run() -> list[Manifest]:
        return _render(app, checkout, progress=progress, project=project)

    key = None if renders is None else render_key(app, checkout.sha, project)
    if renders is None or key is None:
        return Rendered(checkout=checkout, manifests=run())
    return Rendered(checkout=checkout, manifests=renders.get_or_render(key, run))


def render_key(app: App, sha: str, project: Project | None) -> tuple[str, ...] | None:
    """Everything a render of ``app`` at commit ``sha`` reads besides the commit's files: the whole
    ``spec.source`` (repository, path, tool, Helm value files and values), the release name, the
    destination namespace and ``createNamespace``. None — never kept — when the app's Project allows
    remote sources: a remote base or dependency can change while the commit does not."""
    if allowed_remote(project):
        return None
    spec = app.spec
    source = spec.source.model_dump_json(by_alias=True)
    options = repr(helm_options(app))
    return (sha, source, options, spec.destination.namespace, str(spec.sync_options.create_namespace))


def _render(app: App, checkout: Checkout, *, progress: Progress, project: Project | None) -> list[Manifest]:
    source = app.spec.source
    progress(f"rendering {source.path} at {checkout.sha[:12]}")
    manifests = render(
        checkout.root,
        source.path,
        tool=source.tool,
        helm=helm_options(app),
        namespace=app.spec.destination.namespace,
        allow_remote=allowed_remote(project),
    )
    if app.spec.sync_options.create_namespace:
        namespace = app.spec.destination.namespace
        declared = any(m.kind == "Namespace" and m.name == namespace for m in manifests)
        if not declared:
            manifests.insert(
                0,
                Manifest(
                    obj={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
                    file=CREATE_NAMESPACE_SOURCE,
                    index=0,
                ),
            )
    return manifests


def recorded_app(
    app: App,
    record: SyncRecord,
    *,
    redactor: Redactor,
    progress: Progress = _quiet,
    project: Project | None = None,
) -> Rendered:
    """The desired objects of a history ``record`` as manifests, with the source checked out at the
    record's exact SHA (what the guards read). The source is rendered again there too, for two things
    history does not keep: each object's file (a guard's finding names it, and a standing exception
    or a Secret's scan matches by it; ``history #N`` if the render does not have the object), and
    secret values, which history keeps only as fingerprints — an object holding one takes its clear
    values from the render, each only where its fingerprint is the recorded one; otherwise (or if
    that render fails) a :class:`RenderError` names the object and fields, and nothing is applied."""
    source = app.spec.source
    shown = f"history #{record.id}"
    progress(f"fetching {source.repo_url} at {record.sha[:12]} ({shown})")
    checkout = fetch(source.repo_url, record.sha)
    if checkout.sha != record.sha:
        raise RenderError(f"{shown}: {source.repo_url} resolved {record.sha} to {checkout.sha}")
    secret = any(contains_fingerprint(obj) for obj in record.desired)
    again: dict[tuple[str, str, str], list[Manifest]] = {}
    try:
        for manifest in _render(app, checkout, progress=progress, project=project):
            ref = ObjectRef.of(manifest.obj)
            again.setdefault((ref.group, ref.kind, ref.name), []).append(manifest)
    except RenderError as error:
        if secret:
            raise RenderError(
                f"{shown}: its secret values (kept only as fingerprints) must be rendered again from Git at "
                f"{record.sha[:12]}, and that render failed: {error}"
            ) from None
        progress(f"the render at {record.sha[:12]} failed ({error}); the objects are history's alone")
    manifests = []
    for index, obj in enumerate(record.desired):
        same = _rendered_as(obj, again, app.spec.destination.namespace)
        if contains_fingerprint(obj):
            obj = _clear(obj, same, redactor, record=record)
        manifests.append(Manifest(obj=obj, file=same[0].file if same else shown, index=index))
    return Rendered(checkout=checkout, manifests=manifests)


def _rendered_as(
    recorded: dict[str, Any], again: dict[tuple[str, str, str], list[Manifest]], destination: str
) -> list[Manifest]:
    """The rendered manifests that are the recorded object (its namespace defaulted as the plan does)."""
    ref = ObjectRef.of(recorded)
    return [
        m
        for m in again.get((ref.group, ref.kind, ref.name), [])
        if ref.namespace in (None, (m.obj.get("metadata") or {}).get("namespace") or destination)
    ]


def _string_data_as_rendered(clear: dict[str, Any], rendered: dict[str, Any]) -> dict[str, Any]:
    """A Secret's keys that Git sets through ``stringData`` put back there (history keeps them merged
    into ``data``): the object applied is the one Git declares, and the secrets guard, which reads
    the source files, finds the values it scans in it."""
    string_data = rendered.get("stringData")
    if not isinstance(string_data, dict) or not isinstance(clear.get("data"), dict):
        return clear
    encoded = string_data_into_data(copy.deepcopy(rendered)).get("data") or {}
    data = dict(clear["data"])
    back = {k: v for k, v in string_data.items() if k in data and data[k] == encoded.get(k)}
    for key in back:
        del data[key]
    shaped = {k: v for k, v in clear.items() if k != "data"}
    return {**shaped, **({"data": data} if data else {}), "stringData": back}


def _clear(
    recorded: dict[str, Any], same: list[Manifest], redactor: Redactor, *, record: SyncRecord
) -> dict[str, Any]:
    unmatched = ["(not rendered at that commit)"]
    for manifest in same:
        clear, unmatched = redactor.restore(recorded, string_data_into_data(copy.deepcopy(manifest.obj)))
        if not unmatched:
            return _string_data_as_rendered(clear, manifest.obj)
    raise RenderError(
        f"history #{record.id}: {ObjectRef.of(recorded)}: the secret value(s) at {', '.join(unmatched)} "
        f"rendered from Git at {record.sha[:12]} do not match the fingerprints history recorded (history "
        "never keeps them in clear), so this revision cannot be applied from history; roll back in Git "
        "instead (`plumb rollback --write-revert-branch NAME`, review, merge)"
    )


def ignore_rules(app: App) -> list[IgnoreRule]:
    """The app's ``spec.ignoreDifferences`` as plan rules (the defaults are added by the plan)."""
    return [
        IgnoreRule(
            group=entry.group,
            kind=entry.kind,
            name=entry.name,
            json_pointers=tuple(entry.json_pointers),
            managers=tuple(entry.managers),
        )
        for entry in app.spec.ignore_differences
    ]


def last_synced(store: Store | None, app: str) -> dict[ObjectRef, dict[str, Any]] | None:
    """The desired objects of the app's last successful sync, by object; None without history."""
    if store is None:
        return None
    return _desired_of(store.last_sync(app))


def _desired_of(record: SyncRecord | None) -> dict[ObjectRef, dict[str, Any]] | None:
    return None if record is None else {ObjectRef.of(obj): obj for obj in record.desired}


def recorded_proofs(record: SyncRecord | None) -> dict[ObjectRef, Proof]:
    """The proofs a sync recorded (:mod:`plumbline.plan.unchanged`), by object; none without one."""
    if record is None:
        return {}
    return {ObjectRef.parse(ref): Proof.from_dict(proof) for ref, proof in record.proofs.items()}


def plan_app(
    app: App,
    *,
    cluster: Cluster,
    revision: str | None = None,
    progress: Progress = _quiet,
    store: Store | None = None,
    config: Config | None = None,
    recorded: SyncRecord | None = None,
    renders: RenderCache | None = None,
    live: LiveView | None = None,
    proofs: Mapping[ObjectRef, Proof] | None = None,
    stamps: Stamps | None = None,
    recheck: bool = False,
    refs: Refs | None = None,
) -> tuple[Plan, Rendered]:
    """Render the app and plan it. With ``store``, changes are attributed against the desired state
    of the last successful sync (three-way); without, against managedFields alone. With ``config``,
    the app's Project decides what its render may fetch (:func:`render_app`) and bounds what it may
    prune (without it, the destination alone does), and its objects are tracked under the config's
    instance (without it, the default instance).

    ``recorded`` (a rollback; needs ``store``): the desired objects of that history record are planned
    instead of a render (:func:`recorded_app`), at its revision and SHA. ``renders`` and ``refs``: see
    :func:`render_app`. ``live``: live objects to read instead of asking the API server where it
    holds them (the controller's watch-fed cache, :func:`plumbline.plan.build_plan`).

    An object proved unchanged is not dry-run (:mod:`plumbline.plan.unchanged`): by the proofs of the
    last successful sync (with ``store``), overridden by ``proofs`` (newer ones: the controller's),
    checked by ``stamps`` (default: read from the server, once for this plan). ``recheck``: no proof
    is used, every object is dry-run (the objects found unchanged still carry their new proofs)."""
    project = config.project(app.spec.project) if config is not None else None
    instance = config.instance if config is not None else DEFAULT_INSTANCE
    redactor = None if store is None else Redactor.for_store(store)
    if recorded is not None:
        assert redactor is not None, "a plan from history needs the store (its fingerprint key)"
        rendered = recorded_app(app, recorded, redactor=redactor, progress=progress, project=project)
        revision = recorded.revision
    else:
        rendered = render_app(
            app, revision=revision, progress=progress, project=project, renders=renders, refs=refs
        )
    last = None if store is None else store.last_sync(app.name)
    known = {} if recheck else {**recorded_proofs(last), **(proofs or {})}
    plan = build_plan(
        cluster=cluster,
        app=app.name,
        namespace=app.spec.destination.namespace,
        manifests=rendered.manifests,
        revision=revision or app.spec.source.target_revision,
        sha=rendered.checkout.sha,
        progress=progress,
        last_synced=_desired_of(last),
        ignore=ignore_rules(app),
        redactor=redactor,
        instance=instance,
        bounds=None if project is None else bounds_of(project),
        live=live,
        proofs=known,
        stamps=stamps if stamps is not None else RequestedStamps(cluster),
    )
    return plan, rendered


def gate_app(
    app: App,
    plan: Plan,
    rendered: Rendered,
    *,
    config: Config,
    store: Store | None,
    cluster: Cluster | None,
    prune: bool = False,
    manual: bool = True,
    allow: list[str] | None = None,
    reason: str | None = None,
) -> GateResult:
    """Every guard over ``app``'s ``plan`` (made from ``rendered``), as a sync runs them: ``plumb
    sync`` and its ``--dry-run``, the controller (``manual`` False), and the dashboard's app page
    (what a manual sync without prune would meet). ``allow`` (``GUARD:KIND/NAME``, with ``reason``)
    overrides findings; the commit's ``Plumb-Allow`` trailers and the app's GuardExceptions always
    apply (:func:`plumbline.guards.gate`)."""
    return gate(
        plan=plan,
        checkout=rendered.checkout,
        app=app,
        config=config,
        store=store,
        cluster=cluster,
        prune=prune,
        manual=manual,
        allow=allow,
        reason=reason,
    )


def bounds_of(project: Project) -> Bounds:
    """The Project's bounds as the plan needs them (prune candidates kept outside, the scan scoped)."""
    patterns = [d.namespace for d in project.spec.destinations]
    named = frozenset(p for p in patterns if not any(c in p for c in "*?["))
    return Bounds(
        outside=lambda ref: project.outside(ref.group, ref.kind, ref.namespace),
        namespaces=named,
        any_namespace=len(named) < len(patterns),
    )


def allowed_remote(project: Project | None) -> tuple[str, ...]:
    """The URL globs of remote sources the app's renders may fetch (``spec.allowRemoteSources``)."""
    return tuple(project.spec.allow_remote_sources) if project else ()


def drift_app(
    app: App,
    *,
    cluster: Cluster,
    store: Store | None,
    revision: str | None = None,
    config: Config | None = None,
    plan: Plan | None = None,
) -> DriftReport:
    """The rebuildability report for ``app`` (``plumb drift``); ``plan``: the app's plan, just made
    as configured (the dashboard's), instead of planning again."""
    if plan is None:
        plan, _ = plan_app(app, cluster=cluster, revision=revision, store=store, config=config)
    return drift_report(plan, cluster=cluster, last_synced=last_synced(store, app.name))
