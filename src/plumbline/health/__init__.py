"""Health: how well each live object is doing, and an app's health as the worst of its objects.

Public API:

* :class:`HealthStatus` — the closed, ordered vocabulary: Healthy < Suspended < Progressing < Missing <
  Degraded < Unknown (gitops-engine's order; :func:`worst` picks by it).
* :class:`Health` — one result: a status and a message.
* :func:`assess` — the health of one live object, or None when plumbline has no opinion (a kind
  with no rule of its own, no standard conditions and no ``healthChecks`` entry).
* :func:`app_health` — the worst of an app's object healths, naming the objects that make it so.
* :data:`MISSING` — the health of an object Git declares and the cluster does not have.
* :func:`plan_health` — an app's health from the live objects its plan already read.
* :func:`checks_for` — an App's ``healthChecks`` then its Project's, in the order :func:`assess` tries them.

Rules, one private module per kind, are picked by API group and kind; per-kind CEL ``healthChecks``
(App first, then Project) come before them; kstatus' generic conditions cover the rest
(docs/health.md). An object not yet observed by its controller is never Healthy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from plumbline.config import App, HealthCheck, HealthStatus, Project
from plumbline.health import (
    _apiservice,
    _cel,
    _conditions,
    _crd,
    _cronjob,
    _daemonset,
    _deployment,
    _hpa,
    _ingress,
    _job,
    _pod,
    _pvc,
    _replicaset,
    _service,
    _statefulset,
)
from plumbline.health._model import Health, field, progressing, text, unknown, worst
from plumbline.plan import Action, Plan

__all__ = [
    "MISSING",
    "Health",
    "HealthStatus",
    "app_health",
    "assess",
    "checks_for",
    "group_of",
    "plan_health",
    "worst",
]

MISSING = Health(HealthStatus.MISSING, "not in the cluster")

Rule = Callable[[Mapping[str, Any]], Health]

_RULES: dict[tuple[str, str], Rule] = {
    ("apps", "Deployment"): _deployment.assess,
    ("extensions", "Deployment"): _deployment.assess,
    ("apps", "StatefulSet"): _statefulset.assess,
    ("apps", "DaemonSet"): _daemonset.assess,
    ("extensions", "DaemonSet"): _daemonset.assess,
    ("apps", "ReplicaSet"): _replicaset.assess,
    ("extensions", "ReplicaSet"): _replicaset.assess,
    ("", "Pod"): _pod.assess,
    ("", "Service"): _service.assess,
    ("", "PersistentVolumeClaim"): _pvc.assess,
    ("batch", "Job"): _job.assess,
    ("batch", "CronJob"): _cronjob.assess,
    ("networking.k8s.io", "Ingress"): _ingress.assess,
    ("extensions", "Ingress"): _ingress.assess,
    ("autoscaling", "HorizontalPodAutoscaler"): _hpa.assess,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): _crd.assess,
    ("apiregistration.k8s.io", "APIService"): _apiservice.assess,
}


def group_of(api_version: str) -> str:
    """The API group of an ``apiVersion`` (``apps/v1`` → ``apps``; ``v1`` → the core group ``""``)."""
    return api_version.rpartition("/")[0]


def _check_for(group: str, kind: str, checks: Sequence[HealthCheck]) -> HealthCheck | None:
    return next((c for c in checks if c.matches(group, kind)), None)


def assess(obj: Mapping[str, Any], checks: Sequence[HealthCheck] = ()) -> Health | None:
    """The health of the live object ``obj``, or None for no opinion.

    ``checks`` are per-kind CEL health checks, most specific first (an App's, then its Project's);
    the first matching the object's group and kind replaces the built-in rule.
    """
    kind = text(obj, "kind")
    group = group_of(text(obj, "apiVersion"))
    if field(obj, "metadata", "deletionTimestamp"):
        return progressing("pending deletion")
    try:
        if (check := _check_for(group, kind, checks)) is not None:
            return _conditions.stale_generation(obj) or _cel.assess(check, obj)
        rule = _RULES.get((group, kind))
        return rule(obj) if rule is not None else _conditions.assess(obj)
    except Exception as error:  # a status of an unexpected shape: say so rather than guess
        return unknown(f"could not assess {kind}: {type(error).__name__}: {error}")


def app_health(objects: Iterable[tuple[str, Health | None]]) -> Health:
    """The worst health among ``(label, health)`` pairs (None: no opinion, left out); Healthy if none.

    The message names the objects at that worst status, with their own messages.
    """
    assessed = [(label, h) for label, h in objects if h is not None]
    status = worst(h.status for _, h in assessed)
    if status is HealthStatus.HEALTHY:
        return Health(status)
    named = [f"{label}: {h.message}" if h.message else label for label, h in assessed if h.status is status]
    return Health(status, "; ".join(named))


def checks_for(app: App, project: Project) -> list[HealthCheck]:
    """The App's ``healthChecks``, then its Project's: the more specific entry wins."""
    return [*app.spec.health_checks, *project.spec.health_checks]


def plan_health(plan: Plan, checks: Sequence[HealthCheck] = ()) -> Health:
    """The app's health from the live objects ``plan`` read: an object Git declares that is not live
    is Missing; prune candidates (live, no longer in Git) are left out."""
    return app_health(
        (str(item.ref), MISSING if item.live is None else assess(item.live, checks))
        for item in plan.items
        if item.action is not Action.PRUNE
    )
