"""Is the controller's API server — and the etcd behind it — answering? What ``/healthz`` says.

The API server's own ``/readyz`` covers etcd (a kube-apiserver whose etcd is down or frozen answers
500 there, or not at all). Each answer is kept for ``ttl_s`` so probes cannot hammer the API server.
An outage is logged once as an error when it begins and once when it ends (with its length), from a
monitor thread, so a controller whose passes are stuck on a dead API server still says so.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from plumbline.cluster import ApiFailure, Cluster
from plumbline.controller._log import log
from plumbline.errors import PlumbError

TTL_S = 2.0
TIMEOUT_S = 5.0


@dataclass
class _Seen:
    ok: bool
    why: str
    at: float
    down_since: float | None = None


class ApiHealth:
    def __init__(self, *, ttl_s: float = TTL_S, timeout_s: float = TIMEOUT_S) -> None:
        self.ttl_s, self.timeout_s = ttl_s, timeout_s
        self._seen: dict[str, _Seen] = {}
        self._lock = threading.Lock()
        self._checking: dict[str, threading.Lock] = {}

    def check(self, cluster: Cluster) -> tuple[bool, str]:
        """(ready, why) for ``cluster``'s API server, at most ``ttl_s`` old."""
        server = cluster.server
        with self._lock:
            seen = self._seen.get(server)
            gate = self._checking.setdefault(server, threading.Lock())
        if seen is not None and time.monotonic() - seen.at < self.ttl_s:
            return seen.ok, seen.why
        with gate:  # one probe per server at a time; the others take its answer
            with self._lock:
                seen = self._seen.get(server)
            if seen is not None and time.monotonic() - seen.at < self.ttl_s:
                return seen.ok, seen.why
            ok, why = self._probe(cluster)
            self._note(server, ok, why)
            return ok, why

    def _probe(self, cluster: Cluster) -> tuple[bool, str]:
        try:
            cluster.request("GET", "/readyz", timeout=self.timeout_s, decode=False)
        except ApiFailure as failure:
            return False, f"API server {cluster.server} not ready ({failure.status}): {failure.message[:300]}"
        except PlumbError as error:
            return False, f"API server {cluster.server} unreachable: {error}"
        except Exception as error:  # a timeout or reset below the client's own mapping
            return False, f"API server {cluster.server} unreachable: {error}"
        return True, f"API server {cluster.server} ready"

    def _note(self, server: str, ok: bool, why: str) -> None:
        moment = time.monotonic()
        with self._lock:
            before = self._seen.get(server)
            down_since = None if ok else (before.down_since if before and before.down_since else moment)
            self._seen[server] = _Seen(ok=ok, why=why, at=moment, down_since=down_since)
        if not ok and (before is None or before.ok):
            log(logging.ERROR, f"{why}; syncs wait until it answers", server=server)
        elif ok and before is not None and not before.ok:
            lasted = moment - (before.down_since or moment)
            log(logging.INFO, f"API server {server} ready again after {lasted:.0f}s", server=server)


class Monitor:
    """Probes every cluster ``clusters()`` names every ``ttl_s``, on its own thread, until stopped."""

    def __init__(self, health: ApiHealth, clusters: Callable[[], list[Cluster]]) -> None:
        self.health, self.clusters = health, clusters
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="plumbline-health", daemon=True)

    def start(self) -> Monitor:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.health.timeout_s + 1)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                for cluster in self.clusters():
                    self.health.check(cluster)
            except PlumbError as error:  # e.g. a kubeconfig that cannot be read: say so, keep going
                log(logging.ERROR, f"cannot check the API server: {error}")
            self._stop.wait(self.health.ttl_s)
