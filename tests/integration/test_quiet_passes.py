"""A pass that finds nothing new writes nothing to the API server (issue 16): the owner Lease it
holds is not renewed by the pass (the renewal thread does it every third of the lease duration, one
write each), and the App's status, the same as last written, is not written again. Counted by the objects'
resourceVersions on the real control plane (every write moves it) and by the status writer's count."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from plumbline.cluster import Cluster
from plumbline.cluster.throttle import Limits
from plumbline.controller import Result
from plumbline.controller._status import StatusWriter
from plumbline.engine.lease import Grant, Renewer, owner_lease_name, read_lease
from plumbline.local import ControlPlane
from tests.support.sites import Site, one

pytestmark = pytest.mark.integration


def version(site: Site, path: str) -> str:
    return version_at(site.cluster, path)


def version_at(cluster: Cluster, path: str) -> str:
    obj = cluster.read(path)
    assert obj is not None, path
    return str(obj["metadata"]["resourceVersion"])


def test_a_pass_with_nothing_new_writes_neither_lease_nor_status(
    plumbline_crds: list[str], make_site: Callable[[str], Site], namespace: str
) -> None:
    site = make_site("sync")
    site.declare(namespace)
    controller = site.controller(from_cluster=namespace, lease_duration_s=300)
    app_path = f"/apis/plumbline.dev/v1alpha1/namespaces/{namespace}/apps/{site.app}"
    lease_path = (
        f"/apis/coordination.k8s.io/v1/namespaces/{site.lease_namespace}/leases/{owner_lease_name(site.app)}"
    )
    try:
        assert one(controller).result is Result.SYNCED
        assert one(controller).result is Result.IN_SYNC  # Ready now: the status changed, written
        status = controller.recorder.status
        assert isinstance(status, StatusWriter)
        writes, app_version, lease_version = status.writes, version(site, app_path), version(site, lease_path)
        assert writes == 2

        for _ in range(3):
            assert one(controller).result is Result.IN_SYNC
        assert status.writes == writes
        assert version(site, app_path) == app_version  # the status, unchanged, was not written again
        assert version(site, lease_path) == lease_version  # nor was the Lease renewed by the passes

        site.edit("LOG_LEVEL", "debug")  # something new: the status says so at once
        assert one(controller).result is Result.OBSERVED
        assert status.writes == writes + 1
        assert version(site, app_path) != app_version
    finally:
        controller.close()


def test_a_renewal_is_one_write_and_a_lease_changed_meanwhile_is_read_first(
    control_plane: ControlPlane, namespace: str
) -> None:
    """The renewal thread renews each held Lease with one write (its last answer carries the
    resourceVersion), not a read and a write; a Lease someone changed meanwhile fails that write and is
    read and decided on as before. Requests counted by the connection's token bucket."""
    counted = Cluster(kubeconfig=control_plane.kubeconfig, limits=Limits(qps=1e9, burst=10**9))
    renewer = Renewer(counted, "replica-a", namespace=namespace, duration_s=300, name=owner_lease_name)
    apps = ["one", "two", "three"]
    try:
        assert counted.throttle is not None
        assert [renewer.claim(app) for app in apps] == [Grant.ACQUIRED] * 3
        path = f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"
        versions = {app: version_at(counted, f"{path}/{owner_lease_name(app)}") for app in apps}

        before = counted.throttle.taken
        renewer.renew_all()
        assert counted.throttle.taken - before == 3  # one write per Lease
        for app in apps:
            assert version_at(counted, f"{path}/{owner_lease_name(app)}") != versions[app]

        touched = counted.read(f"{path}/{owner_lease_name('two')}")  # someone writes a Lease meanwhile
        assert touched is not None
        touched["metadata"].setdefault("annotations", {})["touched"] = "yes"
        counted.request("PUT", f"{path}/{owner_lease_name('two')}", body=touched)
        before = counted.throttle.taken
        renewer.renew_all()
        assert (
            counted.throttle.taken - before == 5
        )  # two blind writes; for "two" a refused one, a read, a write
        assert renewer.apps == set(apps) and not renewer.lost
        leases = [read_lease(counted, a, namespace=namespace, name=owner_lease_name(a)) for a in apps]
        assert {lease.holder if lease else None for lease in leases} == {"replica-a"}
    finally:
        counted.close()
