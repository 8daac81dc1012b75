"""The controller's passes read the live objects from its watch-fed cache (decision 0023): after the
first pass, a pass over the app — here the one a live edit queues — sends no GET for its objects."""

from __future__ import annotations

import re
import threading
import time
from typing import Any

import pytest

from plumbline.cluster.cache import SELECTOR
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


class GatedCluster(CountingCluster):
    """Holds the cache's first LIST of ConfigMaps (cluster-wide, with its selector) until ``gate`` is
    set: the moment between an app's first pass and its kind's first list, made as long as a test needs."""

    gate = threading.Event()

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        query = kwargs.get("query") or {}
        if method == "GET" and path == "/api/v1/configmaps" and query.get("labelSelector") == SELECTOR:
            assert self.gate.wait(120), "the test never let the cache list ConfigMaps"
        return super().request(method, path, **kwargs)


def test_an_edit_before_the_kinds_first_list_queues_a_pass(
    make_site: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first pass reads the app's objects directly, then has the cache watch their kinds; an edit
    made before a kind's first LIST answers is in that list, and no event will tell it: the first
    list tells the apps whose objects it holds (once every kind started has listed: one pass per app)."""
    GatedCluster.gate = threading.Event()
    monkeypatch.setattr(_pipeline, "Cluster", GatedCluster)
    site: Site = make_site("sync")
    controller = site.controller(watch=True, interval_s=3600)  # the poll cannot find the edit
    thread = threading.Thread(target=controller.run, daemon=True)
    thread.start()

    def metric(pattern: str) -> float:
        text = controller.metrics.render().decode()
        return sum(float(v) for v in re.findall(pattern, text, re.M))

    passes = rf'^plumbline_reconciles_total\{{app="{site.app}",[^}}]*\}} (\S+)$'
    try:
        deadline = time.monotonic() + 60
        while site.store.last_sync(site.app) is None:
            assert time.monotonic() < deadline, "no first pass"
            time.sleep(0.1)
        site.edit("LOG_LEVEL", "edited-before-the-list")
        GatedCluster.gate.set()
        while not any(r.action == AuditAction.DRIFT for r in site.store.audit_log(site.app)):
            assert time.monotonic() < deadline + 60, "the edit before the first list never queued a pass"
            time.sleep(0.1)
        assert controller.watching(timeout=60)
        while metric(r"^plumbline_reconcile_queue_depth (\S+)$") or metric(r"^plumbline_workers_busy (\S+)$"):
            assert time.monotonic() < deadline + 120, "the controller never went idle"
            time.sleep(0.1)
        assert metric(passes) == 2  # the first, and the one the first lists queued: not one per kind
    finally:
        GatedCluster.gate.set()
        controller.stop()
        thread.join(timeout=30)
        controller.close()
