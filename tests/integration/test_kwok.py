"""Pods that really run: kube-scheduler and KWOK's simulated nodes on the real control plane.

A Deployment's Pods are scheduled onto KWOK nodes and go Running and Ready, and plumbline's health
says Healthy; Pods labelled with a fault (plumbline.local.kwok's stages) crash-loop or never become
ready, and health says so. The session's nodes are tainted (tests/conftest.py), so these Deployments
tolerate the taint; a Pod that does not stays unscheduled.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import pytest

from plumbline.errors import ControlPlaneError
from plumbline.health import HealthStatus, app_health, assess
from plumbline.local import ControlPlane, Fault, SimulatedNodes
from plumbline.local.controlplane import recorded_pids
from tests.support.kwok import Live, ready, running_deployment

pytestmark = pytest.mark.integration


def test_a_deployments_pods_run_and_become_ready_on_kwok_nodes(
    kwok_nodes: SimulatedNodes, dyn: Any, namespace: str
) -> None:
    live = Live(dyn, namespace, "web")
    live.create(running_deployment("web", replicas=3, deadline=60))
    live.wait(lambda lv: lv.health()[0].status is HealthStatus.HEALTHY, "the Deployment to be Healthy")

    pods = live.pods()
    assert len(pods) == 3
    for pod in pods:
        assert pod["spec"]["nodeName"] in kwok_nodes.names  # scheduled by the real kube-scheduler
        assert pod["status"]["phase"] == "Running"
        assert ready(pod)
        assert pod["status"]["podIP"]  # KWOK hands out Pod IPs as a network plugin would
        assert pod["status"]["containerStatuses"][0]["state"]["running"]["startedAt"]
    deployment, pod_healths = live.health()
    assert deployment.status is HealthStatus.HEALTHY
    assert [h.status for h in pod_healths] == [HealthStatus.HEALTHY] * 3
    status = live.deployment()["status"]
    assert status["readyReplicas"] == status["availableReplicas"] == 3
    overall = app_health([(f"Deployment/{namespace}/web", deployment)] + [("Pod", h) for h in pod_healths])
    assert overall.status is HealthStatus.HEALTHY


def test_scaling_down_deletes_pods_on_kwok_nodes(
    kwok_nodes: SimulatedNodes, dyn: Any, namespace: str
) -> None:
    live = Live(dyn, namespace, "web")
    live.create(running_deployment("web", replicas=2))
    live.wait(lambda lv: lv.health()[0].status is HealthStatus.HEALTHY, "the Deployment to be Healthy")
    live.deployments.patch(
        name="web",
        namespace=namespace,
        body={"spec": {"replicas": 1}},
        content_type="application/merge-patch+json",
    )
    # Without a kubelet a deleted Pod keeps its finalising state for ever; KWOK's pod-delete stage ends it.
    live.wait(lambda lv: len(lv.pods()) == 1, "the surplus Pod to be gone")
    live.wait(lambda lv: lv.health()[0].status is HealthStatus.HEALTHY, "the Deployment to be Healthy again")


def test_crash_looping_pods_are_degraded_and_so_is_their_deployment_after_its_deadline(
    kwok_nodes: SimulatedNodes, dyn: Any, namespace: str
) -> None:
    live = Live(dyn, namespace, "crashy")
    live.create(running_deployment("crashy", fault=Fault.CRASHLOOP, deadline=5))

    def looping(lv: Live) -> bool:
        pods = lv.pods()
        return len(pods) == 2 and all(
            (p.get("status") or {}).get("containerStatuses", [{}])[0].get("restartCount", 0) >= 2
            for p in pods
        )

    live.wait(looping, "both Pods to restart at least twice")
    for pod in live.pods():
        container = pod["status"]["containerStatuses"][0]
        assert pod["status"]["phase"] == "Running" and not ready(pod)
        assert container["state"]["waiting"]["reason"] == "CrashLoopBackOff"
        assert container["lastState"]["terminated"]["exitCode"] == 1
        health = assess(pod)
        assert health is not None and health.status is HealthStatus.DEGRADED, health
        assert "back-off restarting failed container web" in health.message

    # Before its progress deadline the rollout is only waiting; after it, the Deployment is Degraded.
    deployment, _ = live.health()
    assert deployment.status in (HealthStatus.PROGRESSING, HealthStatus.DEGRADED)
    live.wait(lambda lv: lv.health()[0].status is HealthStatus.DEGRADED, "the progress deadline to pass")
    assert "exceeded its progress deadline" in live.health()[0].message


def test_never_ready_pods_run_but_keep_their_deployment_progressing(
    kwok_nodes: SimulatedNodes, dyn: Any, namespace: str
) -> None:
    live = Live(dyn, namespace, "stuck")
    live.create(running_deployment("stuck", fault=Fault.NEVER_READY))
    live.wait(
        lambda lv: (
            len(lv.pods()) == 2 and all((p.get("status") or {}).get("phase") == "Running" for p in lv.pods())
        ),
        "both Pods to run",
    )
    time.sleep(3)  # and they stay unready: no later stage makes them Ready
    for pod in live.pods():
        assert not ready(pod)
        container = pod["status"]["containerStatuses"][0]
        assert container["ready"] is False and "running" in container["state"]
        assert container["restartCount"] == 0
        health = assess(pod)
        assert health is not None and health.status is HealthStatus.PROGRESSING, health
    deployment, _ = live.health()
    assert deployment.status is HealthStatus.PROGRESSING
    assert "0 of 2 updated replicas available" in deployment.message


def test_a_pod_that_does_not_tolerate_the_taint_stays_unscheduled(
    kwok_nodes: SimulatedNodes, dyn: Any, namespace: str
) -> None:
    live = Live(dyn, namespace, "elsewhere")
    live.create(running_deployment("elsewhere", replicas=1, tolerate=False))

    def unschedulable(lv: Live) -> bool:
        pods = lv.pods()
        conditions = (pods[0].get("status") or {}).get("conditions") or [] if pods else []
        return any(c["type"] == "PodScheduled" and c.get("reason") == "Unschedulable" for c in conditions)

    live.wait(unschedulable, "the scheduler to find no node for the Pod")
    pod = live.pods()[0]
    assert not pod["spec"].get("nodeName")
    assert pod["status"]["phase"] == "Pending"
    health = assess(pod)
    assert health is not None and health.status is HealthStatus.PROGRESSING
    assert live.health()[0].status is HealthStatus.PROGRESSING


def test_a_component_that_fails_to_start_is_reported_and_not_kept(control_plane: ControlPlane) -> None:
    before = recorded_pids(control_plane.directory)
    crash = [sys.executable, "-c", "import sys; print('no nodes today', flush=True); sys.exit(3)"]
    with pytest.raises(
        ControlPlaneError, match=r"(?s)crasher exited with code 3 while starting.*no nodes today"
    ):
        control_plane.start_component("crasher", crash, lambda: False)
    assert recorded_pids(control_plane.directory) == before  # `plumb local down` would not look for it
