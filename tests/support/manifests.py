"""Kubernetes objects as tests write them: the pod-running workloads, as dicts and as the YAML kept in Git."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def workload(kind: str, name: str, *containers: dict[str, Any], **spec: Any) -> dict[str, Any]:
    """A ``kind`` (Deployment, StatefulSet, ...) named ``name`` whose pods, labelled ``app: name``, run
    ``containers``; ``spec`` fields (``replicas``, ``serviceName``, ...) come first in its spec."""
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name},
        "spec": {
            **spec,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": dict(labels)}, "spec": {"containers": list(containers)}},
        },
    }


def deployment_yaml(
    name: str,
    *,
    container: str,
    image: str,
    replicas: str | None = None,
    namespace: str | None = None,
    app: str | None = None,
    more: str = "",
) -> str:
    """A Deployment as people keep it in Git (flow-style labels, a list indented under its key).
    ``app`` is its pods' label (``name`` by default); ``more`` is YAML added to its container, indented
    by ten spaces. Values are written as given, so a Helm template may pass ``{{ ... }}``."""
    namespace_line = f"  namespace: {namespace}\n" if namespace else ""
    replicas_line = f"  replicas: {replicas}\n" if replicas is not None else ""
    return f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
{namespace_line}spec:
{replicas_line}  selector:
    matchLabels: {{app: {app or name}}}
  template:
    metadata:
      labels: {{app: {app or name}}}
    spec:
      containers:
        - name: {container}
          image: {image}
{more}"""


WEB_SERVICE = """apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
  - port: 80
"""
"""Service ``web`` on port 80, for the pods of :func:`deployment_yaml` ``web``."""


def config_map_yaml(name: str, data: dict[str, str], *, comment: str = "") -> str:
    """A ConfigMap as kept in Git, ``comment`` (without its ``#``) above its first value."""
    above = f"  # {comment}\n" if comment else ""
    values = "".join(f"  {key}: {value}\n" for key, value in data.items())
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n{above}{values}"


def manifest(api_version: str, kind: str, name: str, **fields: Any) -> dict[str, Any]:
    """Any object: ``fields`` (``spec``, ``data``, ...) beside its apiVersion, kind and name."""
    return {"apiVersion": api_version, "kind": kind, "metadata": {"name": name}, **fields}


def crd(group: str, kind: str, *, status: bool = False) -> dict[str, Any]:
    """A namespaced CustomResourceDefinition of ``kind`` (plural: lower case and an ``s``) in ``group``,
    served and stored as ``v1``, any fields allowed; ``status``: with a status subresource."""
    singular = kind.lower()
    version: dict[str, Any] = {"name": "v1", "served": True, "storage": True}
    if status:
        version["subresources"] = {"status": {}}
    version["schema"] = {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}
    names = {"plural": f"{singular}s", "singular": singular, "kind": kind}
    spec = {"group": group, "scope": "Namespaced", "names": names, "versions": [version]}
    return manifest("apiextensions.k8s.io/v1", "CustomResourceDefinition", f"{singular}s.{group}", spec=spec)


def kustomize_files(
    base: Mapping[str, str],
    overlay: str,
    *,
    overlay_dir: str = "overlays/prod",
    overlay_files: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """A repository's files (path → text) for one Kustomize base and one overlay on it: ``base`` (file
    name → YAML) under ``base/``, with a kustomization that lists them in order; the overlay's
    ``kustomization.yaml`` (``overlay``) and its other files (``overlay_files``) under ``overlay_dir``."""
    files = {"base/kustomization.yaml": "resources:\n" + "".join(f"- {name}\n" for name in base)}
    files |= {f"base/{name}": text for name, text in base.items()}
    files[f"{overlay_dir}/kustomization.yaml"] = overlay
    files |= {f"{overlay_dir}/{name}": text for name, text in (overlay_files or {}).items()}
    return files
