"""What planning and syncing many new objects sends, counted on the real control plane: one
server-side dry run and one apply per object (nothing planned or dry-run twice), over connections
kept alive — about one per request thread, however many requests (decision 0026)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from plumbline.cluster import Cluster
from plumbline.cluster.client import PARALLELISM
from plumbline.local import ControlPlane
from plumbline.sync import sync_plan
from tests.support.workloads import M, plan_at_main

pytestmark = pytest.mark.integration

N = 3 * PARALLELISM + 5  # more objects than request threads, several requests per connection


class Counting(Cluster):
    """A real client that counts the server-side applies it sends, dry runs apart."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dry_runs = 0
        self.applies = 0
        self.requests = 0

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        self.requests += 1
        if method == "PATCH" and kwargs.get("content_type") == "application/apply-patch+yaml":
            if (kwargs.get("query") or {}).get("dryRun"):
                self.dry_runs += 1
            else:
                self.applies += 1
        return super().request(method, path, **kwargs)


@pytest.fixture
def counting(control_plane: ControlPlane) -> Iterator[Counting]:
    made = Counting(kubeconfig=control_plane.kubeconfig)
    try:
        yield made
    finally:
        made.close()


def test_new_objects_are_dry_run_once_and_applied_once_over_kept_alive_connections(
    counting: Counting, namespace: str
) -> None:
    app = f"many-{uuid.uuid4().hex[:6]}"
    manifests = [
        M(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": f"cm-{i}"},
                "data": {"K": f"v{i}"},
            },
            "cm.yaml",
        )
        for i in range(N)
    ]
    made = plan_at_main(counting, app, namespace, manifests)
    assert made.counts["create"] == N and not made.errors, made.counts
    assert (counting.dry_runs, counting.applies) == (N, 0)

    report = sync_plan(made, cluster=counting)
    assert report.ok and report.counts["applied"] == N, report.counts
    assert (counting.dry_runs, counting.applies) == (N, N)
    assert counting.requests > 2 * N
    # Keep-alive: the requests share a connection per request thread (and the caller's own).
    assert 1 <= counting.connections_opened() <= PARALLELISM + 1, counting.connections_opened()
