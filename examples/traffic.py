"""The demo's users and their error rate (`make demo`, examples/demo.sh): a real Prometheus scraping a
small exporter of request counters, on loopback, until this process is stopped.

Seed 04: a release whose config points the app at the wrong database goes green — its Pods run and
become Ready — and then the 5xx come. Here: while a Ready guestbook Pod runs the image given as
``--bad-image`` and the ConfigMap's ``--key`` is not ``--good-value``, half the requests fail;
otherwise none do. The Prometheus URL is written to ``--url-file`` once it answers.

    .venv/bin/python examples/traffic.py --url-file .demo/prometheus.url --bad-image nginx:1.30 \\
        --key DB_SSLMODE --good-value disable
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from plumbline.cluster import Cluster
from plumbline.local import Exporter, Prometheus

METRIC = "guestbook_requests"
NAMESPACE = "guestbook"


def failing(cluster: Cluster, *, bad_image: str, key: str, good_value: str) -> bool:
    """A Ready Pod of the bad image runs with the wrong database setting."""
    env = cluster.request("GET", f"/api/v1/namespaces/{NAMESPACE}/configmaps/guestbook-env")
    if (env.get("data") or {}).get(key) == good_value:
        return False
    pods: list[dict[str, Any]] = cluster.request("GET", f"/api/v1/namespaces/{NAMESPACE}/pods")["items"]
    return any(
        any(c.get("image") == bad_image for c in p["spec"]["containers"])
        and any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in (p.get("status") or {}).get("conditions") or []
        )
        for p in pods
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url-file", type=Path, required=True)
    parser.add_argument("--bad-image", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--good-value", required=True)
    args = parser.parse_args()
    stop = threading.Event()

    def stopping(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, stopping)
    signal.signal(signal.SIGINT, stopping)
    with Exporter() as exporter, Prometheus.temporary([exporter.target]) as prometheus, Cluster() as cluster:
        served = 0
        exporter.set(METRIC, 0, code="200")
        exporter.set(METRIC, 0, code="500")
        prometheus.wait_for(f'{METRIC}_total{{code="500"}}', 0)
        args.url_file.write_text(prometheus.url + "\n")
        while not stop.wait(0.5):
            served += 10
            try:
                errors = (
                    served // 2
                    if failing(cluster, bad_image=args.bad_image, key=args.key, good_value=args.good_value)
                    else 0
                )
            except Exception as error:  # the demo's namespace is being made or removed: no traffic yet
                print(f"traffic: {error}", file=sys.stderr)
                errors = 0
            exporter.set(METRIC, served, code="200")
            exporter.set(METRIC, errors, code="500")


if __name__ == "__main__":
    main()
