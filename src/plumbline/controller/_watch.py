"""Watches on the objects one app manages, so a live edit queues a reconcile at once.

One thread per (kind, namespace) of the app's last synced desired state, selecting
``plumbline.dev/app=<app>``. Each starts from a LIST (for the resourceVersion, so existing objects
are not reported as new), then WATCHes from there; when the server ends the watch (timeout, 410
Gone) it lists again. Any event queues the app; the reconcile decides what the event means.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from plumbline.cluster import ApiFailure, Cluster, ResourceInfo
from plumbline.controller._log import log
from plumbline.errors import ClusterError
from plumbline.plan import APP_LABEL

WATCH_TIMEOUT_S = 290.0


class Watcher:
    def __init__(self, cluster: Cluster, app: str, *, on_change: Callable[[str], None]) -> None:
        self.cluster, self.app, self.on_change = cluster, app, on_change
        self._threads: dict[tuple[str, str, str | None], threading.Thread] = {}
        self._stop = threading.Event()

    def update(self, desired: list[dict[str, Any]]) -> None:
        """Make sure every (kind, namespace) in ``desired`` is watched. Watches are never dropped
        while the process runs: a kind that left Git still has objects that may need pruning."""
        for obj in desired:
            info = self.cluster.discovery.lookup(str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
            if info is None:
                continue
            namespace = (obj.get("metadata") or {}).get("namespace") if info.namespaced else None
            key = (info.group, info.kind, namespace)
            if key in self._threads:
                continue
            thread = threading.Thread(
                target=self._run, args=(info, namespace), name=f"watch-{self.app}-{info.kind}", daemon=True
            )
            self._threads[key] = thread
            thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self, info: ResourceInfo, namespace: str | None) -> None:
        selector = f"{APP_LABEL}={self.app}"
        path = info.path(namespace=namespace)
        while not self._stop.is_set():
            try:
                listed = self.cluster.request("GET", path, query={"labelSelector": selector})
                version = (listed.get("metadata") or {}).get("resourceVersion", "")
                query = {
                    "labelSelector": selector,
                    "resourceVersion": version,
                    "allowWatchBookmarks": "false",
                }
                for event in self.cluster.stream(path, query=query, timeout=WATCH_TIMEOUT_S):
                    if self._stop.is_set():
                        return
                    if event.get("type") == "ERROR":
                        break  # 410 Gone and the like: list again
                    self.on_change(self.app)
            except (ApiFailure, ClusterError, OSError, ValueError) as error:
                log(logging.WARNING, f"watch of {info.kind} failed, retrying: {error}", app=self.app)
                self._stop.wait(2.0)
