"""Benchmark: how long the CLI takes to start, beside kubectl (built from the same Go modules as the
control plane). No cluster is needed: `plumb --help`, `plumb version` and `plumb apps` (on a small
config) never talk to one. Median of --repeat runs each; goal (issue 16): <= 0.3 s.

    .venv/bin/python -m bench.startup
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

from bench.diff_sync import measure
from plumbline import toolchain

CONFIG = """apiVersion: plumbline.dev/v1alpha1
kind: App
metadata: {name: guestbook}
spec:
  source: {repoURL: https://example.com/repo.git, path: apps/guestbook}
  destination: {namespace: guestbook}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    kubectl = str(toolchain.binary("kubectl"))
    plumb = [sys.executable, "-m", "plumbline"]
    with tempfile.TemporaryDirectory(prefix="plumbline-startup-") as tmp:
        config = Path(tmp) / "plumbline.yaml"
        config.write_text(CONFIG)
        env = {**os.environ, "PLUMBLINE_CONFIG": str(config), "KUBECONFIG": str(Path(tmp) / "none")}
        rows = [
            ("--help", [*plumb, "--help"], [kubectl, "--help"]),
            ("version", [*plumb, "version"], [kubectl, "version", "--client"]),
            ("apps / config view", [*plumb, "apps"], [kubectl, "config", "view"]),
        ]
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"median of {args.repeat} run(s); {os.cpu_count()} cores; load average {load}")
        print("| command | kubectl s | plumb s | plumb/kubectl | plumb MB |")
        print("|---|---|---|---|---|")
        for name, mine, theirs in rows:
            k = statistics.median(measure(theirs, env=env, ok=(0,)).seconds for _ in range(args.repeat))
            runs = [measure(mine, env=env, ok=(0,)) for _ in range(args.repeat)]
            p = statistics.median(r.seconds for r in runs)
            mb = statistics.median(r.peak_mb for r in runs)
            print(f"| {name} | {k:.3f} | {p:.3f} | {p / k:.1f} | {mb:.0f} |", flush=True)


if __name__ == "__main__":
    main()
