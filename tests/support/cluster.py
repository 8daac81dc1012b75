"""What tests put into the session's real control plane beside what plumbline applies."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from plumbline.cluster import Cluster
from plumbline.local import ControlPlane
from tests.support.manifests import manifest

ADMISSION = "admissionregistration.k8s.io/v1"


class CountingCluster(Cluster):
    """A real client that notes every request it sends (method and path): what tests count
    requests by, on a real API server, rather than a mock."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sent: list[tuple[str, str]] = []
        self.dry_runs = 0  # server-side dry-run requests (a test may set it back to 0)
        self.applies = 0  # server-side applies that write

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        self.sent.append((method, path))
        if method == "PATCH" and (kwargs.get("query") or {}).get("dryRun"):
            self.dry_runs += 1
        elif method == "PATCH" and kwargs.get("content_type") == "application/apply-patch+yaml":
            self.applies += 1
        return super().request(method, path, **kwargs)

    def reads(self) -> list[tuple[str, str]]:
        return [(method, path) for method, path in self.sent if method == "GET"]


def create(cluster: Cluster, obj: dict[str, Any], namespace: str | None = None) -> Any:
    """POST ``obj`` (in ``namespace`` if it is namespaced), as someone other than plumbline would; the
    created object."""
    info = cluster.discovery.lookup(obj["apiVersion"], obj["kind"])
    assert info is not None, f"{obj['apiVersion']} {obj['kind']} is not served"
    return cluster.request("POST", info.path(namespace=namespace), body=obj)


def delete(cluster: Cluster, obj: dict[str, Any], namespace: str | None = None) -> None:
    info = cluster.discovery.lookup(obj["apiVersion"], obj["kind"])
    assert info is not None, f"{obj['apiVersion']} {obj['kind']} is not served"
    cluster.request("DELETE", info.path(namespace=namespace, name=obj["metadata"]["name"]))


@contextlib.contextmanager
def admission_policy(
    cluster: Cluster, name: str, *, namespace: str, resource: str, validation: dict[str, str]
) -> Iterator[None]:
    """A ValidatingAdmissionPolicy ``name`` that refuses to create or update a core ``resource`` (e.g.
    ``configmaps``) in ``namespace`` unless ``validation`` (CEL ``expression``, ``message`` or
    ``messageExpression``) holds; it and its binding are deleted afterwards. It reaches the admission
    chain a moment after it is made: a test retries until it bites."""
    rule = {
        "apiGroups": [""],
        "apiVersions": ["v1"],
        "operations": ["CREATE", "UPDATE"],
        "resources": [resource],
    }
    policy = manifest(
        ADMISSION,
        "ValidatingAdmissionPolicy",
        name,
        spec={
            "failurePolicy": "Fail",
            "matchConstraints": {"resourceRules": [rule]},
            "validations": [validation],
        },
    )
    only_there = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}}
    binding = manifest(
        ADMISSION,
        "ValidatingAdmissionPolicyBinding",
        name,
        spec={"policyName": name, "validationActions": ["Deny"], "matchResources": only_there},
    )
    create(cluster, policy)
    create(cluster, binding)
    try:
        yield
    finally:
        delete(cluster, binding)
        delete(cluster, policy)


CONFIGMAPS_ONLY = [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["*"]}]


def limited_kubeconfig(
    cluster: Cluster,
    plane: ControlPlane,
    namespace: str,
    path: Path,
    rules: list[dict[str, Any]] = CONFIGMAPS_ONLY,
    *,
    name: str = "limited",
) -> Path:
    """A kubeconfig for ServiceAccount ``name`` in ``namespace`` (a token from the TokenRequest API),
    which may do what ``rules`` allow there (by default anything with ConfigMaps), and nothing else.
    Called again with other ``rules``, the same account's Role is replaced."""
    import yaml

    objects: list[tuple[str, dict[str, Any]]] = [
        ("v1", {"kind": "ServiceAccount", "metadata": {"name": name}}),
        (
            "rbac.authorization.k8s.io/v1",
            {"kind": "Role", "metadata": {"name": name}, "rules": rules},
        ),
        (
            "rbac.authorization.k8s.io/v1",
            {
                "kind": "RoleBinding",
                "metadata": {"name": name},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "Role",
                    "name": name,
                },
                "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
            },
        ),
    ]
    for api_version, obj in objects:
        info = cluster.discovery.lookup(api_version, obj["kind"])
        assert info is not None
        obj["apiVersion"] = api_version
        obj["metadata"]["namespace"] = namespace
        cluster.apply(obj, info=info, field_manager="test")
    token = cluster.request(
        "POST",
        f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token",
        body={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}},
    )["status"]["token"]
    admin = yaml.safe_load(plane.kubeconfig.read_text())
    entry = admin["clusters"][0]
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [entry],
                "users": [{"name": "limited", "user": {"token": token}}],
                "contexts": [{"name": "limited", "context": {"cluster": entry["name"], "user": "limited"}}],
                "current-context": "limited",
            }
        )
    )
    return path
