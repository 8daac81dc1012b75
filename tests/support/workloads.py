"""A Deployment and the HorizontalPodAutoscaler that scales it, for tests of runtime replicas."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from plumbline.cluster import Cluster
from plumbline.plan import Plan, build_plan
from tests.support.cluster import create
from tests.support.manifests import manifest, workload


@dataclass(frozen=True)
class M:
    """A rendered manifest, as the render stage hands it to ``build_plan``."""

    obj: dict[str, Any]
    file: str


def plan_at_main(cluster: Cluster, app: str, namespace: str, manifests: list[M], **options: Any) -> Plan:
    """The app's plan for ``manifests`` as one fixed commit of main (``options``: build_plan's)."""
    return build_plan(
        cluster=cluster,
        app=app,
        namespace=namespace,
        manifests=manifests,
        revision="main",
        sha="a" * 40,
        **options,
    )


def deployment(replicas: int) -> dict[str, Any]:
    return workload("Deployment", "web", {"name": "web", "image": "nginx:1.27"}, replicas=replicas)


def add_hpa(cluster: Cluster, namespace: str) -> None:
    """A HorizontalPodAutoscaler for Deployment ``web``."""
    target = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}
    spec = {"scaleTargetRef": target, "minReplicas": 1, "maxReplicas": 10}
    create(cluster, manifest("autoscaling/v2", "HorizontalPodAutoscaler", "web", spec=spec), namespace)


def scale(cluster: Cluster, namespace: str, to: int, manager: str) -> None:
    """Set Deployment ``web``'s replicas as ``manager`` (what an autoscaler or ``kubectl scale`` does)."""
    info = cluster.discovery.lookup("apps/v1", "Deployment")
    assert info is not None
    cluster.request(
        "PATCH",
        info.path(namespace=namespace, name="web"),
        query={"fieldManager": manager},
        body={"spec": {"replicas": to}},
        content_type="application/merge-patch+json",
    )
