"""What planning and syncing many new objects sends, counted on the real control plane: one
server-side dry run and one apply per object (nothing planned or dry-run twice), over connections
kept alive — about one per request thread, however many requests (decision 0026)."""

from __future__ import annotations

import uuid

import pytest

from plumbline.cluster.client import PARALLELISM
from plumbline.sync import sync_plan
from tests.support.cluster import CountingCluster
from tests.support.workloads import M, plan_at_main

pytestmark = pytest.mark.integration

N = 3 * PARALLELISM + 5  # more objects than request threads, several requests per connection


def test_new_objects_are_dry_run_once_and_applied_once_over_kept_alive_connections(
    counting: CountingCluster, namespace: str
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
    assert len(counting.sent) > 2 * N
    # Keep-alive: the requests share a connection per request thread (and the caller's own).
    assert 1 <= counting.connections_opened() <= PARALLELISM + 1, counting.connections_opened()
