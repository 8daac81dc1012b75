"""After a sync: wait until the app's objects are Healthy (``plumb sync --wait``).

The loop is split in two: :class:`HealthWatch` is the pure part — it takes one poll's healths, says
which objects changed (the progress lines) and whether the wait is over — and :func:`wait_healthy`
reads the live objects (one LIST per kind and namespace per poll, through the sync's own cluster
client) and feeds them to it until it is done or the time runs out.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from plumbline.cluster import Cluster
from plumbline.config import App, Config, HealthCheck
from plumbline.errors import ClusterError
from plumbline.health import MISSING, Health, HealthStatus, app_health, assess, checks_for
from plumbline.plan import APP_LABEL, Action, ObjectRef, Plan
from plumbline.store import AuditAction, AuditOutcome, Store, SyncRecord, current_actor

DONE = frozenset({HealthStatus.HEALTHY, HealthStatus.SUSPENDED})
"""Statuses a wait ends on successfully: Suspended is paused on purpose, so done (as Argo CD counts it)."""

FAILED = frozenset({HealthStatus.DEGRADED})
"""Statuses that end a wait at once, unsuccessfully: failed, or will not get there without someone acting."""

POLL_INTERVAL_S = 2.0


def label(ref: ObjectRef) -> str:
    """How a waited-on object is named in progress lines: ``Deployment/web`` (as kubectl names it)."""
    return f"{ref.kind}/{ref.name}"


@dataclass(frozen=True)
class ObjectHealth:
    """One waited-on object and its health at the last poll (None: plumbline has no opinion on it)."""

    ref: ObjectRef
    health: Health | None

    @property
    def done(self) -> bool:
        return self.health is None or self.health.status in DONE

    def line(self) -> str:
        """``Deployment/web: Progressing (waiting for rollout: 1 of 3 ...)``."""
        if self.health is None:
            return f"{label(self.ref)}: no health rule"
        message = f" ({self.health.message})" if self.health.message else ""
        return f"{label(self.ref)}: {self.health.status}{message}"


@dataclass(frozen=True)
class WaitResult:
    """How a wait ended: each object's last health, the app's (worst-of), and whether time ran out."""

    objects: tuple[ObjectHealth, ...]
    timed_out: bool
    elapsed_s: float

    @property
    def health(self) -> Health:
        return app_health((label(o.ref), o.health) for o in self.objects)

    @property
    def healthy(self) -> bool:
        """Every object Healthy or Suspended (or with no health rule): the wait succeeded."""
        return all(o.done for o in self.objects)

    @property
    def not_done(self) -> list[ObjectHealth]:
        return [o for o in self.objects if not o.done]

    def to_dict(self) -> dict[str, Any]:
        """The ``health`` key of ``plumb sync --wait -o json`` (and of the sync's history flags)."""
        app = self.health
        return {
            "status": app.status.value,
            "message": app.message,
            "healthy": self.healthy,
            "timedOut": self.timed_out,
            "elapsedSeconds": round(self.elapsed_s, 1),
            "objects": [
                {
                    "object": str(o.ref),
                    "status": o.health.status.value if o.health else None,
                    "message": o.health.message if o.health else "",
                }
                for o in self.objects
            ],
        }


@dataclass
class HealthWatch:
    """The pure part of a wait: one poll's healths in, the changes and the verdict out."""

    refs: Sequence[ObjectRef]
    last: dict[ObjectRef, Health | None] = field(default_factory=dict)

    def observe(self, healths: Mapping[ObjectRef, Health | None]) -> list[ObjectHealth]:
        """Record one poll; the objects whose health (status or message) changed since the last one
        (every object on the first poll), in the order of ``refs``. An object plumbline has no opinion
        on (no health rule: a ConfigMap) is not waited on, and not reported."""
        changed = []
        for ref in self.refs:
            health = healths.get(ref, MISSING)
            if health is not None and (ref not in self.last or self.last[ref] != health):
                changed.append(ObjectHealth(ref, health))
            self.last[ref] = health
        return changed

    @property
    def finished(self) -> bool:
        """Every object done, or one failed: polling on would not change the verdict."""
        seen = [self.last.get(ref, MISSING) for ref in self.refs]
        return all(h is None or h.status in DONE for h in seen) or any(
            h is not None and h.status in FAILED for h in seen
        )

    def result(self, *, timed_out: bool, elapsed_s: float) -> WaitResult:
        objects = tuple(ObjectHealth(ref, self.last.get(ref, MISSING)) for ref in self.refs)
        return WaitResult(objects=objects, timed_out=timed_out, elapsed_s=elapsed_s)


Listing = dict[tuple[str, str, str | None], list[ObjectRef]]  # (apiVersion, kind, namespace) → refs


def waited_on(plan: Plan) -> Listing:
    """The objects a sync of ``plan`` leaves in the cluster — every one Git declares (prune candidates
    are not waited on) — grouped as they are listed: by apiVersion, kind and namespace."""
    groups: Listing = {}
    for item in plan.items:
        if item.action is not Action.PRUNE and item.desired is not None:
            key = (item.api_version, item.ref.kind, item.ref.namespace)
            groups.setdefault(key, []).append(item.ref)
    return groups


def health_checks(app: App, config: Config | None) -> list[HealthCheck]:
    """The ``healthChecks`` for assessing ``app``'s objects: its own, then (with ``config``) its Project's."""
    return checks_for(app, config.project(app.spec.project)) if config else list(app.spec.health_checks)


def poll(
    cluster: Cluster, groups: Listing, app: str, checks: Sequence[HealthCheck]
) -> dict[ObjectRef, Health | None]:
    """The health of every object in ``groups``, from one LIST per kind and namespace. A kind the
    API server does not serve (yet: discovery is read again once) leaves its objects Missing; a LIST
    the server refuses or does not answer makes them Unknown, with why — the wait goes on."""
    found: dict[ObjectRef, Health | None] = {}
    refreshed = False
    for (api_version, kind, namespace), refs in groups.items():
        info = cluster.discovery.lookup(api_version, kind)
        if info is None and not refreshed:  # a CRD the sync created: its kind may be new
            refreshed = True
            info = cluster.refresh_discovery().lookup(api_version, kind)
        if info is None:
            continue
        try:
            listed = cluster.list(info, namespace=namespace, label_selector=f"{APP_LABEL}={app}")
        except ClusterError as error:
            found.update((ref, Health(HealthStatus.UNKNOWN, f"could not read it: {error}")) for ref in refs)
            continue
        wanted = set(refs)
        for obj in listed:
            ref = ObjectRef.of(obj)
            if ref in wanted:
                found[ref] = assess(obj, checks)
    return found


def wait_healthy(
    app: App,
    plan: Plan,
    *,
    cluster: Cluster,
    config: Config | None = None,
    timeout_s: float,
    interval_s: float = POLL_INTERVAL_S,
    on_change: Callable[[ObjectHealth], None] | None = None,
    store: Store | None = None,
    record: SyncRecord | None = None,
    reason: str = "plumb sync --wait",
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> WaitResult:
    """Poll the objects a sync of ``plan`` applied until every one is Healthy or Suspended (or has no
    health rule), one is Degraded, or ``timeout_s`` passes; ``on_change`` hears each change of an
    object's health. The health rules are :mod:`plumbline.health`'s, with the App's ``healthChecks``
    then (with ``config``) its Project's. With ``store`` and the sync's ``record``, how the wait ended
    is appended to the audit trail: a ``health`` record by the sync's actor, with ``reason`` (who
    waited: ``plumb sync --wait``, the controller), whose outcome is the app's health, its summary
    the sync's history id and :meth:`WaitResult.to_dict`."""
    checks = health_checks(app, config)
    groups = waited_on(plan)
    watch = HealthWatch([ref for refs in groups.values() for ref in refs])
    started = clock()
    while True:
        for change in watch.observe(poll(cluster, groups, app.name, checks)):
            if on_change is not None:
                on_change(change)
        elapsed = clock() - started
        if watch.finished or elapsed >= timeout_s:
            result = watch.result(timed_out=not watch.finished, elapsed_s=elapsed)
            if store is not None and record is not None:
                _audit(store, record, result, reason)
            return result
        sleep(min(interval_s, max(timeout_s - elapsed, 0.0)))


def _audit(store: Store, record: SyncRecord, result: WaitResult, reason: str) -> None:
    store.audit(
        actor=record.actor or current_actor(),
        app=record.app,
        action=AuditAction.HEALTH,
        revision=record.sha,
        reason=reason,
        summary={"sync": record.id, **result.to_dict()},
        outcome=AuditOutcome(result.health.status.value),
    )
