"""Pod (core): by phase and restart policy, as gitops-engine; a Pod without a phase is Progressing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from plumbline.health._model import (
    Health,
    condition,
    degraded,
    field,
    healthy,
    is_false,
    is_true,
    progressing,
    text,
    unknown,
)


def _statuses(obj: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    found = field(obj, "status", key)
    return [s for s in found if isinstance(s, Mapping)] if isinstance(found, list) else []


def _stuck_waiting(status: Mapping[str, Any]) -> bool:
    """A container waiting for a reason that will not clear by itself (ErrImagePull, CrashLoopBackOff...)."""
    reason = str(field(status, "state", "waiting", "reason") or "")
    return reason.startswith("Err") or reason.endswith(("Error", "BackOff"))


def _failure(status: Mapping[str, Any]) -> str:
    terminated = field(status, "state", "terminated")
    if not isinstance(terminated, Mapping):
        return ""
    if terminated.get("message"):
        return str(terminated["message"])
    if terminated.get("reason") == "OOMKilled":
        return "OOMKilled"
    code = terminated.get("exitCode")
    if isinstance(code, int) and code != 0:
        return f"container {status.get('name')!r} failed with exit code {code}"
    return ""


def assess(obj: Mapping[str, Any]) -> Health:
    # The API server defaults restartPolicy to Always; a Pod read without it is such a Pod.
    restart = text(obj, "spec", "restartPolicy") or "Always"
    message = text(obj, "status", "message")
    if restart == "Always":
        # Only for long-running Pods: a hook Pod (Never/OnFailure) waiting on an image may still run.
        stuck = [s for s in _statuses(obj, "containerStatuses") if _stuck_waiting(s)]
        if stuck:
            return degraded(", ".join(str(field(s, "state", "waiting", "message") or "") for s in stuck))
    phase = text(obj, "status", "phase")
    if phase == "":
        return progressing("waiting for the Pod to be observed (no phase yet)")
    if phase == "Pending":
        scheduled = condition(obj, "PodScheduled")
        if is_false(scheduled) and scheduled is not None and scheduled.get("reason") == "Unschedulable":
            # kstatus calls this Failed; a cluster autoscaler may still add the node it waits for.
            return progressing(f"Unschedulable: {scheduled.get('message') or 'no node fits the Pod'}")
        return progressing(message)
    if phase == "Succeeded":
        return healthy(message)
    if phase == "Failed":
        if message:
            return degraded(message)
        every = [*_statuses(obj, "initContainerStatuses"), *_statuses(obj, "containerStatuses")]
        return degraded(next((m for s in every if (m := _failure(s))), ""))
    if phase == "Running":
        if restart != "Always":
            # A Pod meant to finish (a hook, a Job's Pod) is not done while it runs.
            return progressing(message)
        if is_true(condition(obj, "Ready")):
            return healthy(message)
        # Not Ready after a container ended: it is restarting from a failure, not starting up.
        if any(
            isinstance(field(s, "lastState", "terminated"), Mapping)
            for s in _statuses(obj, "containerStatuses")
        ):
            return degraded(message)
        return progressing(message)
    return unknown(f"unknown Pod phase {phase!r}")
