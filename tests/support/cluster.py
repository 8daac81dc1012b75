"""What tests put into the session's real control plane beside what plumbline applies."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from plumbline.cluster import Cluster
from tests.support.manifests import manifest

ADMISSION = "admissionregistration.k8s.io/v1"


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
