"""The watch-fed cache of live objects (``plumbline.cluster.cache``) on the real control plane: what it
keeps, whom it tells, what it will not answer for, and that it stops."""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from plumbline.cluster import ApiFailure, Cluster, ResourceInfo
from plumbline.cluster.cache import LiveCache, State
from plumbline.local import ControlPlane
from plumbline.plan import APP_LABEL, add_tracking
from plumbline.plan.unchanged import RequestedStamps
from plumbline.store import RECORD_LABEL
from tests.support.cluster import create, delete, limited_kubeconfig
from tests.support.manifests import crd, manifest
from tests.support.proxy import Proxy

pytestmark = pytest.mark.integration

WAIT_S = 60.0  # how long a test waits for an event before it fails (not a measure of speed)


def config_map(name: str, namespace: str, app: str | None, data: str) -> dict[str, Any]:
    """A ConfigMap of ``app`` (tracked as plumbline tracks what it applies), or of no app."""
    obj = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": {"team": "other"}, "annotations": {}},
        "data": {"value": data},
    }
    if app:
        add_tracking(obj, app=app)
    return obj


def configmaps(cluster: Cluster) -> ResourceInfo:
    info = cluster.discovery.lookup("v1", "ConfigMap")
    assert info is not None
    return info


def told(seen: queue.Queue[frozenset[str]], app: str) -> frozenset[str]:
    """The first notification naming ``app`` (others' apps share the control plane: skipped)."""
    while True:
        apps = seen.get(timeout=WAIT_S)
        if app in apps:
            return apps


def drain(seen: queue.Queue[frozenset[str]]) -> frozenset[str]:
    """Every app told so far (the first list's, told before ``wait_synced`` returns), taken out."""
    apps: frozenset[str] = frozenset()
    while not seen.empty():
        apps |= seen.get_nowait()
    return apps


def test_the_cache_keeps_labelled_objects_and_tells_the_apps_each_change_concerns(
    cluster: Cluster, namespace: str
) -> None:
    tag = uuid.uuid4().hex[:6]
    a, b = f"cache-a-{tag}", f"cache-b-{tag}"
    info = configmaps(cluster)
    cluster.apply(config_map("before", namespace, a, "1"), info=info, field_manager="someone")
    cluster.apply(config_map("unlabelled", namespace, None, "1"), info=info, field_manager="someone")
    seen: queue.Queue[frozenset[str]] = queue.Queue()
    with LiveCache(cluster, on_change=seen.put) as cache:
        cache.watch([info])
        cache.watch([info])  # idempotent: still one watch
        assert cache.wait_synced(WAIT_S)
        assert cache.state(info) is State.SYNCED
        # The first list tells the apps whose objects it holds: a pass that read them before may have
        # missed an edit made before the list (no event tells it).
        assert a in drain(seen)
        before = cache.cached(info, namespace=namespace, name="before")
        assert before is not None and before["data"] == {"value": "1"}
        assert before["apiVersion"] == "v1" and before["kind"] == "ConfigMap"  # as a GET answers
        assert before == cluster.get(info, name="before", namespace=namespace)
        # An unlabelled object is not kept, and "not kept" is never "absent".
        assert cache.cached(info, namespace=namespace, name="unlabelled") is None

        cluster.apply(config_map("one", namespace, a, "1"), info=info, field_manager="someone")
        assert told(seen, a) == {a}
        assert [o["metadata"]["name"] for o in cache.labelled(info, app=a, namespace=namespace) or []] in (
            ["before", "one"],
            ["one", "before"],
        )

        cluster.apply(config_map("one", namespace, a, "2"), info=info, field_manager="someone")
        assert told(seen, a) == {a}
        assert (cache.cached(info, namespace=namespace, name="one") or {})["data"] == {"value": "2"}

        cluster.apply(config_map("one", namespace, b, "2"), info=info, field_manager="someone")
        assert told(seen, b) == {a, b}  # moved from app a to app b: both are told, at once
        assert {o["metadata"]["name"] for o in cache.labelled(info, app=a, namespace=None) or []} == {
            "before"
        }
        assert [o["metadata"]["name"] for o in cache.labelled(info, app=b, namespace=namespace) or []] == [
            "one"
        ]
        assert cache.labelled(info, app=b, namespace="elsewhere") == []

        cluster.apply(config_map("one", namespace, None, "2"), info=info, field_manager="someone")
        assert told(seen, b) == {b}  # the label taken off: it left the selection
        assert cache.cached(info, namespace=namespace, name="one") is None
        assert cache.labelled(info, app=b, namespace=None) == []

        cluster.delete(info, name="before", namespace=namespace)
        assert told(seen, a) == {a}
        assert cache.cached(info, namespace=namespace, name="before") is None


def test_answers_are_copies_and_only_for_the_version_watched(cluster: Cluster, namespace: str) -> None:
    app = f"cache-copy-{uuid.uuid4().hex[:6]}"
    info = configmaps(cluster)
    cluster.apply(config_map("kept", namespace, app, "1"), info=info, field_manager="someone")
    with LiveCache(cluster) as cache:
        cache.watch([info])
        assert cache.wait_synced(WAIT_S)
        first = cache.cached(info, namespace=namespace, name="kept")
        assert first is not None
        first["data"]["value"] = "changed by a caller"
        first["metadata"]["labels"].clear()
        for listed in cache.labelled(info, app=app, namespace=namespace) or []:
            listed["data"] = {}
        again = cache.cached(info, namespace=namespace, name="kept")
        assert again is not None and again["data"] == {"value": "1"}
        assert (cache.labelled(info, app=app, namespace=namespace) or [{}])[0]["data"] == {"value": "1"}

        other_version = ResourceInfo(
            group="", version="v2", kind="ConfigMap", plural="configmaps", namespaced=True, verbs=info.verbs
        )
        assert cache.cached(other_version, namespace=namespace, name="kept") is None
        assert cache.labelled(other_version, app=app, namespace=namespace) is None
        hpa = cluster.discovery.lookup("autoscaling/v2", "HorizontalPodAutoscaler")
        assert hpa is not None
        assert cache.every(hpa, namespace=namespace) is None  # not watched whole: LIST it
        assert cache.labelled(hpa, app=app, namespace=namespace) is None  # not watched at all


def test_a_kind_watched_whole_keeps_unlabelled_objects(cluster: Cluster, namespace: str) -> None:
    info = configmaps(cluster)
    cluster.apply(config_map("unlabelled", namespace, None, "1"), info=info, field_manager="someone")
    with LiveCache(cluster) as cache:
        cache.watch_every([info])
        assert cache.wait_synced(WAIT_S)
        names = {o["metadata"]["name"] for o in cache.every(info, namespace=namespace) or []}
        assert "unlabelled" in names
        assert cache.cached(info, namespace=namespace, name="unlabelled") is None  # not a labelled watch


def test_a_kind_it_may_not_list_cluster_wide_is_not_answered_for(
    tmp_path: Path, control_plane: ControlPlane, cluster: Cluster, namespace: str
) -> None:
    """A user whose rights end at a namespace: the cache says it does not know (the plan then reads
    directly, as without a cache), rather than answering from an empty list."""
    app = f"cache-denied-{uuid.uuid4().hex[:6]}"
    info = configmaps(cluster)
    cluster.apply(config_map("there", namespace, app, "1"), info=info, field_manager="someone")
    kubeconfig = limited_kubeconfig(cluster, control_plane, namespace, tmp_path / "limited.yaml")
    said: list[tuple[int, str]] = []
    with (
        Cluster(kubeconfig=kubeconfig) as limited,
        LiveCache(limited, log=lambda *line: said.append(line)) as cache,
    ):
        cache.watch([info])
        assert cache.wait_synced(WAIT_S)
        assert cache.state(info) is State.UNAVAILABLE
        assert cache.cached(info, namespace=namespace, name="there") is None
        assert cache.labelled(info, app=app, namespace=namespace) is None
    # Said once, through the log it was given (the controller's: JSON lines with --json-logs).
    assert [(level, "ConfigMap" in text and "forbidden" in text) for level, text in said] == [
        (logging.WARNING, True)
    ]


def test_close_ends_every_watch(cluster: Cluster) -> None:
    before = set(threading.enumerate())
    cache = LiveCache(cluster)
    kinds = [i for i in cluster.discovery.listable() if i.kind in ("ConfigMap", "Secret", "Service")]
    cache.watch(kinds)
    assert cache.wait_synced(WAIT_S)
    started = set(threading.enumerate()) - before
    assert len([t for t in started if t.name.startswith("cache-")]) == 3
    cache.close()
    assert not any(t.is_alive() for t in started if t.name.startswith("cache-"))
    configmap = next(i for i in kinds if i.kind == "ConfigMap")
    assert cache.labelled(configmap, app="any", namespace=None) is None  # closed: answers for nothing
    cache.watch(kinds)  # a closed cache starts nothing again
    assert not any(t.name.startswith("cache-") for t in set(threading.enumerate()) - before)


def test_the_cache_stamps_each_kind_as_the_server_does(cluster: Cluster, plumbline_crds: list[str]) -> None:
    """The stamps the cache composes from its watches are those read from the server by request, and
    a new mutating admission configuration changes them in the cache as on the server."""
    discovery = cluster.refresh_discovery()
    kinds = [discovery.lookup("v1", "ConfigMap"), discovery.lookup("apps/v1", "Deployment")]
    kinds += [discovery.lookup("plumbline.dev/v1alpha1", "App")]  # a CRD's kind
    with LiveCache(cluster) as cache:
        assert [cache.of(info) for info in kinds if info is not None] == [None] * 3  # not watched yet
        cache.watch_stamps()
        assert cache.wait_synced(WAIT_S)
        before = RequestedStamps(cluster)
        stamps = [cache.of(info) for info in kinds if info is not None]
        assert None not in stamps and len(set(stamps)) == 3
        assert stamps == [before.of(info) for info in kinds if info is not None]

        name = f"cache-{uuid.uuid4().hex[:6]}"
        hook = manifest("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration", name, webhooks=[])
        create(cluster, hook)
        try:
            configmap = kinds[0]
            assert configmap is not None
            after = RequestedStamps(cluster).of(configmap)
            assert after is not None and after != stamps[0]
            deadline = time.monotonic() + WAIT_S
            while cache.of(configmap) != after:
                assert time.monotonic() < deadline, "the cache never saw the new webhook configuration"
                time.sleep(0.05)
        finally:
            delete(cluster, hook)


def test_a_kind_gone_and_defined_again_is_watched_again(cluster: Cluster, namespace: str) -> None:
    """A CRD deleted ends its kind's watch (not cached: the kind is gone); defined again, the next
    watch() of the kind starts a new watch."""
    group = f"c{uuid.uuid4().hex[:8]}.plumbline.test"
    definition = crd(group, "Gizmo")
    info = ResourceInfo(
        group=group,
        version="v1",
        kind="Gizmo",
        plural="gizmos",
        namespaced=True,
        verbs=frozenset({"list", "watch"}),
    )
    app = f"cache-gizmo-{uuid.uuid4().hex[:6]}"

    def defined(name: str) -> None:
        """Define the kind and create one Gizmo ``name`` of ``app`` (once the kind is served)."""
        create(cluster, definition)
        gizmo = {**manifest(f"{group}/v1", "Gizmo", name), "spec": {"n": 1}}
        gizmo["metadata"]["labels"] = {APP_LABEL: app}
        deadline = time.monotonic() + WAIT_S
        while True:
            try:
                cluster.request("POST", info.path(namespace=namespace), body=gizmo)
                return
            except ApiFailure as failure:  # 404 until the new kind is served
                assert time.monotonic() < deadline, f"{group} never served: {failure}"
                time.sleep(0.1)

    def names() -> set[str] | None:
        held = cache.labelled(info, app=app, namespace=namespace)
        return None if held is None else {o["metadata"]["name"] for o in held}

    with LiveCache(cluster) as cache:
        try:
            defined("first")
            cache.watch([info])
            assert cache.wait_synced(WAIT_S)
            assert names() == {"first"}
            delete(cluster, definition)
            deadline = time.monotonic() + WAIT_S
            while cache.state(info) is not State.UNAVAILABLE:
                assert time.monotonic() < deadline, f"the kind's watch never ended: {cache.state(info)}"
                time.sleep(0.1)
            assert names() is None
            while True:  # the old definition may take a moment to go
                try:
                    defined("again")
                    break
                except ApiFailure as failure:
                    assert failure.status == 409 and time.monotonic() < deadline + WAIT_S, failure
                    time.sleep(0.2)
            cache.watch([info])
            assert cache.wait_synced(WAIT_S)
            assert names() == {"again"}
        finally:
            with contextlib.suppress(ApiFailure):
                delete(cluster, definition)


def test_the_stores_own_records_are_not_kept(cluster: Cluster, namespace: str) -> None:
    """The Kubernetes store keeps each sync, intent and audit record as a Secret labelled with its
    app (and ``plumbline.dev/record``): never the app's objects, so not the cache's to hold (they
    grow with the history) nor to tell the app about (each pass's records would queue another)."""
    app = f"cache-store-{uuid.uuid4().hex[:6]}"
    secrets = cluster.discovery.lookup("v1", "Secret")
    assert secrets is not None
    for name, labels in (
        ("plumbline.audit.1", {RECORD_LABEL: "audit", APP_LABEL: app}),
        ("managed", {APP_LABEL: app}),
    ):
        secret = manifest("v1", "Secret", name, stringData={"k": "v"})
        secret["metadata"] |= {"namespace": namespace, "labels": labels}
        cluster.apply(secret, info=secrets, field_manager="someone")
    with LiveCache(cluster) as cache:
        cache.watch([secrets])
        assert cache.wait_synced(WAIT_S)
        held = cache.labelled(secrets, app=app, namespace=namespace) or []
        assert [s["metadata"]["name"] for s in held] == ["managed"]


def test_after_an_outage_the_cache_lists_again_and_tells_what_changed_meanwhile(
    tmp_path: Path, control_plane: ControlPlane, cluster: Cluster, namespace: str
) -> None:
    """While its server cannot be reached the cache answers for nothing (it may be stale); once it can,
    it lists again and tells the apps whose objects changed or went meanwhile."""
    import yaml

    tag = uuid.uuid4().hex[:6]
    edited, deleted = f"cache-edited-{tag}", f"cache-deleted-{tag}"
    info = configmaps(cluster)
    cluster.apply(config_map("edited", namespace, edited, "1"), info=info, field_manager="someone")
    cluster.apply(config_map("deleted", namespace, deleted, "1"), info=info, field_manager="someone")
    assert control_plane.ports is not None
    cable = Proxy(("127.0.0.1", control_plane.ports.apiserver))
    kubeconfig = yaml.safe_load(control_plane.kubeconfig.read_text())
    kubeconfig["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{cable.port}"
    (tmp_path / "cable.yaml").write_text(yaml.safe_dump(kubeconfig))
    seen: queue.Queue[frozenset[str]] = queue.Queue()
    try:
        with (
            Cluster(kubeconfig=tmp_path / "cable.yaml") as through,
            LiveCache(through, on_change=seen.put) as cache,
        ):
            cache.watch([info])
            assert cache.wait_synced(WAIT_S)
            assert {edited, deleted} <= drain(seen)  # the first list's: not what the outage changed
            assert cache.cached(info, namespace=namespace, name="edited") is not None
            cable.cut()
            deadline = time.monotonic() + WAIT_S
            while cache.state(info) is not State.STARTING:
                assert time.monotonic() < deadline, "the cache never noticed the outage"
                time.sleep(0.05)
            assert cache.cached(info, namespace=namespace, name="edited") is None  # may be stale: not said
            cluster.apply(config_map("edited", namespace, edited, "2"), info=info, field_manager="someone")
            cluster.delete(info, name="deleted", namespace=namespace)
            cable.join()
            assert {edited, deleted} <= told(seen, edited)  # one list again: one call for what it found
            assert cache.state(info) is State.SYNCED
            assert (cache.cached(info, namespace=namespace, name="edited") or {}).get("data") == {
                "value": "2"
            }
            assert cache.cached(info, namespace=namespace, name="deleted") is None
    finally:
        cable.close()


def test_a_label_copied_onto_an_object_plumbline_does_not_track_tells_no_app(
    cluster: Cluster, namespace: str
) -> None:
    """Controllers copy labels onto objects of their own (an EndpointSlice gets its Service's): such
    an object is kept like any labelled one (the prune scan judges it by its tracking), but its
    changes queue no pass."""
    app, last = f"cache-copied-{uuid.uuid4().hex[:6]}", f"cache-last-{uuid.uuid4().hex[:6]}"
    info = configmaps(cluster)
    seen: queue.Queue[frozenset[str]] = queue.Queue()
    with LiveCache(cluster, on_change=seen.put) as cache:
        cache.watch([info])
        assert cache.wait_synced(WAIT_S)
        drain(seen)
        copied = config_map("copied", namespace, None, "1")
        copied["metadata"]["labels"][APP_LABEL] = app  # the label alone, no tracking annotation
        cluster.apply(copied, info=info, field_manager="endpointslice-controller")
        cluster.apply(config_map("tracked", namespace, app, "1"), info=info, field_manager="someone")
        cluster.apply(config_map("last", namespace, last, "1"), info=info, field_manager="someone")
        # Events of one kind come in order: once the last object's is told, every earlier one has been.
        named = []
        while last not in (apps := seen.get(timeout=WAIT_S)):
            named += [apps] if app in apps else []
        assert named == [{app}]  # "tracked" told it; "copied" did not
        assert {o["metadata"]["name"] for o in cache.labelled(info, app=app, namespace=namespace) or []} == {
            "copied",
            "tracked",
        }
