"""Putting plumbline into a cluster and taking it out again: the CRDs (waited for until served), the
rest of ``plumb install``'s objects, and an uninstall that never deletes what apps manage."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from plumbline.cluster import Cluster
from plumbline.config import API_VERSION
from plumbline.deploy._crd import custom_resource_definitions
from plumbline.errors import ApiNotFound, ClusterError, RefusedError

FIELD_MANAGER = "plumbline-install"
ESTABLISH_TIMEOUT_S = 30.0


def established(crd: dict[str, Any]) -> bool:
    """True when the API server says the CRD is Established (its kinds are served)."""
    conditions = (crd.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)


def apply_crds(
    cluster: Cluster,
    crds: Sequence[dict[str, Any]] | None = None,
    *,
    field_manager: str = FIELD_MANAGER,
    timeout: float = ESTABLISH_TIMEOUT_S,
) -> list[str]:
    """Server-side apply ``crds`` (default: every plumbline CRD), wait until each is Established and
    read discovery again, so the kinds can be used at once. Returns the CRDs' names.

    ClusterError if one is not Established within ``timeout`` seconds (its conditions say why).
    """
    crds = custom_resource_definitions() if crds is None else crds
    info = cluster.discovery.lookup("apiextensions.k8s.io/v1", "CustomResourceDefinition")
    if info is None:
        raise ClusterError(f"{cluster.server} serves no apiextensions.k8s.io/v1 CustomResourceDefinitions")
    names = []
    for crd in crds:
        cluster.apply(crd, info=info, field_manager=field_manager, force=True, result=False)
        names.append(crd["metadata"]["name"])
    deadline = time.monotonic() + timeout
    for name in names:
        while True:
            live = cluster.get(info, name=name, namespace=None) or {}
            if established(live):
                break
            if time.monotonic() > deadline:
                conditions = (live.get("status") or {}).get("conditions") or []
                said = "; ".join(
                    f"{c.get('type')}={c.get('status')}: {c.get('message', '')}" for c in conditions
                )
                raise ClusterError(
                    f"CRD {name} not Established after {timeout:.0f}s ({said or 'no conditions'})"
                )
            time.sleep(0.2)
    cluster.refresh_discovery()
    return names


def install(
    cluster: Cluster,
    objects: Sequence[dict[str, Any]],
    *,
    field_manager: str = FIELD_MANAGER,
    progress: Callable[[str], None] = lambda _: None,
) -> list[str]:
    """Server-side apply ``objects`` (``plumb install --apply``; again to upgrade): the CRDs first,
    waited for until served, then the rest in order. Returns ``Kind/name`` of each."""
    crds = [o for o in objects if o["kind"] == "CustomResourceDefinition"]
    rest = [o for o in objects if o["kind"] != "CustomResourceDefinition"]
    done = []
    for obj in [o for o in rest if o["kind"] == "Namespace"]:
        _apply(cluster, obj, field_manager)
        done.append(f"Namespace/{obj['metadata']['name']}")
    progress(f"applying {len(crds)} CRDs and waiting until they are served")
    done += [
        f"CustomResourceDefinition/{name}" for name in apply_crds(cluster, crds, field_manager=field_manager)
    ]
    for obj in [o for o in rest if o["kind"] != "Namespace"]:
        _apply(cluster, obj, field_manager)
        done.append(f"{obj['kind']}/{obj['metadata']['name']}")
    return done


def _apply(cluster: Cluster, obj: dict[str, Any], field_manager: str) -> None:
    info = cluster.discovery.lookup(obj["apiVersion"], obj["kind"])
    if info is None:
        raise ClusterError(f"{cluster.server} does not serve {obj['apiVersion']} {obj['kind']}")
    cluster.apply(obj, info=info, field_manager=field_manager, force=True, result=False)


def apps_left(cluster: Cluster) -> list[str]:
    """``namespace/name`` of every App object in the cluster (none if the CRD is not installed)."""
    info = cluster.discovery.lookup(API_VERSION, "App")
    if info is None:
        return []
    return sorted(f"{a['metadata'].get('namespace')}/{a['metadata']['name']}" for a in cluster.list(info))


def uninstall(cluster: Cluster, objects: Sequence[dict[str, Any]], *, force: bool = False) -> list[str]:
    """Delete what :func:`install` applied, newest first, except the Namespace (it keeps the history
    and the audit anchor). The CRDs — and with them every plumbline object — only when no App exists,
    unless ``force``. Nothing an app manages is touched: those objects have no owner reference to
    plumbline's, so deleting an App or a CRD leaves them as they are. Returns what was deleted.

    RefusedError (nothing deleted) if Apps exist and not ``force``.
    """
    left = apps_left(cluster)
    if left and not force:
        shown = ", ".join(left[:10]) + (f" and {len(left) - 10} more" if len(left) > 10 else "")
        raise RefusedError(
            f"{len(left)} App object(s) exist ({shown}): removing the CRDs would delete them. Nothing was "
            "removed. Delete the Apps first (the objects they manage stay), or pass --force to delete "
            "them with the CRDs"
        )
    deleted = []
    for obj in reversed(objects):
        if obj["kind"] == "Namespace":
            continue
        info = cluster.discovery.lookup(obj["apiVersion"], obj["kind"])
        if info is None:
            continue
        metadata = obj["metadata"]
        try:
            cluster.delete(info, name=metadata["name"], namespace=metadata.get("namespace"))
        except ApiNotFound:
            continue
        deleted.append(f"{obj['kind']}/{metadata['name']}")
    return deleted


def apply_namespaces(cluster: Cluster, namespace: str) -> list[str]:
    """The namespaces in which ``plumb install --namespaces`` bound ``plumbline-apply`` for the
    controller in ``namespace`` (found by name, label and subject, so an uninstall removes them)."""
    from plumbline.deploy._install import APPLY_ROLE, NAME

    info = cluster.discovery.lookup("rbac.authorization.k8s.io/v1", "RoleBinding")
    if info is None:
        return []
    found = []
    for binding in cluster.list(info, label_selector="app.kubernetes.io/part-of=plumbline"):
        subjects = binding.get("subjects") or []
        ours = any(s.get("name") == NAME and s.get("namespace") == namespace for s in subjects)
        if binding["metadata"]["name"] == APPLY_ROLE and ours:
            found.append(binding["metadata"]["namespace"])
    return sorted(found)
