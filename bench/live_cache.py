"""Benchmark: the memory the controller's watch-fed cache of live objects takes, per object.

A local control plane is started here (no kube-controller-manager). N ConfigMaps like the scale
benchmark's (one key, plumbline's tracking labels and annotation, applied server-side by plumbline:
their managedFields are real) are spread over namespaces of 100 (apps of 10 objects); then one
``LiveCache`` lists and watches them, and this process's resident memory (VmRSS) is read before the
cache starts and once it has synced. Beside it: the same objects as the decoded dicts a LIST gives
(what a cache of dicts would hold), measured the same way. The goal it serves (issue 16): the whole
controller in <= 300 MiB at 1000 apps x 10 objects.

    .venv/bin/python -m bench.live_cache              # 10000 ConfigMaps
    .venv/bin/python -m bench.live_cache --objects 1000
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from typing import Any

from plumbline.cluster import Cluster
from plumbline.cluster.cache import LiveCache
from plumbline.local import ControlPlane
from plumbline.plan.tracking import add_tracking

PER_NAMESPACE = 100
PER_APP = 10


def rss_mib() -> float:
    gc.collect()
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def config_map(i: int) -> dict[str, Any]:
    namespace = f"bench-{i // PER_NAMESPACE:04}"
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"cm-{i % PER_APP}-{i // PER_APP}", "namespace": namespace},
        "data": {"KEY": f"value-{i // PER_APP}-{i % PER_APP}"},
    }
    add_tracking(obj, app=f"app-{i // PER_APP:05}")
    return obj


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=10_000, help="ConfigMaps (default 10000)")
    args = parser.parse_args()
    with (
        ControlPlane.temporary(controller_manager=False) as plane,
        Cluster(kubeconfig=plane.kubeconfig) as cluster,
    ):
        print(f"control plane ready in {plane.started_in:.1f}s; {os.cpu_count()} cores", file=sys.stderr)
        namespaces = cluster.discovery.lookup("v1", "Namespace")
        configmaps = cluster.discovery.lookup("v1", "ConfigMap")
        assert namespaces is not None and configmaps is not None
        for n in range((args.objects + PER_NAMESPACE - 1) // PER_NAMESPACE):
            ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"bench-{n:04}"}}
            cluster.apply(ns, info=namespaces, result=False)
        started = time.monotonic()
        cluster.map(
            lambda i: cluster.apply(config_map(i), info=configmaps, result=False), range(args.objects)
        )
        print(f"{args.objects} ConfigMaps applied in {time.monotonic() - started:.1f}s", file=sys.stderr)

        before = rss_mib()
        started = time.monotonic()
        cache = LiveCache(cluster)
        cache.watch([configmaps])
        assert cache.wait_synced(600)
        listed_s = time.monotonic() - started
        held = rss_mib() - before
        sample = cache.labelled(configmaps, app="app-00000", namespace=None) or []
        cache.close()

        before = rss_mib()
        as_dicts = cluster.list(configmaps, label_selector="plumbline.dev/app")
        dicts = rss_mib() - before
        assert len(as_dicts) >= args.objects
        json_bytes = sum(len(json.dumps(o, separators=(",", ":"))) for o in as_dicts) / len(as_dicts)

    print("| objects | cache MiB | KiB/object | as dicts MiB | KiB/object | JSON B/object | first list s |")
    print(
        "|--------:|----------:|---------------:|-------------:|---------------:|--------------:|-------------:|"
    )
    print(
        f"| {args.objects} | {held:.1f} | {held * 1024 / args.objects:.2f} | {dicts:.1f} | "
        f"{dicts * 1024 / args.objects:.2f} | {json_bytes:.0f} | {listed_s:.1f} |"
    )
    assert sample, "the cache held no object of app-00000"


if __name__ == "__main__":
    main()
