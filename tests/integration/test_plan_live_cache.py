"""A plan read from the watch-fed cache is the plan read from the API server, and with a warm cache it
reads nothing from the server (decision 0023). Real control plane, real requests counted."""

from __future__ import annotations

import copy
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from plumbline.cluster import Cluster
from plumbline.cluster.cache import LiveCache, LiveView, State
from plumbline.local import ControlPlane
from plumbline.plan import Bounds, ObjectRef, Plan, build_plan
from plumbline.plan.build import hpa_kind, prune_scan_kinds
from plumbline.sync import sync_plan
from tests.support.cluster import CountingCluster, limited_kubeconfig
from tests.support.manifests import manifest
from tests.support.workloads import M, add_hpa, deployment, scale

pytestmark = pytest.mark.integration

WAIT_S = 60.0


def app_manifests(namespace: str, *, configmaps: int) -> list[M]:
    """A realistic small app: its Namespace, a Deployment and its Service, ``configmaps`` ConfigMaps
    (more than the plan's LIST threshold), each as a file of its own."""
    objects = [
        manifest("v1", "Namespace", namespace),
        deployment(replicas=2),
        manifest("v1", "Service", "web", spec={"selector": {"app": "web"}, "ports": [{"port": 80}]}),
    ] + [manifest("v1", "ConfigMap", f"settings-{i}", data={"n": str(i)}) for i in range(configmaps)]
    return [M(obj, f"{obj['kind'].lower()}-{obj['metadata']['name']}.yaml") for obj in objects]


def plan(cluster: Cluster, app: str, namespace: str, manifests: list[M], **options: Any) -> Plan:
    return build_plan(
        cluster=cluster,
        app=app,
        namespace=namespace,
        manifests=copy.deepcopy(manifests),
        revision="main",
        sha="a" * 40,
        **options,
    )


def seen(plan: Plan) -> list[tuple[Any, ...]]:
    """What a plan says, item by item (the live objects aside: a status may move between two plans)."""
    return sorted(
        (str(i.ref), i.action, i.kept, i.note, i.error, i.conflict, i.changes, i.desired) for i in plan.items
    )


def warm(cluster: Cluster, bounds: Bounds | None = None) -> LiveCache:
    """A cache watching what the controller's would for an app within ``bounds``, synced."""
    cache = LiveCache(cluster)
    cache.watch(prune_scan_kinds(cluster.discovery, bounds))
    hpa = hpa_kind(cluster.discovery)
    assert hpa is not None
    cache.watch_every([hpa])
    assert cache.wait_synced(WAIT_S)
    return cache


def caught_up(cache: LiveView, cluster: Cluster, manifests: list[M], namespace: str) -> None:
    """Wait until the cache holds each object at the version the server has now (events arrive a
    moment after the writes that cause them)."""
    deadline = time.monotonic() + WAIT_S
    for m in manifests:
        info = cluster.discovery.lookup(m.obj["apiVersion"], m.obj["kind"])
        assert info is not None
        where = namespace if info.namespaced else None
        name = m.obj["metadata"]["name"]
        while True:
            now = cluster.get(info, name=name, namespace=where)
            held = cache.cached(info, namespace=where, name=name)
            version = (now or {}).get("metadata", {}).get("resourceVersion")
            if held is not None and held["metadata"].get("resourceVersion") == version:
                break
            assert time.monotonic() < deadline, f"the cache never caught up with {ObjectRef.of(m.obj)}"
            time.sleep(0.05)


def settled(cluster: Cluster, namespace: str, *, replicas: int) -> None:
    """Wait until the Deployment's controller has written its status for ``replicas`` (it then
    leaves the object alone: two plans in a row see the same resourceVersion)."""
    info = cluster.discovery.lookup("apps/v1", "Deployment")
    assert info is not None
    deadline = time.monotonic() + WAIT_S
    while True:
        live = cluster.get(info, name="web", namespace=namespace) or {}
        status, metadata = live.get("status") or {}, live.get("metadata") or {}
        if (
            status.get("observedGeneration") == metadata.get("generation")
            and status.get("replicas") == replicas
        ):
            return
        assert time.monotonic() < deadline, f"Deployment web never settled: {status}"
        time.sleep(0.1)


def limited_to(namespace: str) -> Bounds:
    """A Project naming its one namespace (the scan lists there only) and allowing Namespaces."""

    def outside(ref: ObjectRef) -> str | None:
        if ref.namespace is None:
            return None if ref.kind == "Namespace" else "cluster-scoped kinds are not allowed"
        return None if ref.namespace == namespace else f"namespace {ref.namespace} is not a destination"

    return Bounds(outside=outside, namespaces=frozenset({namespace}), any_namespace=False)


@pytest.mark.parametrize("bounded", [False, True], ids=["any-namespace", "named-namespace"])
def test_a_plan_from_a_warm_cache_is_the_plan_from_the_server_and_reads_nothing(
    control_plane: ControlPlane, cluster: Cluster, bounded: bool
) -> None:
    app = f"cached-{uuid.uuid4().hex[:6]}"
    namespace = f"c-{app}"
    manifests = app_manifests(namespace, configmaps=6)
    extra = M(manifest("v1", "ConfigMap", "retired", data={"n": "gone from Git"}), "retired.yaml")
    bounds = limited_to(namespace) if bounded else None
    # Synced once with one more ConfigMap, which Git then dropped: a prune candidate.
    assert sync_plan(plan(cluster, app, namespace, [*manifests, extra], bounds=bounds), cluster=cluster).ok
    add_hpa(cluster, namespace)  # an autoscaler sets the replicas: a runtime field, not drift
    scale(cluster, namespace, 3, "horizontal-pod-autoscaler")
    edited = manifest("v1", "ConfigMap", "settings-0", data={"n": "edited live"})
    edited["metadata"]["namespace"] = namespace
    configmap = cluster.discovery.lookup("v1", "ConfigMap")
    assert configmap is not None
    cluster.apply(edited, info=configmap, field_manager="kubectl-edit", force=True)  # a live edit: drift

    settled(cluster, namespace, replicas=3)
    counting = CountingCluster(kubeconfig=control_plane.kubeconfig)
    with counting, warm(cluster, bounds) as cache:
        caught_up(cache, cluster, [*manifests, extra], namespace)
        direct = plan(counting, app, namespace, manifests, bounds=bounds)
        assert counting.reads(), "without a cache the plan reads from the server"
        counting.sent.clear()
        cached = plan(counting, app, namespace, manifests, bounds=bounds, live=cache)
        assert counting.reads() == []  # no LIST, no GET: every live object came from the cache

    assert seen(cached) == seen(direct)
    assert cached.unscanned == direct.unscanned == []
    assert [str(i.ref) for i in cached.prunable] == [f"ConfigMap {namespace}/retired"]
    assert {str(c.ref) for c in cached.changes_of("drift-revert")} == {f"ConfigMap {namespace}/settings-0"}


def test_a_kind_the_cache_may_not_watch_is_read_directly_and_reported_as_before(
    tmp_path: Path, control_plane: ControlPlane, cluster: Cluster, namespace: str
) -> None:
    """A user whose rights end at one namespace, and only for ConfigMaps: the cache answers for
    nothing, the plan reads as without it, and what it may not list is reported the same."""
    app = f"denied-{uuid.uuid4().hex[:6]}"
    manifests = [M(manifest("v1", "ConfigMap", f"c{i}", data={"n": str(i)}), f"c{i}.yaml") for i in range(6)]
    extra = M(manifest("v1", "ConfigMap", "retired"), "retired.yaml")
    assert sync_plan(plan(cluster, app, namespace, [*manifests, extra]), cluster=cluster).ok
    kubeconfig = limited_kubeconfig(cluster, control_plane, namespace, tmp_path / "limited.yaml")
    with Cluster(kubeconfig=kubeconfig) as limited, warm(limited) as cache:
        configmap = limited.discovery.lookup("v1", "ConfigMap")
        assert configmap is not None
        assert cache.state(configmap) is State.UNAVAILABLE
        direct = plan(limited, app, namespace, manifests)
        cached = plan(limited, app, namespace, manifests, live=cache)
    assert seen(cached) == seen(direct)
    assert [str(i.ref) for i in cached.prunable] == [f"ConfigMap {namespace}/retired"]
    gaps = {(u.kind, u.namespace) for u in cached.unscanned}
    assert ("Secret", namespace) in gaps and ("ClusterRole", None) in gaps
    assert cached.unscanned == direct.unscanned
