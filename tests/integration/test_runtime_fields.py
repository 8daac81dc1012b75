"""Runtime fields against the real API server: a HorizontalPodAutoscaler's replicas and an app's
ignoreDifferences are neither changes nor reverted by a sync; the App config carries the rules."""

from __future__ import annotations

import copy
import uuid
from pathlib import Path
from typing import Any

import pytest

from plumbline import engine
from plumbline.cluster import Cluster
from plumbline.config import load_config
from plumbline.plan import Action, Plan, build_plan
from plumbline.plan.attribution import Attribution
from plumbline.plan.runtime import IgnoreRule
from plumbline.sync import sync_plan
from tests.support.workloads import M, add_hpa, deployment, scale

pytestmark = pytest.mark.integration


def plan(cluster: Cluster, app: str, namespace: str, obj: dict[str, Any], **kw: Any) -> Plan:
    return build_plan(
        cluster=cluster,
        app=app,
        namespace=namespace,
        manifests=[M(copy.deepcopy(obj), "web.yaml")],
        revision="main",
        sha="a" * 40,
        **kw,
    )


def replicas(cluster: Cluster, namespace: str) -> int:
    info = cluster.discovery.lookup("apps/v1", "Deployment")
    assert info is not None
    live = cluster.get(info, name="web", namespace=namespace)
    assert live is not None
    return int(live["spec"]["replicas"])


def test_hpa_replicas_are_runtime_and_kept(cluster: Cluster, namespace: str) -> None:
    app = f"app-{uuid.uuid4().hex[:8]}"
    assert sync_plan(plan(cluster, app, namespace, deployment(2)), cluster=cluster).ok
    add_hpa(cluster, namespace)
    scale(cluster, namespace, 5, "scaler-by-hand")  # what the autoscaler would do
    scaled = plan(cluster, app, namespace, deployment(2))
    (item,) = scaled.items
    (change,) = item.changes
    assert change.attribution is Attribution.RUNTIME and change.pointer == "/spec/replicas"
    assert (change.live, change.git) == (5, 2) and "HorizontalPodAutoscaler" in (change.rule or "")
    assert item.action is Action.UNCHANGED and not scaled.has_changes
    assert item.desired is not None and "replicas" not in item.desired["spec"]
    report = sync_plan(scaled, cluster=cluster)
    assert report.ok, report.refused
    assert replicas(cluster, namespace) == 5


def test_without_an_hpa_the_same_edit_is_drift(cluster: Cluster, namespace: str) -> None:
    app = f"app-{uuid.uuid4().hex[:8]}"
    first = plan(cluster, app, namespace, deployment(2))
    assert sync_plan(first, cluster=cluster).ok
    synced = {item.ref: item.desired for item in first.items if item.desired}
    scale(cluster, namespace, 5, "kubectl-scale")
    again = plan(cluster, app, namespace, deployment(2), last_synced=synced)
    (change,) = again.changes
    assert change.attribution is Attribution.DRIFT_REVERT and change.editor is not None
    assert change.editor.manager == "kubectl-scale" and change.last_synced == 2
    assert sync_plan(again, cluster=cluster).refused and replicas(cluster, namespace) == 5
    # The app's own rule makes the same field runtime (by manager), and the sync leaves it.
    ignoring = plan(
        cluster,
        app,
        namespace,
        deployment(2),
        last_synced=synced,
        ignore=[IgnoreRule(group="apps", kind="Deployment", managers=("kubectl-*",))],
    )
    (change,) = ignoring.changes
    assert change.attribution is Attribution.RUNTIME and "kubectl-scale" in (change.rule or "")
    assert sync_plan(ignoring, cluster=cluster).ok and replicas(cluster, namespace) == 5


def test_ignore_differences_in_the_app_config(tmp_path: Path) -> None:
    path = tmp_path / "plumbline.yaml"
    path.write_text(
        """apiVersion: plumbline.dev/v1alpha1
kind: App
metadata:
  name: web
spec:
  source: {repoURL: https://example.com/r.git, path: web}
  destination: {namespace: web}
  ignoreDifferences:
    - group: apps
      kind: Deployment
      jsonPointers: [/spec/replicas]
    - kind: ConfigMap
      name: generated-*
      managers: [vpa-recommender]
"""
    )
    rules = engine.ignore_rules(load_config(path).app("web"))
    assert rules == [
        IgnoreRule(group="apps", kind="Deployment", json_pointers=("/spec/replicas",)),
        IgnoreRule(group="*", kind="ConfigMap", name="generated-*", managers=("vpa-recommender",)),
    ]
