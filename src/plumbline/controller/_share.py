"""This replica's share of the apps: one connection per API server the apps live on, and the apps'
owner Leases it holds there — taken up to its fair share (all apps over the live replicas, rounded up),
given up beyond it, renewed by one :class:`Renewer` per server and released on close."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from plumbline import engine
from plumbline.cluster import Cluster
from plumbline.config import App
from plumbline.controller._log import log
from plumbline.controller._model import Settings
from plumbline.engine.lease import (
    Grant,
    Renewer,
    heartbeat,
    owner_lease_name,
    release,
    release_replica,
)


class Share:
    def __init__(self, settings: Settings, *, on_taken: Callable[[str], None]) -> None:
        self.settings = settings
        self._on_taken = on_taken  # called with the app's name when its Lease changed hands to us
        self._clusters: dict[tuple[str | None, str | None], Cluster] = {}
        self._lock = threading.Lock()
        self._renewers: dict[str, Renewer] = {}
        self._replicas: dict[str, tuple[int, float]] = {}

    def cluster_for(self, app: App) -> Cluster:
        key = (
            self.settings.kubeconfig or app.spec.destination.kubeconfig,
            self.settings.context or app.spec.destination.context,
        )
        with self._lock:  # the health monitor asks too
            if key not in self._clusters:
                self._clusters[key] = engine.connect(
                    app, kubeconfig=self.settings.kubeconfig, context=self.settings.context
                )
            return self._clusters[key]

    def clusters(self, apps: list[App]) -> list[Cluster]:
        """The API servers ``apps`` live on, one each."""
        found: dict[str, Cluster] = {}
        for app in apps:
            cluster = self.cluster_for(app)
            found.setdefault(cluster.server, cluster)
        return list(found.values())

    def fair_share(self, cluster: Cluster, apps: int) -> int:
        """How many of ``apps`` this replica should hold: over the live replicas, rounded up
        (membership refreshed every third of the lease duration)."""
        moment = time.monotonic()
        cached = self._replicas.get(cluster.server)
        if cached is None or moment - cached[1] > self.settings.lease_duration_s / 3:
            count = heartbeat(
                cluster,
                self.settings.identity,
                namespace=self.settings.lease_namespace,
                duration_s=self.settings.lease_duration_s,
            )
            self._replicas[cluster.server] = cached = (count, moment)
        return -(-apps // max(1, cached[0]))

    def holds(self, app: App, cluster: Cluster, apps: int) -> bool:
        """Take or renew ``app``'s lease — unless this replica already holds its fair share of ``apps``
        (then a free app is left to the others, and one held beyond the share is given up)."""
        renewer = self._renewer(cluster)
        share = self.fair_share(cluster, apps)
        mine = app.name in renewer.apps
        if not mine and len(renewer.apps) >= share:
            return False
        if mine and len(renewer.apps) > share:
            renewer.discard(app.name)
            release(
                cluster,
                app.name,
                self.settings.identity,
                namespace=self.settings.lease_namespace,
                name=owner_lease_name(app.name),
            )
            log(logging.INFO, f"gave the app up to another replica (fair share {share})", app=app.name)
            return False
        grant = renewer.claim(app.name)
        if grant is Grant.ACQUIRED:
            self._on_taken(app.name)
        return grant is not Grant.REFUSED

    def close(self) -> None:
        """Stop renewing, give every Lease back, close the connections."""
        for server, renewer in self._renewers.items():
            renewer.stop()
            cluster = next(c for c in self._clusters.values() if c.server == server)
            for app in sorted(renewer.apps):
                release(
                    cluster,
                    app,
                    self.settings.identity,
                    namespace=self.settings.lease_namespace,
                    name=owner_lease_name(app),
                )
            release_replica(cluster, self.settings.identity, namespace=self.settings.lease_namespace)
        for cluster in self._clusters.values():
            cluster.close()

    def _renewer(self, cluster: Cluster) -> Renewer:
        if cluster.server not in self._renewers:
            self._renewers[cluster.server] = Renewer(
                cluster,
                self.settings.identity,
                namespace=self.settings.lease_namespace,
                duration_s=self.settings.lease_duration_s,
                name=owner_lease_name,
            ).start()
        return self._renewers[cluster.server]
