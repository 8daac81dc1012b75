"""StatefulSet (apps): kubectl's rollout-status rules, as gitops-engine applies them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from plumbline.health._model import Health, field, generation_unobserved, healthy, integer, progressing, text


def assess(obj: Mapping[str, Any]) -> Health:
    if (waiting := generation_unobserved(obj, "StatefulSet")) is not None:
        return waiting
    wanted = integer(obj, "spec", "replicas", default=1)
    ready = integer(obj, "status", "readyReplicas")
    updated = integer(obj, "status", "updatedReplicas")
    if ready < wanted:
        return progressing(f"waiting for {wanted - ready} pods to be ready")
    strategy = text(obj, "spec", "updateStrategy", "type") or "RollingUpdate"
    if strategy == "OnDelete":
        # Pods are replaced only when someone deletes them: not updated yet is not unhealthy.
        return healthy(f"statefulset has {ready} ready pods")
    partition = field(obj, "spec", "updateStrategy", "rollingUpdate", "partition")
    if isinstance(partition, int):
        if updated < wanted - partition:
            return progressing(f"waiting for partitioned roll out: {updated} of {wanted - partition} updated")
        return healthy(f"partitioned roll out complete: {updated} pods updated")
    revision = text(obj, "status", "updateRevision")
    if revision != text(obj, "status", "currentRevision"):
        return progressing(f"waiting for the rolling update: {updated} pods at revision {revision}")
    return healthy(f"statefulset has {ready} ready pods")
