"""Benchmark: how long from a live edit (a `kubectl edit`-style PATCH) on a managed object until the
controller says the app is OutOfSync, with many apps and a steady trickle of commits.

What is watched is what a user watches: the controller's Kubernetes Event ``Drift`` (Warning, "live
differs from Git: …"), which it files in the app's namespace in the pass that first sees the drift —
`kubectl get events -w` shows it; the same pass sets ``plumbline_app_sync_status{status="OutOfSync"}``
and writes the ``drift`` audit record. One watch on Events (``reason=Drift``, every namespace) gives
the moment each arrives.

A local control plane is started here, A apps of O ConfigMaps in mode ``sync`` (bench/scale.py's),
and a long-running `plumb controller` (Git polled every --interval s). Once its first round has
created everything, for --edits seconds: every second a live edit of one ConfigMap of a random app
(apps with an odd number; each (app, ConfigMap) edited once, so each edit is new drift), and every
--commit-every seconds a commit to a random even-numbered app's ConfigMaps (applied by the controller
at its next poll: the load). Each edit's latency is the time until its app's Drift Event arrives; an
edit not seen within --wait s after the last one counts as not seen. Goal (issue 16): p95 <= 2 s
with 1000 apps under load.

    .venv/bin/python -m bench.drift_latency                    # 100 apps x 10, 60 edits
    .venv/bin/python -m bench.drift_latency --apps 1000 --edits 60
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import threading
import time
from dataclasses import dataclass

from bench.scale import Scene, app_name, controller, first_round, scene_options, standalone
from plumbline.cluster import Cluster


@dataclass
class Latencies:
    seconds: list[float]  # each edit seen, in the order made
    unseen: int  # edits whose Drift Event did not arrive in time
    commits: int  # commits made meanwhile
    wait_s: float

    def quantile(self, q: float) -> float:
        """The ``q`` quantile over every edit, an unseen one counting as infinitely late."""
        ordered = sorted(self.seconds) + [float("inf")] * self.unseen
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]

    def show(self, q: float) -> str:
        value = self.quantile(q)
        return f"> {self.wait_s:.0f}" if value == float("inf") else f"{value:.2f}"


class DriftEvents:
    """One watch on Events with reason Drift, in every namespace: when each app's first arrived."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.seen: dict[str, list[float]] = {}  # namespace (= app) -> when its Drift Events arrived
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        query = {"fieldSelector": "reason=Drift"}
        while not self._stop.is_set():
            if "resourceVersion" not in query:  # from now on (what a LIST says now), never older Events
                listed = self.cluster.request("GET", "/api/v1/events", query={**query, "limit": "1"})
                query["resourceVersion"] = str((listed.get("metadata") or {}).get("resourceVersion", ""))
                self.ready.set()
            for event in self.cluster.stream("/api/v1/events", query=query, timeout=30):
                at = time.monotonic()
                meta = (event.get("object") or {}).get("metadata") or {}
                if event.get("type") == "ERROR":
                    del query["resourceVersion"]  # 410 Gone: start again from now
                    break
                query["resourceVersion"] = str(meta.get("resourceVersion", query["resourceVersion"]))
                if event.get("type") == "ADDED":
                    with self.lock:
                        self.seen.setdefault(str(meta.get("namespace")), []).append(at)

    def since(self, app: str, moment: float) -> float | None:
        """Seconds from ``moment`` to the first of ``app``'s Drift Events after it (None: none yet)."""
        with self.lock:
            after = [at for at in self.seen.get(app, []) if at >= moment]
        return min(after) - moment if after else None

    def stop(self) -> None:
        self._stop.set()


def under_load(s: Scene, *, edits: int, commit_every: float, wait: float, seed: int = 16) -> Latencies:
    """Live edits (one a second) and commits (one each ``commit_every`` s) against the running
    controller; each edit's time until its app's Drift Event."""
    rng = random.Random(seed)
    editable = list(range(1, s.apps, 2))
    if len(editable) < edits:
        raise SystemExit(f"{edits} edits need {2 * edits} apps (edits go to odd-numbered ones)")
    targets = rng.sample(editable, edits)
    committed = list(range(0, s.apps, 2))
    made: list[tuple[str, float]] = []
    commits = 0
    with Cluster(kubeconfig=s.kubeconfig) as cluster:
        events = DriftEvents(cluster)
        events.ready.wait(30)
        began = next_commit = time.monotonic()
        for i, a in enumerate(targets):
            while (now := time.monotonic()) < began + i:
                if now >= next_commit:
                    s.commit(rng.choice(committed), f"commit{commits}")
                    commits += 1
                    next_commit += commit_every
                time.sleep(min(0.05, max(0.0, began + i - now)))
            moment = time.monotonic()
            cluster.request(
                "PATCH",
                f"/api/v1/namespaces/{app_name(a)}/configmaps/cm-{rng.randrange(s.objects)}",
                query={"fieldManager": "kubectl-edit"},
                body={"data": {"KEY": f"edited-{i}"}},
                content_type="application/merge-patch+json",
            )
            made.append((app_name(a), moment))
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and any(events.since(app, at) is None for app, at in made):
            time.sleep(0.1)
        events.stop()
    found = [events.since(app, at) for app, at in made]
    return Latencies(
        seconds=[v for v in found if v is not None],
        unseen=sum(v is None for v in found),
        commits=commits,
        wait_s=wait,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    scene_options(parser)
    parser.add_argument("--edits", type=int, default=60, help="live edits, one a second")
    parser.add_argument("--commit-every", type=float, default=1.0, help="seconds between commits")
    parser.add_argument("--wait", type=float, default=120.0, help="after the last edit, s")
    args = parser.parse_args()
    with standalone(args) as s, controller(s, interval=args.interval) as running:
        first_round(running, args.apps)
        result = under_load(s, edits=args.edits, commit_every=args.commit_every, wait=args.wait)
        peak = running.status("VmHWM") / 1024
    print(
        f"live edit -> Drift Event (OutOfSync), {args.apps} apps x {args.objects} ConfigMaps, "
        f"{len(result.seconds) + result.unseen} edits, {result.commits} commits meanwhile; "
        f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; controller peak {peak:.0f} MB"
    )
    print(
        f"  p50 {result.show(0.5)} s, p95 {result.show(0.95)} s (goal: p95 <= 2 s); {result.unseen} not seen"
    )
    if result.seconds:
        print(
            f"  median of those seen {statistics.median(result.seconds):.3f} s, "
            f"max {max(result.seconds):.3f} s"
        )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
