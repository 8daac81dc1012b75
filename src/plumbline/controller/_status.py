"""``App.status``, written once per pass by one writer: the recorder's status sink.

When the configuration is read from the cluster (``--config cluster:NAMESPACE``), every App is an
object there, and after each pass over it the controller writes what it found through the status
subresource (server-side apply, field manager ``plumbline-controller``; the spec stays its author's).
What a pass saw (the plan: sync status, drift counts, health) is handed over by the recorder as it
happens; what is recorded anyway (the last sync, its guard blocks, the pause) is read from the store,
so a sync a person ran with ``plumb sync`` shows up too. :func:`app_status` composes it (pure), and
:func:`conditions` says Ready / Reconciling / Stalled the kstatus way.

A write that fails (the App was deleted meanwhile, RBAC) is logged and never fails the pass.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from plumbline.cluster import ApiFailure, Cluster, ResourceInfo
from plumbline.config import (
    API_VERSION,
    CLUSTER_SCHEME,
    App,
    AppStatus,
    Condition,
    ConditionType,
    GuardBlock,
    GuardName,
    HealthState,
    HealthStatus,
    LastOperation,
    Mode,
    PauseState,
    Problem,
    Project,
    Severity,
    SyncState,
    VerificationOutcome,
    VerificationState,
)
from plumbline.controller._log import log
from plumbline.controller._model import Outcome
from plumbline.controller.decide import Result
from plumbline.errors import PlumbError
from plumbline.health import checks_for, plan_health
from plumbline.plan import Plan, SyncStatus
from plumbline.store import AppState, AppStateKind, Store, SyncRecord, SyncResult
from plumbline.verify import verification_record

FIELD_MANAGER = "plumbline-controller"


@dataclass(frozen=True)
class Located:
    """Where an App of the configuration lives, and what its status needs of the configuration."""

    app: App
    project: Project
    namespace: str
    generation: int | None


@dataclass
class Seen:
    """What a pass's plan showed of one app (handed over by :meth:`StatusWriter.planned`)."""

    status: SyncStatus
    sha: str
    drift: dict[str, int] = field(default_factory=dict)
    health: HealthState | None = None


# Results after which the app cannot get where it should without someone acting.
_STALLED = {
    Result.BLOCKED: "Blocked",
    Result.FAILED: "SyncFailed",
    Result.FIGHT: "SelfHealFight",
    Result.PAUSED: "Paused",
    Result.PENDING: "PausedPending",
}
# Results after which the controller is still on its way (it tries again by itself).
_RECONCILING = {Result.ERROR: "ReconcileError", Result.BACKOFF: "Backoff"}
_WROTE = (Result.SYNCED, Result.HEALED)


def verdict(outcome: Outcome, seen: Seen | None) -> tuple[ConditionType, str, str]:
    """Which of Ready, Reconciling, Stalled holds after ``outcome``, with a reason and a message."""
    message = outcome.message
    if outcome.result in _STALLED:
        return ConditionType.STALLED, _STALLED[outcome.result], message or outcome.result.value
    if outcome.result in _RECONCILING:
        return ConditionType.RECONCILING, _RECONCILING[outcome.result], message or outcome.result.value
    if outcome.result in _WROTE:
        return (
            ConditionType.RECONCILING,
            SyncStatus.SYNCED.value,
            f"synced {outcome.sha[:12]}; health is read next pass",
        )
    if outcome.status is not SyncStatus.SYNCED:
        why = message or f"live differs from Git and mode {outcome.mode.value} leaves it"
        return ConditionType.STALLED, str(outcome.status.value), why
    health = seen.health if seen else None
    if health is not None and health.status is HealthStatus.DEGRADED:
        return ConditionType.STALLED, "Degraded", health.message
    if health is not None and health.status not in (HealthStatus.HEALTHY, HealthStatus.SUSPENDED):
        return ConditionType.RECONCILING, str(health.status.value), health.message
    return ConditionType.READY, SyncStatus.SYNCED.value, f"synced at {outcome.sha[:12]} and healthy"


def conditions(
    outcome: Outcome,
    seen: Seen | None,
    *,
    generation: int | None,
    now: datetime,
    before: Sequence[Condition] = (),
) -> list[Condition]:
    """Ready, Reconciling and Stalled after ``outcome``; a condition whose status did not change keeps
    its ``lastTransitionTime`` from ``before``."""
    holds, reason, message = verdict(outcome, seen)
    return conditions_saying(holds, reason, message, generation=generation, now=now, before=before)


def conditions_saying(
    holds: ConditionType,
    reason: str,
    message: str,
    *,
    generation: int | None,
    now: datetime,
    before: Sequence[Condition] = (),
) -> list[Condition]:
    """The three conditions, ``holds`` True and the others False, each with ``reason`` and ``message``."""
    previous = {c.type: c for c in before}
    found = []
    for kind in ConditionType:
        status: Literal["True", "False"] = "True" if kind is holds else "False"
        was = previous.get(kind)
        since = was.last_transition_time if was is not None and was.status == status else now
        found.append(
            Condition(
                type=kind,
                status=status,
                reason=reason,
                message=message[:1000],
                lastTransitionTime=since,
                observedGeneration=generation,
            )
        )
    return found


def guard_blocks(record: SyncRecord) -> list[GuardBlock]:
    """The blocks that stopped ``record``'s sync: its blocking findings not let through."""
    if record.result is not SyncResult.BLOCKED:
        return []
    overridden = record.flags.get("overrides") or []
    blocks = []
    for finding in record.flags.get("findings") or []:
        if finding.get("severity") != Severity.BLOCK.value:
            continue
        if any(all(o.get(k) == v for k, v in finding.items()) for o in overridden):
            continue
        target = finding.get("object") or finding.get("subject") or ""
        blocks.append(
            GuardBlock(guard=GuardName(finding["guard"]), target=target, message=finding.get("message", ""))
        )
    return blocks


def pause_of(state: AppState) -> PauseState | None:
    if state.state not in (AppStateKind.PAUSED, AppStateKind.PAUSED_PENDING):
        return None  # active, or held after a rollback: not a pause
    return PauseState(reason=state.reason, by=state.actor, since=state.since, expires=state.until)


def last_operation(record: SyncRecord | None) -> LastOperation | None:
    if record is None:
        return None
    return LastOperation(
        result=record.result.value,
        time=record.finished_at or record.started_at,
        actor=record.actor,
        message=record.message,
        sha=record.sha,
    )


def app_status(
    located: Located,
    outcome: Outcome,
    seen: Seen | None,
    *,
    store: Store,
    now: datetime,
    before: Sequence[Condition] = (),
) -> AppStatus:
    """The status to write after ``outcome``: the pass's, and what the store recorded of the app."""
    name = located.app.name
    last = store.last_sync(name, result=None)
    synced = store.last_sync(name)
    state = store.app_state(name)
    mode: Mode = outcome.mode
    sync = SyncState(
        status=outcome.status.value,
        revision=located.app.spec.source.target_revision,
        sha=outcome.sha or (seen.sha if seen else ""),
        syncedSha=synced.sha if synced else "",
    )
    verified = verification_record(store, name, synced.sha if synced else None)
    verification = None
    if verified is not None:
        outcome_word = VerificationOutcome(verified.outcome.value)
        verification = VerificationState(
            outcome=outcome_word, sha=verified.revision, reason=verified.reason[:1000], time=verified.time
        )
    health = seen.health if seen and outcome.result not in _WROTE else None
    if outcome.result in _WROTE:
        health = HealthState(status=HealthStatus.PROGRESSING, message="synced; assessed at the next pass")
    return AppStatus(
        observedGeneration=located.generation,
        mode=mode,
        state=outcome.state.value,
        sync=sync,
        health=health,
        verification=verification,
        lastOperation=last_operation(last),
        drift=seen.drift if seen else {},
        guardBlocks=guard_blocks(last) if last is not None else [],
        pause=pause_of(state),
        message=(outcome.message or outcome.result.value)[:1000],
        conditions=conditions(outcome, seen, generation=located.generation, now=now, before=before),
    )


# A status that has not changed is written again after this long anyway: an App deleted and created
# again under the same name (its status empty) gets it back within this time even if nothing changed.
STATUS_REFRESH_S = 300.0


class StatusWriter:
    """The one writer of ``App.status`` (on ``cluster``, where the Apps are read from). A pass whose
    status is the one last written does not write it again (within ``STATUS_REFRESH_S``)."""

    def __init__(
        self,
        cluster: Cluster,
        *,
        store: Store,
        locate: Callable[[str], Located | None],
        now: Callable[[], datetime] = lambda: datetime.now(UTC).replace(microsecond=0),
    ) -> None:
        self.cluster, self.store, self.locate, self.now = cluster, store, locate, now
        self._seen: dict[str, Seen] = {}
        self._conditions: dict[str, list[Condition]] = {}
        self._rejected: dict[tuple[str, str], str] = {}  # the message last logged per invalid App
        # The status last written per App, as applied, and when (monotonic): the same status is not
        # written again within STATUS_REFRESH_S.
        self._written: dict[str, tuple[dict[str, Any], float]] = {}
        self.writes = 0  # status writes made (a pass that changed nothing writes nothing)

    def planned(self, app: App, plan: Plan) -> None:
        """A pass planned ``app``: its sync status, its changes by attribution and its health."""
        located = self.locate(app.name)
        if located is None:
            return
        counts = Counter(change.attribution.value for change in plan.changes)
        health = plan_health(plan, checks_for(app, located.project))
        self._seen[app.name] = Seen(
            status=plan.sync_status,
            sha=plan.sha,
            drift=dict(sorted(counts.items())),
            health=HealthState(status=health.status, message=health.message[:1000]),
        )

    def passed(self, outcome: Outcome) -> None:
        """A pass over ``outcome.app`` is over: write its status (a pass that left the app to another
        replica writes nothing; that replica does)."""
        seen = self._seen.pop(outcome.app, None)
        located = self.locate(outcome.app)
        if located is None or outcome.result is Result.NOT_HOLDER:
            return
        info = self._info()
        try:
            if info is None:
                raise PlumbError(f"{self.cluster.server} does not serve {API_VERSION} App")
            before = self._before(info, located)
            status = app_status(located, outcome, seen, store=self.store, now=self.now(), before=before)
            key = f"{located.namespace}/{outcome.app}"
            body, moment = written(status), time.monotonic()
            last = self._written.get(key)
            if last is None or last[0] != body or moment - last[1] > STATUS_REFRESH_S:
                self._write(info, outcome.app, located.namespace, status)
                self._written[key] = (body, moment)
            self._conditions[outcome.app] = list(status.conditions)
        except (ApiFailure, PlumbError) as error:
            log(logging.WARNING, f"cannot write the App's status: {error}", app=outcome.app)

    def rejected(self, problems: Sequence[Problem]) -> None:
        """Apps left out of the configuration because they are invalid: each says so in its status
        (Stalled, reason InvalidSpec, the problems as the message), and the log says it once."""
        by_app: dict[tuple[str, str], list[str]] = {}
        for problem in problems:
            namespace = problem.file.removeprefix(CLUSTER_SCHEME)
            name = (problem.obj or "").removeprefix("App/")
            by_app.setdefault((namespace, name), []).append(
                ": ".join(p for p in (problem.field, problem.message) if p)
            )
        info = self._info()
        for (namespace, name), said in sorted(by_app.items()):
            message = "; ".join(said)
            if self._rejected.get((namespace, name)) != message:
                log(logging.ERROR, f"App {namespace}/{name} is invalid and left out: {message}", app=name)
            self._rejected[(namespace, name)] = message
            try:
                if info is None:
                    raise PlumbError(f"{self.cluster.server} does not serve {API_VERSION} App")
                live = self.cluster.get(info, name=name, namespace=namespace)
                if live is None:
                    continue
                generation = live["metadata"].get("generation")
                status = AppStatus(
                    observedGeneration=generation,
                    message=message[:1000],
                    conditions=conditions_saying(
                        ConditionType.STALLED,
                        "InvalidSpec",
                        message,
                        generation=generation,
                        now=self.now(),
                        before=_conditions_of(live),
                    ),
                )
                self._write(info, name, namespace, status)
                self._written.pop(f"{namespace}/{name}", None)
                self._conditions.pop(name, None)
            except (ApiFailure, PlumbError) as error:
                log(logging.WARNING, f"cannot write the App's status: {error}", app=name)

    def _info(self) -> ResourceInfo | None:
        return self.cluster.discovery.lookup(API_VERSION, "App")

    def _before(self, info: ResourceInfo, located: Located) -> list[Condition]:
        """The conditions last written (read from the App once, after a restart)."""
        name = located.app.name
        if name not in self._conditions:
            live = self.cluster.get(info, name=name, namespace=located.namespace) or {}
            self._conditions[name] = _conditions_of(live)
        return self._conditions[name]

    def _write(self, info: ResourceInfo, name: str, namespace: str, status: AppStatus) -> None:
        body: dict[str, Any] = {
            "apiVersion": API_VERSION,
            "kind": "App",
            "metadata": {"name": name, "namespace": namespace},
            "status": written(status),
        }
        path = info.path(namespace=namespace, name=name) + "/status"
        self.writes += 1
        self.cluster.request(
            "PATCH",
            path,
            query={"fieldManager": FIELD_MANAGER, "force": "true"},
            body=body,
            content_type="application/apply-patch+yaml",
            decode=False,
        )


def written(status: AppStatus) -> dict[str, Any]:
    """``status`` as applied: unset and empty fields left out (an applied ``{}`` reads as null to the
    API server; left out, a field this writer set before is removed, as it should be)."""
    dumped = status.model_dump(by_alias=True, exclude_none=True, mode="json")
    return {key: value for key, value in dumped.items() if value not in ({}, [], "")}


def _conditions_of(live: dict[str, Any]) -> list[Condition]:
    """The conditions a live App carries (one that no longer reads as a Condition is dropped)."""
    found = []
    for written in (live.get("status") or {}).get("conditions") or []:
        try:
            found.append(Condition.model_validate(written))
        except ValueError:
            continue
    return found
