"""Deployments whose Pods run on KWOK's simulated nodes (the ``kwok_nodes`` fixture), or fail on purpose.

``running_deployment(name, fault=Fault.CRASHLOOP)`` is a Deployment whose Pods tolerate the session's
tainted nodes; ``Live`` reads it and its Pods back with their health, and waits for a condition on them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from plumbline.health import Health, assess
from plumbline.local import TOLERATION, Fault
from plumbline.local.kwok import FAULT_LABEL

TIMEOUT_S = 90.0


def running_deployment(
    name: str,
    *,
    replicas: int = 2,
    fault: Fault | None = None,
    tolerate: bool = True,
    deadline: int | None = None,
) -> dict[str, Any]:
    labels = {"app": name, **({FAULT_LABEL: str(fault)} if fault else {})}
    spec: dict[str, Any] = {"containers": [{"name": "web", "image": "registry.invalid/web:1"}]}
    if tolerate:
        spec["tolerations"] = [TOLERATION]
    body: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": labels}, "spec": spec},
        },
    }
    if deadline is not None:
        body["spec"]["progressDeadlineSeconds"] = deadline
    return body


class Live:
    """A Deployment and its Pods as the API server has them now, each with its health."""

    def __init__(self, dyn: Any, namespace: str, name: str) -> None:
        self.deployments = dyn.resources.get(api_version="apps/v1", kind="Deployment")
        self.pods_api = dyn.resources.get(api_version="v1", kind="Pod")
        self.namespace = namespace
        self.name = name

    def create(self, body: dict[str, Any]) -> None:
        self.deployments.create(body=body, namespace=self.namespace)

    def deployment(self) -> dict[str, Any]:
        obj: dict[str, Any] = self.deployments.get(name=self.name, namespace=self.namespace).to_dict()
        return obj

    def pods(self) -> list[dict[str, Any]]:
        listed = self.pods_api.get(namespace=self.namespace, label_selector=f"app={self.name}").to_dict()
        return [{**item, "apiVersion": "v1", "kind": "Pod"} for item in listed["items"]]

    def health(self) -> tuple[Health, list[Health]]:
        deployment = assess(self.deployment())
        pods = [assess(pod) for pod in self.pods()]
        assert deployment is not None and all(h is not None for h in pods)
        return deployment, [h for h in pods if h is not None]

    def wait(self, until: Callable[[Live], bool], what: str, timeout: float = TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        while not until(self):
            if time.monotonic() > deadline:
                pods = [
                    (p["metadata"]["name"], p.get("spec", {}).get("nodeName"), p.get("status"))
                    for p in self.pods()
                ]
                raise AssertionError(
                    f"timed out waiting for {what}: deployment {self.deployment().get('status')}, pods {pods}"
                )
            time.sleep(0.5)


def ready(pod: dict[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)
