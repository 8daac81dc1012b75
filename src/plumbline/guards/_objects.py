"""Small readers over Kubernetes objects that several guards share."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

# Kinds whose objects carry a pod template, and where it is.
_TEMPLATE_PATHS: dict[str, tuple[str, ...]] = {
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
    "ReplicationController": ("spec", "template"),
}

# Cluster-scoped kinds known without asking a server (offline plans default namespaces by this).
CLUSTER_SCOPED: frozenset[tuple[str, str]] = frozenset(
    {
        ("", "Namespace"),
        ("", "Node"),
        ("", "PersistentVolume"),
        ("apiextensions.k8s.io", "CustomResourceDefinition"),
        ("rbac.authorization.k8s.io", "ClusterRole"),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
        ("storage.k8s.io", "StorageClass"),
        ("storage.k8s.io", "CSIDriver"),
        ("scheduling.k8s.io", "PriorityClass"),
        ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
        ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"),
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"),
        ("apiregistration.k8s.io", "APIService"),
        ("networking.k8s.io", "IngressClass"),
        ("node.k8s.io", "RuntimeClass"),
    }
)


def pod_spec(obj: dict[str, Any]) -> tuple[dict[str, Any], str] | None:
    """The pod spec of a Pod or workload and its field path (``spec.template.spec``), else None."""
    kind = obj.get("kind")
    if kind == "Pod":
        spec = obj.get("spec")
        return (spec, "spec") if isinstance(spec, dict) else None
    path = _TEMPLATE_PATHS.get(str(kind))
    if path is None:
        return None
    node: Any = obj
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    spec = node.get("spec") if isinstance(node, dict) else None
    return (spec, ".".join((*path, "spec"))) if isinstance(spec, dict) else None


def containers(obj: dict[str, Any]) -> Iterator[tuple[dict[str, Any], str]]:
    """Every container (init containers too) of a Pod or workload, with its field path."""
    found = pod_spec(obj)
    if found is None:
        return
    spec, path = found
    for key in ("initContainers", "containers"):
        for container in spec.get(key) or []:
            if isinstance(container, dict):
                yield container, f"{path}.{key}[{container.get('name', '?')}]"


def labels_and_annotations(obj: dict[str, Any]) -> dict[str, str]:
    metadata = obj.get("metadata") or {}
    merged: dict[str, str] = {}
    for key in ("labels", "annotations"):
        values = metadata.get(key) or {}
        if isinstance(values, dict):
            merged.update({str(k): str(v) for k, v in values.items()})
    return merged
