"""Benchmark: one controller pass over many apps, beside `kubectl apply --server-side` of the same objects.

A local control plane is started here (no kube-controller-manager: only ConfigMaps are used). One Git
repository holds A apps of O ConfigMaps each, one namespace per app, every app in mode ``sync``. The
first `plumb controller --once` creates everything; then the pass that finds nothing to change is
timed (wall time and peak RSS of the process), beside one `kubectl apply --server-side` of all the
same objects (which also changes nothing). Median of --repeat runs. Goals (issue 16): a pass over
1000 apps x 10 objects with nothing to change in <= 30 s and <= 300 MiB.

    .venv/bin/python -m bench.scale                 # 100 apps x 10 objects, median of 3
    .venv/bin/python -m bench.scale --apps 1000 --objects 10 --repeat 1
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

from bench.diff_sync import Run, git, measure
from plumbline import toolchain
from plumbline.local import ControlPlane


def write_apps(root: Path, apps: int, objects: int) -> Path:
    """The repository (``root/repo``) and the config naming every app; returns the config file."""
    repo = root / "repo"
    entries: list[str] = []
    for a in range(apps):
        folder = repo / "apps" / f"app-{a:04}"
        folder.mkdir(parents=True)
        docs = [
            f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{o}\n  namespace: scale-{a:04}\n"
            f"data:\n  KEY: value-{a}-{o}\n"
            for o in range(objects)
        ]
        (folder / "objects.yaml").write_text("---\n".join(docs))
        entries.append(
            f"apiVersion: plumbline.dev/v1alpha1\nkind: App\nmetadata:\n  name: scale-{a:04}\nspec:\n"
            f"  source:\n    repoURL: {repo}\n    targetRevision: main\n    path: apps/app-{a:04}\n"
            f"  destination:\n    namespace: scale-{a:04}\n  syncOptions:\n    createNamespace: true\n"
            "  mode: sync\n"
        )
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "-c", "user.name=bench", "-c", "user.email=bench@local", "commit", "-qm", "apps")
    config = root / "plumbline.yaml"
    config.write_text("---\n".join(entries))
    return config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", type=int, default=100)
    parser.add_argument("--objects", type=int, default=10, help="ConfigMaps per app")
    parser.add_argument("--repeat", type=int, default=3, help="timed passes; the table shows medians")
    args = parser.parse_args()
    kubectl = toolchain.binary("kubectl")
    with (
        tempfile.TemporaryDirectory(prefix="plumbline-scale-") as tmp,
        ControlPlane.temporary(controller_manager=False) as plane,
    ):
        root = Path(tmp)
        config = write_apps(root, args.apps, args.objects)
        env = {
            **os.environ,
            "KUBECONFIG": str(plane.kubeconfig),
            "PLUMBLINE_CONFIG": str(config),
            "PLUMBLINE_STORE": str(root / "plumbline.db"),
        }
        plumb = [sys.executable, "-m", "plumbline", "controller", "--once"]
        first = measure(plumb, env=env, ok=(0,))
        print(
            f"{args.apps} apps x {args.objects} ConfigMaps; first pass (creates all): {first.seconds:.1f} s, "
            f"{first.peak_mb:.0f} MB; {os.cpu_count()} cores",
            file=sys.stderr,
        )
        kubectl_cmd = [str(kubectl), "apply", "--server-side", "-R", "-f", str(root / "repo" / "apps")]
        plumb_runs: list[Run] = []
        kubectl_runs: list[Run] = []
        for _ in range(args.repeat):
            kubectl_runs.append(measure(kubectl_cmd, env=env, ok=(0,)))
            plumb_runs.append(measure(plumb, env=env, ok=(0,)))
        k = statistics.median(r.seconds for r in kubectl_runs)
        p = statistics.median(r.seconds for r in plumb_runs)
        k_mb = statistics.median(r.peak_mb for r in kubectl_runs)
        p_mb = statistics.median(r.peak_mb for r in plumb_runs)
        print(f"median of {args.repeat} run(s), nothing to change")
        print(
            "| apps x objects | kubectl apply --server-side s | plumb controller --once s | per app s"
            " | kubectl MB | plumb MB |"
        )
        print("|---|---|---|---|---|---|")
        print(
            f"| {args.apps} x {args.objects} | {k:.2f} | {p:.2f} | {p / args.apps:.3f}"
            f" | {k_mb:.0f} | {p_mb:.0f} |"
        )


if __name__ == "__main__":
    main()
