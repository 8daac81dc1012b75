"""Benchmark: `plumb diff` / `plumb sync` beside `kubectl diff --server-side` / `kubectl apply --server-side`.

Same API server (a local control plane started here), same objects (N/3 ConfigMaps, Services and
Deployments, from the same files), kubectl built from the same Go modules as the server. Each tool
writes into its own namespace so both start from the same empty state. Prints wall time, the CPU
time of the tool's own process (user + system; the API server's is not in it) and peak memory (max
RSS of the process) side by side. On a machine others share, wall time measures the neighbours too;
the CPU time is the tool's alone.

kube-controller-manager is not started: it would still be creating ReplicaSets and Pods for the
first tool's Deployments while the second tool runs, which measures the controllers, not the tools.

    .venv/bin/python bench/diff_sync.py                # N = 100, 1000, 3000; median of 3 runs each
    .venv/bin/python bench/diff_sync.py --repeat 1 300 # other sizes, one run
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from plumbline import toolchain
from plumbline.local import ControlPlane


@dataclass
class Run:
    seconds: float
    peak_mb: float
    code: int
    cpu_s: float = 0.0  # user + system time of the process (its threads included, not the server's)


def measure(cmd: list[str], *, env: dict[str, str], ok: tuple[int, ...] = (0, 1)) -> Run:
    # stderr goes to a file, not a pipe: nobody reads a pipe while the process runs, and a process
    # that logs more than the pipe holds (a controller pass over 1000 apps) would block on it forever
    with tempfile.TemporaryFile() as errors:
        began = time.perf_counter()
        process = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=errors)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - began
        code = os.waitstatus_to_exitcode(status)
        if code not in ok:
            errors.seek(0)
            stderr = errors.read().decode(errors="replace")
            raise SystemExit(f"{' '.join(cmd)} exited {code}:\n{stderr[-2000:]}")
    cpu = usage.ru_utime + usage.ru_stime
    return Run(seconds=seconds, peak_mb=usage.ru_maxrss / 1024, code=code, cpu_s=cpu)


def write_objects(folder: Path, n: int) -> None:
    folder.mkdir(parents=True)
    per_kind = n // 3
    docs: list[str] = []
    for i in range(per_kind):
        docs.append(f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\ndata:\n  KEY: value-{i}\n")
        docs.append(
            f"apiVersion: v1\nkind: Service\nmetadata:\n  name: svc-{i}\nspec:\n"
            f"  selector:\n    app: app-{i}\n  ports:\n  - port: 80\n    targetPort: 8080\n"
        )
        docs.append(
            f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-{i}\nspec:\n  replicas: 1\n"
            f"  selector:\n    matchLabels:\n      app: app-{i}\n  template:\n    metadata:\n      labels:\n"
            f"        app: app-{i}\n    spec:\n      containers:\n      - name: web\n"
            "        image: nginx:1.27\n"
            "        resources:\n          limits:\n            cpu: 100m\n            memory: 64Mi\n"
        )
    for start in range(0, len(docs), 300):
        (folder / f"objects-{start // 300:03}.yaml").write_text("---\n".join(docs[start : start + 300]))


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def bench(n: int, rep: int, plane: ControlPlane, work: Path, kubectl: Path) -> list[tuple[str, Run, Run]]:
    repo = work / f"repo-{n}-{rep}"
    objects = repo / "apps" / "bench"
    write_objects(objects, n)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "-c", "user.name=bench", "-c", "user.email=bench@local", "commit", "-qm", f"{n} objects")
    config = work / f"plumbline-{n}-{rep}.yaml"
    config.write_text(
        f"""apiVersion: plumbline.dev/v1alpha1
kind: App
metadata:
  name: bench-{n}-{rep}
spec:
  source:
    repoURL: {repo}
    targetRevision: main
    path: apps/bench
  destination:
    namespace: plumb-{n}-{rep}
  mode: sync
"""
    )
    env = {
        **os.environ,
        "KUBECONFIG": str(plane.kubeconfig),
        "PLUMBLINE_CONFIG": str(config),
        "PLUMBLINE_STORE": str(work / "plumbline.db"),
    }
    kube_ns, plumb_ns = f"kube-{n}-{rep}", f"plumb-{n}-{rep}"
    for ns in (kube_ns, plumb_ns):
        subprocess.run([str(kubectl), "create", "namespace", ns], env=env, check=True, capture_output=True)
    plumb = [sys.executable, "-m", "plumbline"]
    kc = [str(kubectl), "-n", kube_ns]
    rows = []
    rows.append(
        (
            "diff (all new)",
            measure([*kc, "diff", "--server-side", "-f", str(objects)], env=env),
            measure([*plumb, "diff", f"bench-{n}-{rep}"], env=env),
        )
    )
    rows.append(
        (
            "sync / apply",
            measure([*kc, "apply", "--server-side", "-f", str(objects)], env=env, ok=(0,)),
            measure([*plumb, "sync", f"bench-{n}-{rep}"], env=env, ok=(0,)),
        )
    )
    rows.append(
        (
            "sync (no changes)",
            measure([*kc, "apply", "--server-side", "-f", str(objects)], env=env, ok=(0,)),
            measure([*plumb, "sync", f"bench-{n}-{rep}"], env=env, ok=(0,)),
        )
    )
    rows.append(
        (
            "diff (no changes)",
            measure([*kc, "diff", "--server-side", "-f", str(objects)], env=env, ok=(0,)),
            measure([*plumb, "diff", f"bench-{n}-{rep}"], env=env, ok=(0,)),
        )
    )
    return rows


def median(runs: list[Run]) -> Run:
    return Run(
        seconds=statistics.median(r.seconds for r in runs),
        peak_mb=statistics.median(r.peak_mb for r in runs),
        code=runs[0].code,
        cpu_s=statistics.median(r.cpu_s for r in runs),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[100, 1000, 3000])
    parser.add_argument("--repeat", type=int, default=3, help="runs per size; the table shows medians")
    args = parser.parse_args()
    kubectl = toolchain.binary("kubectl")
    print(f"kubectl: {kubectl}", file=sys.stderr)
    with (
        tempfile.TemporaryDirectory(prefix="plumbline-bench-") as tmp,
        ControlPlane.temporary(controller_manager=False) as plane,
    ):
        print(f"control plane ready in {plane.started_in:.1f}s; {os.cpu_count()} cores", file=sys.stderr)
        header = (
            f"| {'N':>5} | {'operation':<18} | {'kubectl s':>9} | {'plumb s':>8} | {'plumb/kubectl':>13} |"
        )
        header += f" {'kubectl CPU s':>13} | {'plumb CPU s':>11} | {'kubectl MB':>10} | {'plumb MB':>8} |"
        print(f"median of {args.repeat} run(s); load average {os.getloadavg()[0]:.1f} at the start")
        print(header)
        print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
        for n in args.sizes:
            runs = [bench(n, rep, plane, Path(tmp), kubectl) for rep in range(args.repeat)]
            for index, (operation, _, _) in enumerate(runs[0]):
                k = median([r[index][1] for r in runs])
                p = median([r[index][2] for r in runs])
                print(
                    f"| {n:>5} | {operation:<18} | {k.seconds:>9.2f} | {p.seconds:>8.2f} | "
                    f"{p.seconds / k.seconds:>13.2f} | {k.cpu_s:>13.2f} | {p.cpu_s:>11.2f} | "
                    f"{k.peak_mb:>10.0f} | {p.peak_mb:>8.0f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
