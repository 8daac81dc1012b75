"""What the secrets guard costs on a large app: its objects, then also the raw text of its files.

    .venv/bin/python bench/secrets_cost.py [N] [--objects-only]   # N objects (default 1000), 100 a file

Half Deployments (env values, one of them a commit SHA), half ConfigMaps, written as YAML into an
app's source path. Times are CPU seconds of this process (the machine is shared, wall time is not
the guard's): ``cold`` in a fresh process, ``again`` for the same content (a controller re-syncing).
``--objects-only`` leaves the files out (the guard as it was before it read raw text).
"""

from __future__ import annotations

import dataclasses
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from secrets_labelled import _context, _Manifest

from plumbline.guards import run_guards
from plumbline.guards.offline import offline_plan


def _objects(n: int) -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = []
    for i in range(n // 2):
        env = {"LOG_LEVEL": "info", "DB_HOST": f"db{i}.svc.cluster.local", "GIT_SHA": "3f78" + "6850e3" * 6}
        container = {
            "name": "app",
            "image": f"registry.example/app{i}:1.0",
            "env": [{"name": k, "value": v} for k, v in env.items()],
        }
        objects.append(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": f"app{i}"},
                "spec": {"template": {"spec": {"containers": [container]}}},
            }
        )
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": f"cm{i}"},
                "data": {"URL": f"http://x{i}.svc:80/", "MODE": "fast", "TITLE": "hello world"},
            }
        )
    return objects


def main() -> int:
    args = [a for a in sys.argv[1:] if a != "--objects-only"]
    n = int(args[0]) if args else 1000
    objects = _objects(n)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        source = root / "apps" / "sample"
        source.mkdir(parents=True)
        manifests = []
        for k in range(0, len(objects), 100):
            rel = f"apps/sample/part{k // 100}.yaml"
            (root / rel).write_text(yaml.safe_dump_all(objects[k : k + 100]))
            manifests += [_Manifest(obj, rel) for obj in objects[k : k + 100]]
        lines = sum(len(p.read_text().splitlines()) for p in source.iterdir())
        plan = offline_plan(
            app="sample", namespace="sample", base=[], head=manifests, revision="main", sha="0" * 40
        )
        context = _context(root)
        if "--objects-only" in sys.argv:
            context.checkout = dataclasses.replace(context.checkout, root=None)
        for label in ("cold", "again"):
            began = time.process_time()
            findings = run_guards(plan=plan, context=context, only={"secrets"})
            print(f"{label}: {time.process_time() - began:.2f} s CPU, {len(findings)} finding(s)")
    print(f"{len(objects)} objects in {(len(objects) + 99) // 100} files, {lines} lines")
    return 0


if __name__ == "__main__":
    sys.exit(main())
