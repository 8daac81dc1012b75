"""A pass that finds nothing new writes nothing to the API server (issue 16): the owner Lease it
holds is not renewed by the pass (the renewal thread does it every third of the lease duration), and
the App's status, the same as last written, is not written again. Counted by the objects'
resourceVersions on the real control plane (every write moves it) and by the status writer's count."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from plumbline.controller import Result
from plumbline.controller._status import StatusWriter
from plumbline.engine.lease import owner_lease_name
from tests.support.sites import Site, one

pytestmark = pytest.mark.integration


def version(site: Site, path: str) -> str:
    obj = site.cluster.read(path)
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
