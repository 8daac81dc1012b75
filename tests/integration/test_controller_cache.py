"""The controller's passes read the live objects from its watch-fed cache (decision 0023): after the
first pass, a pass over the app — here the one a live edit queues — sends no GET for its objects."""

from __future__ import annotations

import re
import threading
import time
from typing import Any

import pytest

from plumbline.engine import _pipeline
from plumbline.store import AuditAction
from tests.support.cluster import CountingCluster
from tests.support.sites import Site

pytestmark = pytest.mark.integration


def test_a_pass_after_the_first_reads_the_apps_objects_from_the_cache(
    make_site: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[CountingCluster] = []

    def counting(**kwargs: Any) -> CountingCluster:
        made.append(CountingCluster(**kwargs))
        return made[-1]

    before = set(threading.enumerate())
    monkeypatch.setattr(_pipeline, "Cluster", counting)  # engine.connect: the controller's, counted
    site: Site = make_site("sync")
    controller = site.controller(watch=True, interval_s=3600)
    thread = threading.Thread(target=controller.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while site.store.last_sync(site.app) is None or not controller.watching(timeout=1.0):
            assert time.monotonic() < deadline, "no first pass, or its watches never listed"
            time.sleep(0.1)
        (cluster,) = made
        first = [path for method, path in cluster.sent if method == "GET" and site.namespace in path]
        assert first, "the first pass reads the app's objects from the API server"
        cluster.sent.clear()

        site.edit("LOG_LEVEL", "edited")  # only the watch can queue a pass: the poll is an hour away
        while not any(r.action == AuditAction.DRIFT for r in site.store.audit_log(site.app)):
            assert time.monotonic() < deadline + 60, "the live edit never queued a pass"
            time.sleep(0.1)
        read = [
            path
            for method, path in cluster.sent
            if method == "GET" and f"/namespaces/{site.namespace}/" in path
        ]
        assert read == []  # the ConfigMap, the prune scan's kinds, the autoscalers: all from the cache
        metrics = controller.metrics.render().decode()
        synced = re.search(r'^plumbline_live_cache_kinds\{state="synced"\} (\S+)$', metrics, re.M)
        objects = re.search(r"^plumbline_live_cache_objects (\S+)$", metrics, re.M)
        assert synced and float(synced[1]) > 10, metrics  # every kind the scan lists, and more
        assert objects and float(objects[1]) >= 1, metrics  # the app's ConfigMap at least
    finally:
        controller.stop()
        thread.join(timeout=30)
        controller.close()
    assert not any(t.name.startswith("cache-") for t in set(threading.enumerate()) - before)  # closed
