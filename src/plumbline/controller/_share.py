"""This replica's share of the apps: one connection per API server the apps live on, and the apps'
owner Leases it holds there — taken up to its fair share, given up beyond it, renewed by one
:class:`Renewer` per server and released on close.

The share is computed over the apps every live replica is configured with (each publishes its list
on its membership lease), so replicas with different app lists never starve an app: the share is
the union over the live replicas, rounded up, and an app no other replica has is always its own.
Should an app still have no holder for longer than a lease period, a replica that has it takes it
beyond its share and reports it (``on_unheld``: a warning, a ``NoHolder`` Event, the gauge
``plumbline_app_unheld_seconds``) — decision 0016."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from plumbline import engine
from plumbline.cluster import Cluster
from plumbline.config import App
from plumbline.controller._log import log
from plumbline.controller._model import Settings
from plumbline.engine.lease import (
    Grant,
    Renewer,
    live_replicas,
    owner_lease_name,
    read_lease,
    release,
    release_replica,
)


@dataclass(frozen=True)
class Shares:
    """How many apps one replica holds: ``limit``, the apps every live replica is configured with
    (their union) over the live replicas, rounded up; ``exclusive``, its apps no other live replica is
    configured with (always its own, not counted against the limit)."""

    limit: int
    exclusive: frozenset[str]


def shares(identity: str, members: dict[str, frozenset[str] | None], apps: Iterable[str]) -> Shares:
    """This replica's :class:`Shares`, from the live ``members`` and the apps each publishes (None:
    unknown, taken to be this replica's own — the count of every replica, as before apps were
    published)."""
    mine = frozenset(apps)
    others = [seen if seen is not None else mine for who, seen in members.items() if who != identity]
    everyone = mine.union(*others)
    exclusive = mine.difference(*others)
    return Shares(limit=-(-len(everyone) // max(1, len(others) + 1)), exclusive=exclusive)


class Share:
    def __init__(
        self,
        settings: Settings,
        *,
        on_taken: Callable[[str], None],
        on_unheld: Callable[[str, float], None] = lambda _app, _seconds: None,
    ) -> None:
        self.settings = settings
        self._on_taken = on_taken  # called with the app's name when its Lease changed hands to us
        self._on_unheld = on_unheld  # (app, seconds seen without a holder; 0: it has one now)
        self._unheld: dict[str, float] = {}  # app -> when this replica first saw it without a holder
        self._rescued: set[str] = set()  # apps taken beyond the share because no one held them
        self._clusters: dict[tuple[str | None, str | None], Cluster] = {}
        self._lock = threading.Lock()
        # The workers ask at once: one decision at a time, so two cannot both take the last app of
        # the share, nor start two Renewers for one server.
        self._deciding = threading.Lock()
        self._renewers: dict[str, Renewer] = {}
        self._replicas: dict[str, tuple[dict[str, frozenset[str] | None], float]] = {}

    def cluster_for(self, app: App) -> Cluster:
        key = (
            self.settings.kubeconfig or app.spec.destination.kubeconfig,
            self.settings.context or app.spec.destination.context,
        )
        with self._lock:  # the health monitor asks too
            if key not in self._clusters:
                self._clusters[key] = engine.connect(
                    app,
                    kubeconfig=self.settings.kubeconfig,
                    context=self.settings.context,
                    limits=self.settings.limits,
                )
            return self._clusters[key]

    def clusters(self, apps: list[App]) -> list[Cluster]:
        """The API servers ``apps`` live on, one each."""
        found: dict[str, Cluster] = {}
        for app in apps:
            cluster = self.cluster_for(app)
            found.setdefault(cluster.server, cluster)
        return list(found.values())

    def members(self, cluster: Cluster, apps: Iterable[str]) -> dict[str, frozenset[str] | None]:
        """The live replicas and the apps each is configured with, this one's ``apps`` published
        (listed every third of the lease duration; the membership Lease is renewed by the
        :class:`Renewer`'s thread, so a replica whose workers are all busy keeps its apps)."""
        moment = time.monotonic()
        renewer = self._renewer(cluster)
        renewer.publish(apps)  # written when the list changed; the Renewer's thread keeps it fresh
        cached = self._replicas.get(cluster.server)
        if cached is None or moment - cached[1] > self.settings.lease_duration_s / 3:
            alive = live_replicas(
                cluster, self.settings.identity, namespace=self.settings.lease_namespace, apps=apps
            )
            self._replicas[cluster.server] = cached = (alive, moment)
        return cached[0]

    def fair_share(self, cluster: Cluster, apps: list[str]) -> Shares:
        """This replica's share of the apps every live replica sees (:class:`Shares`)."""
        return shares(self.settings.identity, self.members(cluster, apps), apps)

    def holds(self, app: App, cluster: Cluster, apps: list[str]) -> bool:
        """Take or renew ``app``'s owner Lease — unless this replica already holds its fair share
        (then a free app is left to the others, and one held beyond the share is given up). An app no
        other live replica is configured with is always taken; so is one that has had no holder for
        longer than a lease period (reported as such: ``on_unheld``), whatever the share."""
        with self._deciding:
            return self._holds(app, cluster, apps)

    def _holds(self, app: App, cluster: Cluster, apps: list[str]) -> bool:
        renewer = self._renewer(cluster)
        share = self.fair_share(cluster, apps)
        counted = renewer.apps - share.exclusive - self._rescued
        mine = app.name in renewer.apps
        if not mine and app.name not in share.exclusive and len(counted) >= share.limit:
            if not self._unheld_too_long(cluster, app):
                return False
            self._rescued.add(app.name)  # kept, not given up again for the share's sake
        elif mine and app.name in counted and len(counted) > share.limit:
            renewer.discard(app.name)
            release(
                cluster,
                app.name,
                self.settings.identity,
                namespace=self.settings.lease_namespace,
                name=owner_lease_name(app.name),
            )
            log(logging.INFO, f"gave the app up to another replica (fair share {share.limit})", app=app.name)
            return False
        grant = renewer.claim(app.name)
        if grant is Grant.ACQUIRED:
            self._on_taken(app.name)
        if grant is not Grant.REFUSED:
            self._unheld.pop(app.name, None)
            self._on_unheld(app.name, 0.0)
        return grant is not Grant.REFUSED

    def _unheld_too_long(self, cluster: Cluster, app: App) -> bool:
        """Whether ``app``'s owner Lease has had no live holder for longer than a lease period, as
        this replica has seen it (told to ``on_unheld`` either way)."""
        info = read_lease(
            cluster, app.name, namespace=self.settings.lease_namespace, name=owner_lease_name(app.name)
        )
        if info is not None and not info.expired():
            self._unheld.pop(app.name, None)
            self._on_unheld(app.name, 0.0)
            return False
        since = self._unheld.setdefault(app.name, time.monotonic())
        seconds = time.monotonic() - since
        self._on_unheld(app.name, seconds)
        return seconds > self.settings.lease_duration_s

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
                cluster.unthrottled(),  # renewals never wait behind the passes' requests
                self.settings.identity,
                namespace=self.settings.lease_namespace,
                duration_s=self.settings.lease_duration_s,
                name=owner_lease_name,
            ).start()
        return self._renewers[cluster.server]
