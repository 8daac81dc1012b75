"""The harness's control plane is a real Kubernetes: the API behaviour plumbline depends on, observed."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic.exceptions import NotFoundError

from plumbline.health import HealthStatus
from plumbline.local import ControlPlane, SimulatedNodes
from plumbline.local.controlplane import TEMP_PREFIX, process_alive, recorded_pids, sweep_stale
from tests.support import cli
from tests.support.kwok import Live, running_deployment
from tests.support.manifests import workload

pytestmark = pytest.mark.integration


def deployment(name: str, image: str = "nginx:1.27") -> dict[str, Any]:
    return workload("Deployment", name, {"name": "web", "image": image})


def test_server_side_apply_creates_a_deployment_with_server_defaults(dyn: Any, namespace: str) -> None:
    deployments = dyn.resources.get(api_version="apps/v1", kind="Deployment")
    live = dyn.server_side_apply(
        deployments, body=deployment("web"), namespace=namespace, field_manager="plumbline"
    ).to_dict()

    # Defaults the API server filled in that the manifest never said.
    assert live["spec"]["replicas"] == 1
    assert live["spec"]["strategy"]["type"] == "RollingUpdate"
    assert live["spec"]["revisionHistoryLimit"] == 10
    container = live["spec"]["template"]["spec"]["containers"][0]
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert container["terminationMessagePath"] == "/dev/termination-log"
    managers = {(m["manager"], m["operation"]) for m in live["metadata"]["managedFields"]}
    assert ("plumbline", "Apply") in managers


def test_dry_run_apply_changes_nothing(dyn: Any, namespace: str) -> None:
    deployments = dyn.resources.get(api_version="apps/v1", kind="Deployment")

    predicted = dyn.server_side_apply(
        deployments, body=deployment("ghost"), namespace=namespace, field_manager="plumbline", dry_run="All"
    ).to_dict()
    assert predicted["spec"]["strategy"]["type"] == "RollingUpdate"  # a full prediction, defaults and all
    with pytest.raises(NotFoundError):
        deployments.get(name="ghost", namespace=namespace)

    created = dyn.server_side_apply(
        deployments, body=deployment("real"), namespace=namespace, field_manager="plumbline"
    ).to_dict()
    changed = dyn.server_side_apply(
        deployments,
        body=deployment("real", image="nginx:1.28"),
        namespace=namespace,
        field_manager="plumbline",
        dry_run="All",
    ).to_dict()
    assert changed["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.28"
    live = deployments.get(name="real", namespace=namespace).to_dict()
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    # Not resourceVersion: the deployment controller writes status meanwhile. generation moves only
    # when the spec changes, so it proves the dry run wrote nothing.
    assert created["metadata"]["generation"] == 1
    assert live["metadata"]["generation"] == 1


def test_a_watch_sees_an_edit_by_another_field_manager(dyn: Any, namespace: str) -> None:
    config_maps = dyn.resources.get(api_version="v1", kind="ConfigMap")
    created = dyn.server_side_apply(
        config_maps,
        body={
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "env"},
            "data": {"DB_HOST": "a", "PORT": "5432"},
        },
        namespace=namespace,
        field_manager="plumbline",
    ).to_dict()

    events: list[dict[str, Any]] = []

    def watch() -> None:
        for event in dyn.watch(
            config_maps,
            namespace=namespace,
            resource_version=created["metadata"]["resourceVersion"],
            timeout=20,
        ):
            if event["type"] == "MODIFIED":
                events.append(event["raw_object"])
                return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    time.sleep(0.5)
    # What `kubectl edit` sends: a patch under its own field manager, operation Update.
    config_maps.patch(
        name="env",
        namespace=namespace,
        body={"data": {"DB_HOST": "b"}},
        content_type="application/merge-patch+json",
        field_manager="kubectl-edit",
    )
    watcher.join(timeout=20)

    assert events, "the watch saw no MODIFIED event within 20s"
    edited = events[0]
    assert edited["data"]["DB_HOST"] == "b"
    by_manager = {m["manager"]: m for m in edited["metadata"]["managedFields"]}
    assert by_manager["kubectl-edit"]["operation"] == "Update"
    assert "f:DB_HOST" in json.dumps(by_manager["kubectl-edit"]["fieldsV1"])
    # The edit moved DB_HOST's ownership to kubectl-edit; plumbline keeps only what it still agrees on.
    assert by_manager["plumbline"]["operation"] == "Apply"
    owned_by_plumbline = json.dumps(by_manager["plumbline"]["fieldsV1"])
    assert "f:PORT" in owned_by_plumbline and "f:DB_HOST" not in owned_by_plumbline


def test_deleting_a_namespace_completes(dyn: Any) -> None:
    namespaces = dyn.resources.get(api_version="v1", kind="Namespace")
    config_maps = dyn.resources.get(api_version="v1", kind="ConfigMap")
    namespaces.create(body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "doomed"}})
    config_maps.create(
        body={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}, namespace="doomed"
    )
    namespaces.delete(name="doomed")

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            phase = namespaces.get(name="doomed").status.phase
        except NotFoundError:
            return  # the namespace controller emptied it and the finalizer let go
        assert phase == "Terminating"
        time.sleep(0.25)
    pytest.fail("namespace 'doomed' was still there 60s after deletion: is kube-controller-manager running?")


def test_rbac_is_enforced(api_client: Any, dyn: Any) -> None:
    """An unprivileged identity is refused: authorization is real, not AlwaysAllow."""
    from kubernetes import client

    impersonating = client.ApiClient(api_client.configuration)
    impersonating.set_default_header("Impersonate-User", "someone")
    with pytest.raises(ApiException) as refused:
        client.CoreV1Api(impersonating).list_namespace()
    assert refused.value.status == 403


KILLED_OWNER = """
import json, sys, time
from plumbline.local import ControlPlane
with ControlPlane.temporary() as plane:
    print(json.dumps({"dir": str(plane.directory)}), flush=True)
    time.sleep(3600)
"""


def test_a_killed_owner_leaves_no_process_and_its_folder_is_swept(control_plane: ControlPlane) -> None:
    owner, started = cli.started_child(KILLED_OWNER, "control plane")
    directory = Path(started["dir"])
    pids = recorded_pids(directory)
    assert set(pids) == {"etcd", "kube-apiserver", "kube-controller-manager"}

    cli.kill_and_wait(owner, lambda: not any(process_alive(pid) for pid in pids.values()))
    assert not any(process_alive(pid) for pid in pids.values())

    assert directory.exists()
    sweep_stale()
    assert not directory.exists()
    assert directory.name.startswith(TEMP_PREFIX)


def plumb(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return cli.plumb(*args, env=env, timeout=300)


def test_plumb_local_up_status_down_as_a_user_would(tmp_path: Path, kwok_nodes: SimulatedNodes) -> None:
    """One local control plane, as ``plumb local up`` starts it for a user, with one simulated node
    (untainted: an ordinary Deployment's Pods run there), reported by ``status``, stopped by ``down``."""
    env = {**os.environ, "PLUMBLINE_STATE_DIR": str(tmp_path / "state")}
    try:
        up = plumb("local", "up", "--nodes", "1", env=env)
        assert up.returncode == 0, up.stderr
        directory = tmp_path / "state" / "local"
        kubeconfig = directory / "kubeconfig"
        assert f"kubeconfig: {kubeconfig}" in up.stdout
        assert "ready at https://127.0.0.1:" in up.stdout
        started_in = float(up.stdout.split(" in ", 1)[1].split("s", 1)[0])
        print(f"plumb local up: ready in {started_in:.1f}s")
        pids = recorded_pids(directory)
        assert {"kube-scheduler", "kwok"} <= set(pids)

        again = plumb("local", "up", env=env)
        assert again.returncode == 0 and "already running" in again.stdout

        status = plumb("local", "status", env=env)
        assert status.returncode == 0, status.stdout
        assert "ready" in status.stdout
        assert "kwok" in status.stdout and "kube-scheduler" in status.stdout

        from kubernetes import client, config
        from kubernetes.dynamic import DynamicClient

        api = config.new_client_from_config(config_file=str(kubeconfig))
        try:
            names = [ns.metadata.name for ns in client.CoreV1Api(api).list_namespace().items if ns.metadata]
            assert "default" in names
            dyn = DynamicClient(api)
            nodes = dyn.resources.get(api_version="v1", kind="Node").get().to_dict()["items"]
            assert [n["metadata"]["name"] for n in nodes] == ["kwok-node-0"]
            assert not nodes[0]["spec"].get("taints")
            live = Live(dyn, "default", "plain")
            live.create(
                running_deployment("plain", replicas=1, tolerate=False)
            )  # an ordinary Deployment runs
            live.wait(
                lambda lv: lv.health()[0].status is HealthStatus.HEALTHY, "the Deployment to be Healthy"
            )
        finally:
            api.close()

        down = plumb("local", "down", env=env)
        assert down.returncode == 0 and "stopped" in down.stdout
        assert "kwok" in down.stdout and "kube-scheduler" in down.stdout
        assert not any(process_alive(pid) for pid in pids.values())
        assert not directory.exists()

        after = plumb("local", "status", env=env)
        assert after.returncode == 1 and "not running" in after.stdout
    finally:
        plumb("local", "down", env=env)  # a failed assertion must not leave a detached plane running
