"""Health on the real control plane: objects as the API server and its controllers report them.

There are no nodes here, so Pods never start: a fresh Deployment must stay Progressing, never Healthy.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from plumbline.health import Health, HealthStatus, assess
from tests.support.git import write_files
from tests.support.manifests import crd, manifest, workload
from tests.support.sites import Workspace, unique

pytestmark = pytest.mark.integration

P, H = HealthStatus.PROGRESSING, HealthStatus.HEALTHY


def _plain(obj: Any) -> dict[str, Any]:
    result: dict[str, Any] = obj.to_dict()
    return result


def _wait(
    read: Callable[[], dict[str, Any]], until: Callable[[dict[str, Any]], bool], what: str
) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        obj = read()
        if until(obj):
            return obj
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}: {obj.get('status')}")
        time.sleep(0.2)


def _status(health: Health | None) -> HealthStatus | None:
    return None if health is None else health.status


@pytest.fixture
def widgets(dyn: Any) -> Iterator[tuple[Any, dict[str, Any]]]:
    """A fresh CRD with a status subresource; yields (its resource, its create response's health)."""
    group = f"h{uuid.uuid4().hex[:8]}.plumbline.test"
    crds = dyn.resources.get(api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition")
    body = crd(group, "Widget", status=True)
    created = _plain(crds.create(body=body))
    try:
        yield crds, created
    finally:
        crds.delete(name=f"widgets.{group}")


def test_a_crd_just_created_is_progressing_then_healthy_once_established(widgets: tuple[Any, Any]) -> None:
    crds, created = widgets
    # The create response: the API server has not established it yet.
    assert _status(assess(created)) is P
    name = created["metadata"]["name"]
    live = _wait(lambda: _plain(crds.get(name=name)), lambda o: _status(assess(o)) is not P, "Established")
    assert _status(assess(live)) is H
    established = [c for c in live["status"]["conditions"] if c["type"] == "Established"]
    assert established and established[0]["status"] == "True"


def test_a_custom_resource_follows_its_ready_condition_and_generation(
    dyn: Any, widgets: Any, namespace: str
) -> None:
    crds, created = widgets
    group = created["spec"]["group"]
    name = created["metadata"]["name"]
    _wait(lambda: _plain(crds.get(name=name)), lambda o: _status(assess(o)) is H, "Established")
    dyn.resources.invalidate_cache()
    api = dyn.resources.get(api_version=f"{group}/v1", kind="Widget")
    body = {"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 1}}
    fresh = _plain(api.create(body=body, namespace=namespace))
    # No status, no conditions: plumbline cannot tell whether anything will report on it.
    assert assess(fresh) is None

    def set_status(status: dict[str, Any]) -> dict[str, Any]:
        patch = {"status": status}
        return _plain(
            api.status.patch(
                body=patch, name="w", namespace=namespace, content_type="application/merge-patch+json"
            )
        )

    waiting = set_status({"conditions": [{"type": "Ready", "status": "False", "reason": "Creating"}]})
    assert _status(assess(waiting)) is P
    ready = set_status(
        {
            "observedGeneration": 1,
            "conditions": [{"type": "Ready", "status": "True", "reason": "Done", "observedGeneration": 1}],
        }
    )
    assert ready["metadata"]["generation"] == 1
    assert _status(assess(ready)) is H
    # A spec change: the API server bumps the generation; the status still describes generation 1.
    changed = _plain(
        api.patch(
            body={"spec": {"size": 2}},
            name="w",
            namespace=namespace,
            content_type="application/merge-patch+json",
        )
    )
    assert changed["metadata"]["generation"] == 2
    health = assess(changed)
    assert _status(health) is P and health is not None and "1" in health.message
    # Only the condition reports a generation (no status.observedGeneration): still stale.
    only_condition = set_status({"observedGeneration": None})
    assert "observedGeneration" not in only_condition["status"]
    assert _status(assess(only_condition)) is P
    current = set_status(
        {"conditions": [{"type": "Ready", "status": "True", "reason": "Done", "observedGeneration": 2}]}
    )
    assert _status(assess(current)) is H


def test_a_deployment_without_nodes_never_becomes_healthy(dyn: Any, namespace: str) -> None:
    api = dyn.resources.get(api_version="apps/v1", kind="Deployment")
    body = workload("Deployment", "web", {"name": "web", "image": "registry.invalid/web:1"}, replicas=1)
    created = _plain(api.create(body=body, namespace=namespace))
    # Right after create the controller has not seen it: no status yet must not read as ready.
    assert _status(assess(created)) is P
    observed = _wait(
        lambda: _plain(api.get(name="web", namespace=namespace)),
        lambda o: (o.get("status") or {}).get("observedGeneration") == 1 and "replicas" in o["status"],
        "the deployment controller",
    )
    health = assess(observed)
    assert _status(health) is P, health
    # And it stays so: the controller's later updates never make it Healthy without running Pods.
    time.sleep(1)
    assert _status(assess(_plain(api.get(name="web", namespace=namespace)))) is P
    # What the controllers made of it: a ReplicaSet with no available replica, and a Pod no node runs.
    made = []
    for api_version, kind in (("apps/v1", "ReplicaSet"), ("v1", "Pod")):
        listed = dyn.resources.get(api_version=api_version, kind=kind).get(namespace=namespace).to_dict()
        assert listed["items"], kind
        # A LIST's items carry no apiVersion and kind; the list says what they are.
        made += [{**item, "apiVersion": api_version, "kind": kind} for item in listed["items"]]
    for obj in made:
        assert _status(assess(obj)) is P, (obj["kind"], obj.get("status"))


def test_jobs_and_cronjobs(dyn: Any, namespace: str) -> None:
    template = {
        "spec": {"restartPolicy": "Never", "containers": [{"name": "x", "image": "registry.invalid/x:1"}]}
    }
    jobs = dyn.resources.get(api_version="batch/v1", kind="Job")
    job = manifest("batch/v1", "Job", "once", spec={"template": template})
    assert _status(assess(_plain(jobs.create(body=job, namespace=namespace)))) is P
    time.sleep(1)  # the job controller has started it; with no node it never completes
    assert _status(assess(_plain(jobs.get(name="once", namespace=namespace)))) is P
    cronjobs = dyn.resources.get(api_version="batch/v1", kind="CronJob")
    for name, suspend, expected in (("nightly", False, H), ("paused", True, HealthStatus.SUSPENDED)):
        spec = {"schedule": "0 3 * * *", "suspend": suspend, "jobTemplate": {"spec": {"template": template}}}
        body = manifest("batch/v1", "CronJob", name, spec=spec)
        assert _status(assess(_plain(cronjobs.create(body=body, namespace=namespace)))) is expected


def test_an_ingress_without_a_controller_is_progressing(dyn: Any, namespace: str) -> None:
    api = dyn.resources.get(api_version="networking.k8s.io/v1", kind="Ingress")
    backend = {"service": {"name": "web", "port": {"number": 80}}}
    body = manifest("networking.k8s.io/v1", "Ingress", "web", spec={"defaultBackend": backend})
    assert _status(assess(_plain(api.create(body=body, namespace=namespace)))) is P


def test_the_api_servers_own_api_services_are_healthy(dyn: Any) -> None:
    api = dyn.resources.get(api_version="apiregistration.k8s.io/v1", kind="APIService")
    local = _plain(api.get(name="v1.apps"))
    assert _status(assess(local)) is H


def test_a_cluster_ip_service_is_healthy(dyn: Any, namespace: str) -> None:
    api = dyn.resources.get(api_version="v1", kind="Service")
    body = manifest("v1", "Service", "web", spec={"selector": {"app": "web"}, "ports": [{"port": 80}]})
    created = _plain(api.create(body=body, namespace=namespace))
    assert created["spec"]["type"] == "ClusterIP"
    assert _status(assess(created)) is H


def test_a_load_balancer_service_without_a_provider_is_progressing(dyn: Any, namespace: str) -> None:
    api = dyn.resources.get(api_version="v1", kind="Service")
    spec = {"type": "LoadBalancer", "selector": {"app": "web"}, "ports": [{"port": 80}]}
    body = manifest("v1", "Service", "edge", spec=spec)
    assert _status(assess(_plain(api.create(body=body, namespace=namespace)))) is P


def test_a_claim_without_a_provisioner_is_progressing(dyn: Any, namespace: str) -> None:
    api = dyn.resources.get(api_version="v1", kind="PersistentVolumeClaim")
    spec = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    body = manifest("v1", "PersistentVolumeClaim", "data", spec=spec)
    created = _plain(api.create(body=body, namespace=namespace))
    assert _status(assess(created)) is P
    time.sleep(1)  # the volume controller has had its look; nothing can bind it here
    live = _plain(api.get(name="data", namespace=namespace))
    assert live["status"].get("phase") == "Pending"
    assert _status(assess(live)) is P


def test_plumb_status_shows_the_apps_health_from_the_objects_its_plan_read(
    tmp_path: Any, control_plane: Any
) -> None:

    ws = Workspace(tmp_path, control_plane)
    app, namespace = unique("health"), unique("health")
    write_files(
        ws.repo,
        {
            "app/web.yaml": """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: "registry.invalid/web:1"}]}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {selector: {app: web}, ports: [{port: 80}]}
"""
        },
    )
    ws.commit("web")
    ws.add_app(app, "app", namespace)

    def status() -> dict[str, Any]:
        done = ws.plumb("status", app, "-o", "json")
        assert done.returncode in (0, 1), done.stdout + done.stderr
        (row,) = json.loads(done.stdout)
        result: dict[str, Any] = row
        return result

    before = status()
    assert before["health"] == "Missing"  # Git declares both; the cluster has neither
    assert "Deployment.apps" in before["healthMessage"] and "Service" in before["healthMessage"]
    synced = ws.plumb("sync", app)
    assert synced.returncode == 0, synced.stdout + synced.stderr
    after = status()
    # The Service is Healthy at once; the Deployment has no node to run on: the app is Progressing.
    assert after["status"] == "Synced" and after["health"] == "Progressing", after
    assert after["healthMessage"].startswith(f"Deployment.apps {namespace}/web")
    table = ws.plumb("status", app)
    assert "HEALTH" in table.stdout and "Progressing" in table.stdout
