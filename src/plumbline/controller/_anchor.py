"""The audit trail's head, filed in the cluster where whoever owns the store cannot rewrite it.

The controller writes the store's anchor (both chains' newest id and MAC, MACed with the audit key;
:meth:`Store.audit_anchor`) into the ConfigMap ``plumbline-audit-anchor`` in the lease namespace,
under the key's id, every poll. Give the controller's service account ``update`` on that one
ConfigMap and nobody who can write the store's volume the same, and removed newest records stay
detectable even if the store and its anchor file are rolled back together:
``plumb audit verify --cluster`` compares the trail with it. An anchor that no longer matches the
trail is never overwritten: it is the evidence.
"""

from __future__ import annotations

import logging

from plumbline.cluster import ApiFailure, Cluster
from plumbline.controller._log import log
from plumbline.engine.lease import LEASE_NAMESPACE, ensure_namespace
from plumbline.errors import PlumbError
from plumbline.store import Broken, Store

CONFIGMAP = "plumbline-audit-anchor"


def _path(namespace: str, name: str | None = None) -> str:
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    return f"{path}/{name}" if name else path


def where(namespace: str) -> str:
    return f"ConfigMap {namespace}/{CONFIGMAP}"


def publish(cluster: Cluster, store: Store, *, namespace: str = LEASE_NAMESPACE) -> Broken | None:
    """File the store's anchor in the cluster; returns the mismatch (and writes nothing) if the anchor
    filed there no longer matches the trail. API trouble is logged, not raised: the next poll retries."""
    try:
        key_id, text = store.audit_anchor()
        ensure_namespace(cluster, namespace)
        obj = cluster.read(_path(namespace, CONFIGMAP))
        if obj is None:
            body = {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": CONFIGMAP, "namespace": namespace},
                "data": {key_id: text},
            }
            cluster.request("POST", _path(namespace), body=body)
            return None
        data = obj.setdefault("data", {}) or {}
        if (filed := data.get(key_id)) is not None:
            broken = store.check_audit_anchor(filed, where(namespace))
            if broken is not None:
                return broken
        data[key_id] = text
        obj["data"] = data
        cluster.request("PUT", _path(namespace, CONFIGMAP), body=obj)  # resourceVersion: CAS
    except ApiFailure as failure:
        if failure.status != 409:  # 409: another replica filed it just now; next poll
            log(logging.WARNING, f"cannot file the audit anchor in {where(namespace)}: {failure}")
    except PlumbError as error:
        log(logging.WARNING, f"cannot file the audit anchor in {where(namespace)}: {error}")
    return None


def fetch(cluster: Cluster, store: Store, *, namespace: str = LEASE_NAMESPACE) -> str | None:
    """The anchor filed in the cluster for this store's key; None if there is none."""
    key_id, _ = store.audit_anchor()
    obj = cluster.read(_path(namespace, CONFIGMAP))
    if obj is None:
        return None
    text = (obj.get("data") or {}).get(key_id)
    return str(text) if text is not None else None


def verify(cluster: Cluster, store: Store, *, namespace: str = LEASE_NAMESPACE) -> Broken | None:
    """The store's trail against the anchor filed in ``cluster``: None if it matches, else where and
    why not (no anchor filed for this store counts: removed newest records are then not ruled out)."""
    filed = fetch(cluster, store, namespace=namespace)
    if filed is None:
        why = f"no anchor for this store in {where(namespace)}: removed newest records not ruled out"
        return Broken(id=0, why=why, table="anchor")
    broken = store.check_audit_anchor(filed, where(namespace))
    if broken is not None:
        return Broken(id=broken.id, why=f"{broken.why} ({where(namespace)})", table=broken.table)
    return None
