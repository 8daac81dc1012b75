"""Deployments whose Pods run on KWOK's simulated nodes (the ``kwok_nodes`` fixture), or fail on purpose.

``running_deployment(name, fault=Fault.CRASHLOOP)`` is a Deployment whose Pods tolerate the session's
tainted nodes (``web_app`` makes an App of one, behind a Service); ``Live`` reads it and its Pods back
with their health, and waits for a condition on them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from plumbline.health import Health, assess
from plumbline.local import TOLERATION, ControlPlane, Fault
from plumbline.local.kwok import FAULT_LABEL
from tests.support.git import write_files
from tests.support.sites import Workspace, unique

TIMEOUT_S = 90.0

SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "web"},
    "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
}
"""The Service ``web`` in front of ``running_deployment("web")``'s Pods."""


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


def web_app(
    tmp_path: Path, plane: ControlPlane, deployment: dict[str, Any], *, prefix: str
) -> tuple[Workspace, str, str]:
    """A workspace whose repository holds ``deployment`` (named ``web``) and :data:`SERVICE` in
    ``app/web.yaml``, committed, and one App of it, ``PREFIX-…``, in a namespace of its own,
    ``PREFIX-…``: the workspace, the app and the namespace."""
    ws = Workspace(tmp_path, plane)
    app, namespace = unique(prefix), unique(prefix)
    # JSON is YAML: the Deployment and Service as the test builds them.
    write_files(ws.repo, {"app/web.yaml": json.dumps(deployment) + "\n---\n" + json.dumps(SERVICE) + "\n"})
    ws.commit("web")
    ws.add_app(app, "app", namespace)
    return ws, app, namespace


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
