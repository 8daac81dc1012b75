"""Benchmark: how long from a live edit (`kubectl edit`-style PATCH) on a managed object until the
controller reports the app OutOfSync with the drift recorded — noticed through its watch, not a poll.

A local control plane is started here; one app of N ConfigMaps in mode ``sync`` is synced by the
controller (Git poll set to an hour, so only the watch can notice), then ConfigMaps are edited one at
a time and the time to the audit trail's ``drift`` record is measured. The target is 2 s.

    .venv/bin/python bench/drift_latency.py               # N = 30 objects, 7 edits
    .venv/bin/python bench/drift_latency.py --objects 300 --edits 5
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from plumbline.cluster import Cluster
from plumbline.config import load_config
from plumbline.controller import Controller, Settings
from plumbline.local import ControlPlane
from plumbline.store import AuditAction, Store


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=bench", "-c", "user.email=b@example.com", *args],
        check=True,
        capture_output=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--objects", type=int, default=30)
    parser.add_argument("--edits", type=int, default=7)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, ControlPlane.temporary(controller_manager=False) as plane:
        root = Path(tmp)
        repo = root / "repo"
        (repo / "app").mkdir(parents=True)
        git(repo, "init", "-q", "-b", "main")
        docs = [
            f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\ndata:\n  KEY: value-{i}\n"
            for i in range(args.objects)
        ]
        (repo / "app" / "all.yaml").write_text("---\n".join(docs))
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", "objects")
        (root / "plumbline.yaml").write_text(
            "apiVersion: plumbline.dev/v1alpha1\nkind: App\nmetadata:\n  name: bench\nspec:\n"
            "  source:\n    repoURL: ./repo\n    targetRevision: main\n    path: app\n"
            "  destination:\n    namespace: bench\n  syncOptions:\n    createNamespace: true\n  mode: sync\n"
        )
        with Store.open(root / "plumbline.db") as store, Cluster(kubeconfig=plane.kubeconfig) as cluster:
            controller = Controller(
                config=lambda: load_config(root / "plumbline.yaml"),
                store=store,
                settings=Settings(identity="bench", interval_s=3600, kubeconfig=str(plane.kubeconfig)),
            )
            thread = threading.Thread(target=controller.run, daemon=True)
            thread.start()
            while store.last_sync("bench") is None:
                time.sleep(0.05)
            time.sleep(1.0)  # the watches start after the first pass
            latencies: list[float] = []
            for i in range(args.edits):
                before = len([r for r in store.audit_log("bench") if r.action == AuditAction.DRIFT])
                edited_at = datetime.now(UTC)
                cluster.request(
                    "PATCH",
                    f"/api/v1/namespaces/bench/configmaps/cm-{i}",
                    query={"fieldManager": "kubectl-edit"},
                    body={"data": {"KEY": f"edited-{i}"}},
                    content_type="application/merge-patch+json",
                )
                deadline = time.monotonic() + 30
                record = None
                while record is None and time.monotonic() < deadline:
                    drifts = [r for r in store.audit_log("bench") if r.action == AuditAction.DRIFT]
                    record = drifts[-1] if len(drifts) > before else None
                    time.sleep(0.01)
                if record is None:
                    raise SystemExit(f"edit {i}: not noticed within 30 s")
                latencies.append((record.time - edited_at).total_seconds())
            controller.stop()
            thread.join(timeout=30)
            controller.close()
        print(f"live edit -> OutOfSync (drift recorded), {args.objects} objects, {args.edits} edits:")
        print(f"  median {statistics.median(latencies):.3f} s, max {max(latencies):.3f} s (target 2 s)")
        print("  each: " + ", ".join(f"{v:.3f}" for v in latencies))


if __name__ == "__main__":
    main()
