"""Putting plumbline's CustomResourceDefinitions into a cluster and waiting until they are served."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from plumbline.cluster import Cluster
from plumbline.deploy._crd import custom_resource_definitions
from plumbline.errors import ClusterError

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
