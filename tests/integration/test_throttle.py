"""Client-side rate limiting on the real API server: a connection with a low QPS takes one token per
request and waits for each beyond the burst, spaced by 1/QPS; a watch stream takes none. Counted —
the bucket's clock is one that only its own waits move, so nothing depends on how fast the machine is."""

from __future__ import annotations

from typing import Any

import pytest

from plumbline.cluster import Cluster
from plumbline.cluster.throttle import Limits, TokenBucket
from plumbline.controller import Settings
from plumbline.local import ControlPlane
from tests.support.clock import Clock

pytestmark = pytest.mark.integration


def test_a_low_qps_spaces_requests_and_a_watch_takes_no_token(
    control_plane: ControlPlane, namespace: str
) -> None:
    with Cluster(kubeconfig=control_plane.kubeconfig, limits=Limits(qps=5.0, burst=2)) as cluster:
        assert cluster.throttle is not None
        clock = Clock()
        cluster.throttle = TokenBucket(Limits(qps=5.0, burst=2), clock=clock, sleep=clock.sleep)
        for _ in range(6):
            assert cluster.read(f"/api/v1/namespaces/{namespace}") is not None
        assert cluster.throttle.taken == 6

        lease_renewals = cluster.unthrottled()  # the Renewer's: never waits behind other requests
        assert lease_renewals.read(f"/api/v1/namespaces/{namespace}") is not None
        assert cluster.throttle.taken == 6
        assert clock.slept == pytest.approx([0.2] * 4)  # the burst at once, then one every 1/QPS

        path = f"/api/v1/namespaces/{namespace}/configmaps"
        for _ in cluster.stream(path, query={"resourceVersion": "0", "timeoutSeconds": "1"}, timeout=1.0):
            pass  # the events of what is there; the server ends the watch after its timeout
        assert cluster.throttle.taken == 6


def test_the_controller_limits_its_connections_and_the_cli_does_not(
    control_plane: ControlPlane, make_site: Any
) -> None:
    with Cluster(kubeconfig=control_plane.kubeconfig) as cli:
        assert cli.throttle is None
    site = make_site("observe")
    controller = site.controller(kube_api_qps=7.0, kube_api_burst=9)
    try:
        (app,) = controller.config.apps.values()
        outcomes = controller.run_once()
        assert len(outcomes) == 1
        throttle = controller.cluster_for(app).throttle
        assert throttle is not None and (throttle.qps, throttle.burst) == (7.0, 9)
        assert throttle.taken > 9  # the pass's requests went through it
    finally:
        controller.close()
    defaults = Settings(identity="replica-a").limits
    assert (defaults.qps, defaults.burst) == (200.0, 400)  # decision 0025
