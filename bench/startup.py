"""Benchmark: how long the CLI takes to start, beside kubectl (built from the same Go modules as the
control plane). No cluster is needed: `plumb --help`, `plumb sync --help`, `plumb version` and
`plumb apps` (on a small config) never talk to one. Median of --repeat runs each; goal (issue 16): <= 0.3 s.
Beside the wall time, plumb's CPU time (user + system: steadier than the wall time on a loaded
machine) and its peak RSS — forked by a small helper process, because a child forked from this one
would report this process's size (the kernel counts the memory a child was forked with).

    .venv/bin/python -m bench.startup
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

from plumbline import toolchain

CONFIG = """apiVersion: plumbline.dev/v1alpha1
kind: App
metadata: {name: guestbook}
spec:
  source: {repoURL: https://example.com/repo.git, path: apps/guestbook}
  destination: {namespace: guestbook}
"""


PEAK = """import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
print(os.wait4(pid, 0)[2].ru_maxrss)
"""
"""Run by ``python -S`` (a few MB): forks the measured command, so its ru_maxrss is its own."""


class Run(NamedTuple):
    seconds: float
    cpu: float
    peak_mb: float


def measure(cmd: list[str], *, env: dict[str, str]) -> Run:
    """One run of ``cmd`` (exit 0 required): wall and CPU seconds directly, peak RSS in a second run
    forked by a small helper."""
    began = time.perf_counter()
    process = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - began
    if os.waitstatus_to_exitcode(status) != 0:
        stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
        raise SystemExit(f"{' '.join(cmd)} failed:\n{stderr[-2000:]}")
    peak = subprocess.run(
        [sys.executable, "-S", "-c", PEAK, *cmd], env=env, capture_output=True, text=True, check=True
    ).stdout.splitlines()[-1]
    return Run(seconds, usage.ru_utime + usage.ru_stime, int(peak) / 1024)


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
            ("sync --help / apply --help", [*plumb, "sync", "--help"], [kubectl, "apply", "--help"]),
            ("version", [*plumb, "version"], [kubectl, "version", "--client"]),
            ("apps / config view", [*plumb, "apps"], [kubectl, "config", "view"]),
        ]
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"median of {args.repeat} run(s); {os.cpu_count()} cores; load average {load}")
        print("| command | kubectl s | plumb s | plumb/kubectl | plumb CPU s | plumb MB |")
        print("|---|---|---|---|---|---|")
        for name, mine, theirs in rows:
            k = statistics.median(measure(theirs, env=env).seconds for _ in range(args.repeat))
            runs = [measure(mine, env=env) for _ in range(args.repeat)]
            p = statistics.median(r.seconds for r in runs)
            cpu = statistics.median(r.cpu for r in runs)
            mb = statistics.median(r.peak_mb for r in runs)
            print(f"| {name} | {k:.3f} | {p:.3f} | {p / k:.1f} | {cpu:.3f} | {mb:.0f} |", flush=True)


if __name__ == "__main__":
    main()
