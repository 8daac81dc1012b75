"""The read side of the pipeline for one app, stage by stage: source → render → plan (and drift).

Each stage lives in its own package and takes plain data; this module only connects them, so every
caller (CLI, controller) plans exactly the same way. Nothing here writes to the cluster.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plumbline.cluster import Cluster
from plumbline.config import DEFAULT_INSTANCE, App, Config, Project
from plumbline.errors import ClusterError
from plumbline.local import local_dir
from plumbline.plan import ObjectRef, Plan, build_plan
from plumbline.plan.drift import DriftReport, drift_report
from plumbline.plan.model import CREATE_NAMESPACE_SOURCE
from plumbline.plan.runtime import IgnoreRule
from plumbline.redact import Redactor
from plumbline.render import Manifest, helm_options, render
from plumbline.source import Checkout, fetch
from plumbline.store import Store

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


def resolve_kubeconfig(explicit: str | None, app: App | None = None) -> Path | None:
    """The kubeconfig to use: ``--kubeconfig``, else the app's, else $KUBECONFIG or ~/.kube/config (the
    client's usual lookup, signalled by None), else the local control plane's (``plumb local up``)."""
    if explicit:
        return Path(explicit)
    if app is not None and app.spec.destination.kubeconfig:
        return Path(app.spec.destination.kubeconfig)
    if os.environ.get("KUBECONFIG") or (Path.home() / ".kube" / "config").exists():
        return None
    local = local_dir() / "kubeconfig"
    if local.exists():
        return local
    raise ClusterError(
        "no kubeconfig: none given (--kubeconfig), none in the app's destination, $KUBECONFIG unset, no "
        "~/.kube/config, and no local control plane. Start one with `plumb local up`."
    )


def connect(app: App, *, kubeconfig: str | None = None, context: str | None = None) -> Cluster:
    return Cluster(
        kubeconfig=resolve_kubeconfig(kubeconfig, app), context=context or app.spec.destination.context
    )


@dataclass
class Rendered:
    checkout: Checkout
    manifests: list[Manifest]


def render_app(
    app: App, *, revision: str | None = None, progress: Progress = _quiet, project: Project | None = None
) -> Rendered:
    """Fetch the app's source at ``revision`` (default: its targetRevision) and render it.

    ``project`` (the app's) may allow remote kustomize bases and Helm dependencies
    (``spec.allowRemoteSources``); without it, every remote source is refused.
    """
    source = app.spec.source
    wanted = revision or source.target_revision
    progress(f"fetching {source.repo_url} at {wanted}")
    checkout = fetch(source.repo_url, wanted)
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
    return Rendered(checkout=checkout, manifests=manifests)


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
    record = store.last_sync(app)
    if record is None:
        return None
    return {ObjectRef.of(obj): obj for obj in record.desired}


def plan_app(
    app: App,
    *,
    cluster: Cluster,
    revision: str | None = None,
    progress: Progress = _quiet,
    store: Store | None = None,
    config: Config | None = None,
) -> tuple[Plan, Rendered]:
    """Render the app and plan it. With ``store``, changes are attributed against the desired state
    of the last successful sync (three-way); without, against managedFields alone. With ``config``,
    the app's Project decides what its render may fetch (:func:`render_app`) and bounds what it may
    prune (without it, the destination alone does), and its objects are tracked under the config's
    instance (without it, the default instance)."""
    project = config.project(app.spec.project) if config is not None else None
    instance = config.instance if config is not None else DEFAULT_INSTANCE
    rendered = render_app(app, revision=revision, progress=progress, project=project)
    plan = build_plan(
        cluster=cluster,
        app=app.name,
        namespace=app.spec.destination.namespace,
        manifests=rendered.manifests,
        revision=revision or app.spec.source.target_revision,
        sha=rendered.checkout.sha,
        progress=progress,
        last_synced=last_synced(store, app.name),
        ignore=ignore_rules(app),
        redactor=None if store is None else Redactor.for_store(store.path),
        instance=instance,
        outside_project=None
        if project is None
        else (lambda ref: project.outside(ref.group, ref.kind, ref.namespace)),
    )
    return plan, rendered


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
) -> DriftReport:
    """The rebuildability report for ``app`` (``plumb drift``)."""
    plan, _ = plan_app(app, cluster=cluster, revision=revision, store=store, config=config)
    return drift_report(plan, cluster=cluster, last_synced=last_synced(store, app.name))
