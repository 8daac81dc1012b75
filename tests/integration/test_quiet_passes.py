"""A pass that finds nothing new writes nothing to the API server (issue 16): the owner Lease it
holds is not written by the pass (nor by the renewal thread, which renews the replica's membership
Lease instead: one write a round whatever the number of apps), and the App's status, the same as
last written, is not written again. Counted by the objects' resourceVersions on the real control
plane (every write moves it), by the status writer's count and by the connection's token bucket."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from plumbline.cluster import Cluster
from plumbline.cluster.throttle import Limits
from plumbline.controller import Result
from plumbline.controller._status import StatusWriter
from plumbline.engine.lease import Grant, LeaseInfo, Renewer, owner_lease_name, read_lease, replica_lease_name
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


def test_a_renewal_round_is_one_write_per_replica_whatever_the_number_of_apps(
    control_plane: ControlPlane, namespace: str
) -> None:
    """The renewal thread's round renews the replica's membership Lease (one write, blind: its last
    answer carries the resourceVersion), not each owner Lease: 30 apps held over 5 rounds cost 5
    writes, not 150, and the owner Leases are left as written when taken. A membership Lease someone
    changed meanwhile fails that write and is read and written again. Requests counted by the
    connection's token bucket."""
    counted = Cluster(kubeconfig=control_plane.kubeconfig, limits=Limits(qps=1e9, burst=10**9))
    renewer = Renewer(counted, "replica-a", namespace=namespace, duration_s=300, name=owner_lease_name)
    apps = [f"app-{i}" for i in range(30)]
    path = f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"
    try:
        assert counted.throttle is not None
        assert [renewer.claim(app) for app in apps] == [Grant.ACQUIRED] * 30
        versions = {app: version_at(counted, f"{path}/{owner_lease_name(app)}") for app in apps}

        before = counted.throttle.taken
        for _ in range(5):
            renewer.renew_all()
        assert counted.throttle.taken - before == 5  # one write a round: the membership Lease
        assert [renewer.claim(app) for app in apps] == [Grant.RENEWED] * 30  # a pass: nothing written
        assert counted.throttle.taken - before == 5
        assert {app: version_at(counted, f"{path}/{owner_lease_name(app)}") for app in apps} == versions

        membership = f"{path}/{replica_lease_name('replica-a')}"
        touched = counted.read(membership)  # someone writes the membership Lease meanwhile
        assert touched is not None
        touched["metadata"].setdefault("annotations", {})["touched"] = "yes"
        counted.request("PUT", membership, body=touched)
        before = counted.throttle.taken
        renewer.renew_all()
        assert counted.throttle.taken - before == 3  # a refused blind write, a read, a write
        assert renewer.apps == set(apps) and not renewer.lost
        leases = [read_lease(counted, a, namespace=namespace, name=owner_lease_name(a)) for a in apps]
        assert {lease.holder if lease else None for lease in leases} == {"replica-a"}
    finally:
        counted.close()


def wait_until(done: Callable[[], bool], within: float = 30) -> None:
    deadline = time.monotonic() + within
    while not done() and time.monotonic() < deadline:
        time.sleep(0.2)


def test_an_owner_lease_is_held_while_its_holders_membership_is_fresh_and_taken_once_it_lapsed(
    control_plane: ControlPlane, namespace: str
) -> None:
    """An owner Lease whose own renewTime is older than its duration stays held while its holder's
    membership Lease is renewed (by the holder's renewal thread); once the holder stops (killed: no
    release), another replica takes its apps as soon as the membership Lease has lapsed, and the
    holder, should it come back, finds them lost."""
    cluster = Cluster(kubeconfig=control_plane.kubeconfig)
    a = Renewer(cluster, "replica-a", namespace=namespace, duration_s=2, name=owner_lease_name)
    b = Renewer(cluster, "replica-b", namespace=namespace, duration_s=2, name=owner_lease_name)
    apps = [f"app-{i}" for i in range(5)]

    def lease(app: str) -> LeaseInfo:
        info = read_lease(cluster, app, namespace=namespace, name=owner_lease_name(app))
        assert info is not None and info.renewed is not None
        return info

    try:
        assert [a.claim(app) for app in apps] == [Grant.ACQUIRED] * 5
        a.start()
        taken_at = max(lease(app).renewed or datetime.min.replace(tzinfo=UTC) for app in apps)
        wait_until(lambda: datetime.now(UTC) > taken_at + timedelta(seconds=5))
        for app in apps:
            info = lease(app)
            assert info.renewed is not None and info.renewed <= taken_at  # not written since taken
            assert datetime.now(UTC) > info.renewed + timedelta(seconds=info.duration_s)
            assert info.holder == "replica-a" and not info.expired()  # the membership is fresh
        assert [b.claim(app) for app in apps] == [Grant.REFUSED] * 5

        a.stop()  # killed: nothing released
        wait_until(lambda: lease(apps[0]).expired())
        assert all(lease(app).expired() for app in apps)
        assert [b.claim(app) for app in apps] == [Grant.ACQUIRED] * 5
        assert {lease(app).holder for app in apps} == {"replica-b"}

        a.renew_all()  # back: its membership lapsed meanwhile, so it reads its apps again
        assert not a.apps and a.lost == set(apps)
    finally:
        a.stop()
        cluster.close()
