"""The order objects are applied in: waves, lowest first; prune runs after all of them, highest first.

Kinds others depend on come first (Namespaces and CRDs, then identities, configuration and storage,
then Services, then workloads, then everything else), so a Deployment never starts before its
ConfigMap exists. The annotation ``plumbline.dev/sync-wave: "<integer>"`` moves an object to
another wave, as Argo CD's ``argocd.argoproj.io/sync-wave`` does.
"""

from __future__ import annotations

from typing import Any

from plumbline.errors import RenderError

WAVE_ANNOTATION = "plumbline.dev/sync-wave"

_KIND_WAVES: dict[tuple[str, str], int] = {}
for _wave, _kinds in {
    0: [("", "Namespace"), ("apiextensions.k8s.io", "CustomResourceDefinition")],
    1: [
        ("", "ServiceAccount"),
        ("", "ConfigMap"),
        ("", "Secret"),
        ("", "PersistentVolume"),
        ("", "PersistentVolumeClaim"),
        ("", "LimitRange"),
        ("", "ResourceQuota"),
        ("rbac.authorization.k8s.io", "ClusterRole"),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
        ("rbac.authorization.k8s.io", "Role"),
        ("rbac.authorization.k8s.io", "RoleBinding"),
        ("storage.k8s.io", "StorageClass"),
        ("scheduling.k8s.io", "PriorityClass"),
    ],
    2: [("", "Service")],
    3: [
        ("apps", "Deployment"),
        ("apps", "StatefulSet"),
        ("apps", "DaemonSet"),
        ("apps", "ReplicaSet"),
        ("batch", "Job"),
        ("batch", "CronJob"),
        ("", "Pod"),
        ("", "ReplicationController"),
    ],
}.items():
    for _key in _kinds:
        _KIND_WAVES[_key] = _wave
DEFAULT_WAVE = 4


def wave_of(obj: dict[str, Any], *, source: str = "") -> int:
    """The wave ``obj`` is applied in. A non-integer annotation is an error naming the object."""
    metadata = obj.get("metadata") or {}
    raw = (metadata.get("annotations") or {}).get(WAVE_ANNOTATION)
    if raw is not None:
        try:
            return int(str(raw).strip())
        except ValueError:
            where = f"{source}: " if source else ""
            raise RenderError(
                f"{where}{obj.get('kind')} {metadata.get('name')}: metadata.annotations.{WAVE_ANNOTATION} "
                f'is {raw!r}; it must be a whole number such as "5" or "-1"'
            ) from None
    group = str(obj.get("apiVersion", "")).rpartition("/")[0]
    return _KIND_WAVES.get((group, str(obj.get("kind", ""))), DEFAULT_WAVE)
