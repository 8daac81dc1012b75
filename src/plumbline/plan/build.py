"""Building a plan: for every desired object, what the API server says a sync would make of it.

For each rendered object: find its kind in discovery, default its namespace, mark it with this app's
tracking, read the live object, and ask the server for a *server-side dry-run apply* (field manager
``plumbline``). The prediction includes defaulting, admission and merging with fields other managers
own, so comparing it with the live object (server-owned metadata removed) shows exactly what applying
would change. Objects that carry this app's tracking but are no longer desired are prune candidates;
those this app must not delete (outside its destination or Project, or tracked in the old format) are
kept, with the reason (:class:`Keep`). Kinds the scan may not list are reported (``plan.unscanned``).

Requests run in parallel (``Cluster.map``); nothing is written. Given a :class:`LiveView` (the
controller's watch-fed cache), the live objects it holds are read from it instead of the API server:
the desired objects, the Namespaces the plan would create, the HorizontalPodAutoscalers and the prune
scan's candidates; what it does not hold (not watched, not synced, unlabelled) is read as without it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from plumbline.cluster import ApiFailure, Cluster, Discovery, ResourceInfo
from plumbline.errors import RenderError
from plumbline.plan.attribute import attribute, strip_runtime
from plumbline.plan.attribution import Attribution, FieldChange
from plumbline.plan.model import Action, Keep, ObjectRef, Plan, PlanItem, Unscanned
from plumbline.plan.runtime import HpaTargets, IgnoreRule, RuntimeRules
from plumbline.plan.tracking import APP_LABEL, DEFAULT_INSTANCE, Tracked, add_tracking, tracked
from plumbline.plan.unchanged import Proof, Stamps, prove, proven
from plumbline.redact import Redactor, ephemeral

if TYPE_CHECKING:
    from plumbline.cluster.cache import LiveView

# Kinds never worth scanning for prune candidates (high churn, or not objects a person declares).
PRUNE_SCAN_SKIP = {("", "Event"), ("events.k8s.io", "Event"), ("", "Binding"), ("", "ComponentStatus")}


class Rendered(Protocol):
    """What the render stage hands over: an object and the file it came from."""

    @property
    def obj(self) -> dict[str, Any]: ...

    @property
    def file(self) -> str: ...


@dataclass
class _Desired:
    obj: dict[str, Any]
    source: str
    info: ResourceInfo | None  # None: its kind is defined by a CRD this same sync creates
    deferred: str = ""  # why the dry run cannot happen before the sync


def build_plan(
    *,
    cluster: Cluster,
    app: str,
    namespace: str,
    manifests: Sequence[Rendered],
    revision: str,
    sha: str,
    progress: Callable[[str], None] | None = None,
    last_synced: Mapping[ObjectRef, dict[str, Any]] | None = None,
    ignore: Sequence[IgnoreRule] = (),
    redactor: Redactor | None = None,
    instance: str = DEFAULT_INSTANCE,
    bounds: Bounds | None = None,
    live: LiveView | None = None,
    proofs: Mapping[ObjectRef, Proof] | None = None,
    stamps: Stamps | None = None,
) -> Plan:
    """The plan for ``manifests`` against the live cluster. Raises :class:`RenderError` for objects the
    server cannot place (unknown kind, duplicates after namespace defaulting).

    ``last_synced`` maps each object to its desired state in the last successful sync (None: no sync
    history, so attribution falls back to managedFields alone). ``ignore`` adds the app's own rules
    to the default runtime rules (:mod:`plumbline.plan.runtime`). Every item gets its attributed
    ``changes``; fields the rules ignore are dropped from ``item.desired``, so a sync leaves them be.
    ``redactor`` fingerprints secret values in everything that leaves the plan (changes, diffs,
    recorded objects); give the installation's (:meth:`Redactor.for_store`) so fingerprints compare
    with the history's.

    ``instance`` names this installation in the tracking (see :mod:`plumbline.plan.tracking`);
    ``bounds`` are the app's Project's (:class:`Bounds`): a prune candidate outside them is kept, and
    the prune scan lists only the kinds and namespaces they allow (None: every listable kind, and
    cluster-wide first).

    ``live``: a cache of live objects to read instead of the API server where it holds them (module
    docstring); None reads everything from the server. The plan is the same either way.

    ``proofs`` and ``stamps`` (:mod:`plumbline.plan.unchanged`): an object whose proof holds — same
    desired object, same live object, same stamp for its kind — is not dry-run (``item.proven``);
    with ``stamps``, each object a full compare finds unchanged carries its new ``item.proof``.
    """
    say = progress or (lambda _: None)
    redactor = redactor or ephemeral()
    desired = _prepare(
        cluster, app=app, namespace=namespace, manifests=manifests, instance=instance, view=live
    )
    hpa_targets, hpa_unscanned = _hpa_targets(cluster, desired, namespace, view=live)
    rules = RuntimeRules(rules=tuple(ignore), hpa_targets=hpa_targets)
    say(f"comparing {len(desired)} objects with the cluster (server-side dry run)")
    found = _read_live(cluster, desired, view=live)
    known = _Known(proofs or {}, stamps)
    items = cluster.map(lambda d: _compare(cluster, d, found, rules, last_synced, redactor, known), desired)
    say("looking for objects this app created that Git no longer has")
    wanted = {item.ref for item in items}
    # The app's destination: where it deploys now, and the objects of its last successful sync.
    namespaces = {namespace} | {ref.namespace for ref in wanted if ref.namespace}
    scope = _Scope(
        app=app,
        instance=instance,
        namespaces=frozenset(namespaces),
        last_synced=frozenset(last_synced or ()),
        bounds=bounds or Bounds(),
    )
    candidates, unscanned = _prune_candidates(cluster, scope, view=live)
    items += [item for item in candidates if item.ref not in wanted]
    for item in items:
        item.redactor = redactor
        if item.action is Action.PRUNE and not item.kept:
            item.changes = attribute(
                ref=item.ref, desired=None, predicted=None, live=item.live, last_synced=None, rules=rules
            )
    unscanned = hpa_unscanned + unscanned
    return Plan(app=app, revision=revision, sha=sha, namespace=namespace, items=items, unscanned=unscanned)


def _prepare(
    cluster: Cluster,
    *,
    app: str,
    namespace: str,
    manifests: Sequence[Rendered],
    instance: str,
    view: LiveView | None = None,
) -> list[_Desired]:
    discovery = cluster.discovery
    # Kinds that CRDs in this same set define: their objects can only be dry-run after the CRD exists.
    crd_kinds: dict[tuple[str, str], bool] = {}
    for manifest in manifests:
        obj = manifest.obj
        if obj.get("kind") == "CustomResourceDefinition" and str(obj.get("apiVersion", "")).startswith(
            "apiextensions.k8s.io/"
        ):
            spec = obj.get("spec") or {}
            names = spec.get("names") or {}
            crd_kinds[(str(spec.get("group", "")), str(names.get("kind", "")))] = (
                spec.get("scope") == "Namespaced"
            )
    # Namespaces this sync creates (declared, and not live yet): objects in them cannot be dry-run first.
    declared_namespaces = {
        str((m.obj.get("metadata") or {}).get("name")) for m in manifests if m.obj.get("kind") == "Namespace"
    }
    namespace_info = discovery.lookup("v1", "Namespace")
    new_namespaces = {
        name
        for name in declared_namespaces
        if namespace_info is None
        or (
            (view is None or view.cached(namespace_info, namespace=None, name=name) is None)
            and cluster.get(namespace_info, name=name, namespace=None) is None
        )
    }

    out: list[_Desired] = []
    seen: dict[ObjectRef, str] = {}
    unknown: list[str] = []
    refreshed = False
    for manifest in manifests:
        obj = copy.deepcopy(manifest.obj)
        api_version, kind = str(obj.get("apiVersion", "")), str(obj.get("kind", ""))
        info = discovery.lookup(api_version, kind)
        if info is None and not refreshed:
            discovery = cluster.refresh_discovery()  # a CRD may have been installed a moment ago
            refreshed = True
            info = discovery.lookup(api_version, kind)
        metadata = obj.setdefault("metadata", {})
        deferred = ""
        if info is None:
            group = api_version.rpartition("/")[0]
            if (group, kind) not in crd_kinds:
                name = metadata.get("name", "?")
                unknown.append(
                    f"{manifest.file}: {kind} {name} (apiVersion {api_version}): the server does not know "
                    f"this kind — is its CustomResourceDefinition installed, or the apiVersion mistyped?"
                )
                continue
            namespaced = crd_kinds[(group, kind)]
            deferred = "not dry-run: its CustomResourceDefinition is created by this sync"
        else:
            namespaced = info.namespaced
        if namespaced:
            metadata.setdefault("namespace", namespace)
        else:
            metadata.pop("namespace", None)
        if not deferred and namespaced and metadata["namespace"] in new_namespaces:
            deferred = f"not dry-run: namespace {metadata['namespace']} is created by this sync"
        add_tracking(obj, app=app, instance=instance)
        ref = ObjectRef.of(obj)
        if ref in seen:
            raise RenderError(
                f"{manifest.file}: {ref} is also declared in {seen[ref]} (after defaulting the namespace "
                f"to {namespace}); an object may be declared once"
            )
        seen[ref] = manifest.file
        out.append(_Desired(obj=obj, source=manifest.file, info=info, deferred=deferred))
    if unknown:
        raise RenderError("\n".join(unknown))
    return out


# Above this many objects of one kind in one namespace, one LIST is cheaper than a GET each.
LIST_THRESHOLD = 4

_Live = dict[ObjectRef, dict[str, Any] | None]


def _read_live(cluster: Cluster, desired: list[_Desired], *, view: LiveView | None = None) -> _Live:
    """The live objects for ``desired``: those ``view`` holds, then a LIST per kind and namespace
    where that saves requests.

    Objects absent from a LIST are recorded as None (they do not exist); objects not covered by a
    LIST are left out, and :func:`_compare` GETs them.
    """
    live: _Live = {}
    rest: list[_Desired] = []
    for d in desired:
        metadata = d.obj["metadata"]
        held = None
        if view is not None and d.info is not None:
            held = view.cached(d.info, namespace=metadata.get("namespace"), name=metadata["name"])
        if held is None:
            rest.append(d)
        else:
            live[ObjectRef.of(d.obj)] = held
    groups: dict[tuple[ResourceInfo, str | None], int] = {}
    for d in rest:
        if d.info is not None:
            key = (d.info, d.obj["metadata"].get("namespace"))
            groups[key] = groups.get(key, 0) + 1
    to_list = [key for key, count in groups.items() if count > LIST_THRESHOLD]

    def fetch(key: tuple[ResourceInfo, str | None]) -> list[dict[str, Any]]:
        info, ns = key
        return cluster.list(info, namespace=ns)

    for (info, ns), objects in zip(to_list, cluster.map(fetch, to_list), strict=True):
        listed: set[ObjectRef] = set()
        for d in rest:
            if d.info == info and d.obj["metadata"].get("namespace") == ns:
                listed.add(ref := ObjectRef.of(d.obj))
                live[ref] = None
        for obj in objects:
            ref = ObjectRef.of(obj)
            if ref in listed:
                live[ref] = obj
    return live


def hpa_kind(discovery: Discovery) -> ResourceInfo | None:
    """HorizontalPodAutoscaler at the version the plan reads it (v2, else v1), if served."""
    return discovery.lookup("autoscaling/v2", "HorizontalPodAutoscaler") or discovery.lookup(
        "autoscaling/v1", "HorizontalPodAutoscaler"
    )


def _hpa_targets(
    cluster: Cluster, desired: list[_Desired], namespace: str, *, view: LiveView | None = None
) -> tuple[frozenset[tuple[str, str, str, str]], list[Unscanned]]:
    """The workloads HorizontalPodAutoscalers scale, in the namespaces this plan touches, and where
    they may not be listed (replicas an autoscaler sets there cannot be told from a live edit)."""
    info = hpa_kind(cluster.discovery)
    if info is None:
        return frozenset(), []
    namespaces = sorted(
        {namespace}
        | {str(d.obj["metadata"]["namespace"]) for d in desired if d.obj["metadata"].get("namespace")}
    )

    def read(ns: str) -> tuple[list[dict[str, Any]], Unscanned | None]:
        held = None if view is None else view.every(info, namespace=ns)
        return (
            (held, None) if held is not None else list_or_unscanned(cluster, info, scan="hpa", namespace=ns)
        )

    targets = HpaTargets()
    gaps: list[Unscanned] = []
    for found, gap in cluster.map(read, namespaces):
        for hpa in found:
            targets.add(hpa)
        gaps += [gap] if gap else []
    return frozenset(targets.found), gaps


@dataclass(frozen=True)
class _Known:
    """What a plan may stand on instead of a dry run: the proofs, and the stamps to check them by."""

    proofs: Mapping[ObjectRef, Proof]
    stamps: Stamps | None


def _compare(
    cluster: Cluster,
    desired: _Desired,
    prefetched: _Live,
    rules: RuntimeRules,
    last_synced: Mapping[ObjectRef, dict[str, Any]] | None,
    redactor: Redactor,
    known: _Known,
) -> PlanItem:
    obj = desired.obj
    ref = ObjectRef.of(obj)
    api_version = str(obj["apiVersion"])
    item = PlanItem(
        ref, Action.CREATE, desired.source, obj, None, None, api_version, desired.deferred, redactor=redactor
    )
    if desired.info is None:
        item.predicted = obj
        item.changes = attribute(
            ref=ref, desired=obj, predicted=obj, live=None, last_synced=None, rules=rules, redactor=redactor
        )
        return item
    runtime: list[FieldChange] = []
    try:
        if ref in prefetched:
            item.live = prefetched[ref]
        else:
            item.live = _get(cluster, desired)
        if item.live is not None:  # a new object gets all of Git's fields, its initial replicas too
            obj, runtime = strip_runtime(obj, live=item.live, rules=rules, redactor=redactor)
            desired.obj = item.desired = obj
        if known.stamps is not None and not desired.deferred:
            # Read before the dry run: its answer is then known to come from this behaviour or a later one.
            item.stamp = known.stamps.of(desired.info)
        if desired.deferred:
            item.predicted = obj
        elif item.live is not None and proven(
            known.proofs.get(ref), redactor, desired=obj, live=item.live, stamp=item.stamp
        ):
            item.predicted, item.proven, item.proof = item.live, True, known.proofs[ref]
        else:
            for _ in range(SNAPSHOT_ATTEMPTS):
                item.predicted = _dry_run(cluster, desired, item)
                # The dry run answers from the object as it is now. If a controller wrote to it since
                # we read it, compare against that newer version, not the stale copy.
                if _version(item.live) == _version(item.predicted) or item.live is None:
                    break
                item.live = _get(cluster, desired)
    except ApiFailure as failure:
        if failure.about_the_caller:
            raise  # not this object's refusal: nothing can be planned with these credentials
        # With the server, the context and the fix (a 403 says what to grant); secret values scrubbed.
        item.error = redactor.scrub(str(failure), obj, item.live)
        item.predicted = obj
    if item.live is not None and item.error:
        item.action = Action.UPDATE
        return item
    previous = None if last_synced is None else last_synced.get(ref)
    if item.live is None:  # gone, or never there: a create, whatever was read before
        runtime, previous = [], None
    item.changes = runtime + attribute(
        ref=ref,
        desired=obj,
        predicted=item.predicted,
        live=item.live,
        last_synced=previous,
        rules=rules,
        redactor=redactor,
    )
    if item.live is None:
        return item
    real = [
        c for c in item.changes if c.attribution not in (Attribution.RUNTIME, Attribution.UNMANAGED_ADDITION)
    ]
    item.action = Action.UPDATE if real or item.conflict else Action.UNCHANGED
    if item.action is Action.UNCHANGED and item.stamp and not item.proven and item.predicted == item.live:
        # The dry run changed nothing at all: the next plan may stand on that while nothing moves.
        item.proof = prove(redactor, desired=obj, live=item.live, stamp=item.stamp)
    return item


SNAPSHOT_ATTEMPTS = 3


def _version(obj: dict[str, Any] | None) -> str | None:
    return None if obj is None else (obj.get("metadata") or {}).get("resourceVersion")


def _get(cluster: Cluster, desired: _Desired) -> dict[str, Any] | None:
    assert desired.info is not None
    metadata = desired.obj["metadata"]
    return cluster.get(desired.info, name=metadata["name"], namespace=metadata.get("namespace"))


def _dry_run(cluster: Cluster, desired: _Desired, item: PlanItem) -> dict[str, Any] | None:
    """Server-side dry-run apply; on a conflict, note it and predict the forced apply instead."""
    assert desired.info is not None
    try:
        return cluster.apply(desired.obj, info=desired.info, dry_run=True)
    except ApiFailure as failure:
        if not (failure.status == 409 and failure.reason == "Conflict"):
            raise
        # Another manager owns fields we set. Say so, and predict what taking them over gives.
        item.conflict = item.redactor.scrub(failure.message, desired.obj, item.live)
        return cluster.apply(desired.obj, info=desired.info, dry_run=True, force=True)


def _inside(_: ObjectRef) -> str | None:
    return None


@dataclass(frozen=True)
class Bounds:
    """Where the app's Project lets its apps own objects, as the plan needs it: ``outside`` says why
    an object lies outside the Project (None: inside); ``namespaces`` are the namespaces its
    destinations name literally; ``any_namespace`` is True when a destination is a glob that may
    match namespaces not named (then the prune scan lists cluster-wide first). The default bounds
    nothing (no Project known)."""

    outside: Callable[[ObjectRef], str | None] = _inside
    namespaces: frozenset[str] = frozenset()
    any_namespace: bool = True

    def allows_kind(self, info: ResourceInfo, namespace: str | None = None) -> bool:
        """Objects of ``info`` (in ``namespace``, for a namespaced kind) may belong to the app."""
        where = (namespace or "") if info.namespaced else None
        return self.outside(ObjectRef(info.group, info.kind, where, "")) is None


@dataclass(frozen=True)
class _Scope:
    """What the prune scan needs to know: whose objects it looks for, and where the app may delete."""

    app: str
    instance: str
    namespaces: frozenset[str]  # the app's destination namespaces
    last_synced: frozenset[ObjectRef]
    bounds: Bounds

    @property
    def scanned_namespaces(self) -> list[str]:
        """Where the scan looks for namespaced candidates: the app's destination, the namespaces of
        its last successful sync, and those its Project names."""
        synced = {ref.namespace for ref in self.last_synced if ref.namespace}
        return sorted(self.namespaces | synced | self.bounds.namespaces)

    def keep(self, live: dict[str, Any], ref: ObjectRef) -> tuple[Keep | None, str]:
        """Whether this app must leave a candidate alone, and the note that says why (or why not)."""
        if tracked(live, app=self.app, instance=self.instance) is Tracked.LEGACY:
            return Keep.OLD_TRACKING, (
                "tracked in the old format (no instance), which cannot tell apart apps of the same name "
                "of two plumbline installations: never pruned on that alone. Put it back in Git to adopt "
                "it, or delete it by hand if it is this app's"
            )
        # A Namespace object is in the destination by its name; other cluster-scoped kinds have no
        # namespace to check: the Project's clusterResourceAllowList bounds them.
        namespace = ref.name if (ref.group, ref.kind) == ("", "Namespace") else ref.namespace
        if namespace and namespace not in self.namespaces and ref not in self.last_synced:
            return Keep.OUTSIDE_DESTINATION, (
                f"carries this app's tracking, but namespace {namespace} is outside the app's "
                f"destination ({', '.join(sorted(self.namespaces))}): another plumbline installation's "
                "app of the same name? Never pruned by this app"
            )
        why = self.bounds.outside(ref)
        if why:
            return Keep.OUTSIDE_PROJECT, f"carries this app's tracking, but {why}: never pruned by this app"
        return None, "tracked by this app, no longer in Git"


def list_or_unscanned(
    cluster: Cluster,
    info: ResourceInfo,
    *,
    scan: str,
    namespace: str | None = None,
    label_selector: str | None = None,
) -> tuple[list[dict[str, Any]], Unscanned | None]:
    """LIST ``info`` for ``scan`` (see :class:`Unscanned`): the objects, or, if the server forbids it,
    none and what was not scanned — never taken for "nothing there". A kind gone since discovery or
    not listable (404, 405) has nothing to find; other failures raise."""
    try:
        return cluster.list(info, namespace=namespace, label_selector=label_selector), None
    except ApiFailure as failure:
        if failure.status in (404, 405):
            return [], None
        if failure.status != 403:
            raise
        return [], Unscanned(info.group, info.kind, namespace, f"forbidden: {failure.message}", scan=scan)


def _namespaces_by_name(
    cluster: Cluster, info: ResourceInfo, scope: _Scope
) -> tuple[list[dict[str, Any]], list[Unscanned]]:
    """The Namespaces the scan may hold candidates in, read one by one (no cluster-wide LIST when the
    Project names its namespaces), those labelled for the app."""
    found, gaps = [], []
    for name in scope.scanned_namespaces:
        try:
            obj = cluster.get(info, name=name, namespace=None)
        except ApiFailure as failure:
            if failure.status != 403:
                raise
            gaps.append(Unscanned("", "Namespace", name, f"forbidden: {failure.message}", scan="prune"))
            continue
        labels = ((obj or {}).get("metadata") or {}).get("labels") or {}
        if obj is not None and labels.get(APP_LABEL) == scope.app:
            found.append(obj)
    return found, gaps


def prune_scan_kinds(discovery: Discovery, bounds: Bounds | None = None) -> list[ResourceInfo]:
    """The kinds the prune scan lists for an app within ``bounds`` (its Project's; None: any): every
    listable kind but :data:`PRUNE_SCAN_SKIP`, cluster-scoped ones only where the bounds allow."""
    bounds = bounds or Bounds()
    return [
        info
        for info in discovery.listable()
        if (info.group, info.kind) not in PRUNE_SCAN_SKIP and (info.namespaced or bounds.allows_kind(info))
    ]


def _in_scope(info: ResourceInfo, found: list[dict[str, Any]], scope: _Scope) -> list[dict[str, Any]]:
    """Of the objects labelled for the app cluster-wide (from a cache), those the scan would have
    listed (:func:`_prune_candidates`): all of them where it lists cluster-wide, else those in the
    namespaces it scans (and, for a namespaced kind, that the Project allows there)."""
    bounds = scope.bounds
    if bounds.any_namespace or (not info.namespaced and (info.group, info.kind) != ("", "Namespace")):
        return found
    where = set(scope.scanned_namespaces)
    if not info.namespaced:  # Namespaces, read one by one by name
        return [obj for obj in found if (obj.get("metadata") or {}).get("name") in where]
    return [
        obj
        for obj in found
        if (ns := (obj.get("metadata") or {}).get("namespace")) in where and bounds.allows_kind(info, ns)
    ]


def _prune_candidates(
    cluster: Cluster, scope: _Scope, *, view: LiveView | None = None
) -> tuple[list[PlanItem], list[Unscanned]]:
    """Every live object labelled for the app whose tracking annotation names this app of this
    instance (or, in the old format, this app), and what the scan was not allowed to list.

    Only what the app's Project allows is listed (:class:`Bounds`, decision 0016): cluster-scoped
    kinds its ``clusterResourceAllowList`` names, namespaced kinds it does not deny, in the app's
    namespaces and those the Project names — cluster-wide only when a destination glob may reach
    namespaces not named, and then per namespace if listing cluster-wide is forbidden (a user whose
    rights end at namespaces). What still is forbidden is reported, never taken for "nothing there".
    A kind ``view`` holds is read from it instead, within the same bounds.
    """
    bounds = scope.bounds
    kinds = prune_scan_kinds(cluster.discovery, bounds)
    selector = f"{APP_LABEL}={scope.app}"

    def scan(info: ResourceInfo) -> tuple[list[dict[str, Any]], list[Unscanned]]:
        held = None if view is None else view.labelled(info, app=scope.app, namespace=None)
        if held is not None:
            return _in_scope(info, held, scope), []
        if (info.group, info.kind) == ("", "Namespace") and not bounds.any_namespace:
            return _namespaces_by_name(cluster, info, scope)
        if not info.namespaced or bounds.any_namespace:
            found, gap = list_or_unscanned(cluster, info, scan="prune", label_selector=selector)
            if gap is None or not info.namespaced:
                return found, [gap] if gap else []
        found, gaps = [], []
        for ns in scope.scanned_namespaces:
            if not bounds.allows_kind(info, ns):
                continue  # its candidates would be kept (outside the Project): not listed at all
            in_ns, gap = list_or_unscanned(cluster, info, scan="prune", namespace=ns, label_selector=selector)
            found += in_ns
            gaps += [gap] if gap else []
        return found, gaps

    items: list[PlanItem] = []
    unscanned: list[Unscanned] = []
    for found, gaps in cluster.map(scan, kinds):
        unscanned += gaps
        for live in found:
            metadata = live.get("metadata") or {}
            if metadata.get("ownerReferences") or metadata.get("deletionTimestamp"):
                continue  # owned by another object (garbage-collected with it) or already going
            if tracked(live, app=scope.app, instance=scope.instance) is Tracked.NOT_OURS:
                continue  # a copied label, another app, or another installation's app of this name
            ref = ObjectRef.of(live)
            kept, note = scope.keep(live, ref)
            items.append(
                PlanItem(
                    ref=ref,
                    action=Action.PRUNE,
                    source="",
                    desired=None,
                    live=live,
                    predicted=None,
                    api_version=str(live.get("apiVersion", "")),
                    note=note,
                    kept=kept,
                )
            )
    return items, unscanned
