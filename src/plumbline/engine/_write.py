"""The one write path: :func:`sync_app` renders, plans and runs every check first (pause, guards,
consent for live edits); only a sync that will write records its intent (durably), takes the app's
Lease, writes, and records the outcome — in history and the audit trail.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from plumbline.cluster import Cluster
from plumbline.config import App, Config
from plumbline.engine._pipeline import Progress, Rendered, _quiet, gate_app, plan_app
from plumbline.engine._signed import signatures_of
from plumbline.engine.lease import (
    LEASE_DURATION_S,
    LEASE_NAMESPACE,
    LeaseHeldError,
    acquire,
    app_lease,
    default_identity,
    owner_lease_name,
    read_lease,
)
from plumbline.engine.pause import release, write_refusal
from plumbline.errors import RefusedError, StoreError
from plumbline.plan import Action, Plan
from plumbline.plan.attribution import NEEDS_CONSENT, Attribution
from plumbline.plan.unchanged import prove
from plumbline.store import (
    AuditAction,
    AuditOutcome,
    Store,
    SyncIntent,
    SyncRecord,
    SyncResult,
    current_actor,
    failed_revisions,
    now,
)
from plumbline.sync import Outcome, SyncReport, refusals, sync_plan

LEASE_WAIT_S = 5.0  # how long `plumb sync` waits for another writer of the app to finish


@dataclass(frozen=True)
class Writer:
    """Who writes an app, under which Lease (one writer per app).

    Every writer takes the app's write Lease for the write only (waiting up to ``wait_s`` for another
    write to end) and gives it back: ``plumb sync`` as a fresh identity. A controller replica passes
    ``held=True``: its renewer holds the app's owner Lease, which the write path renews once, as the
    check that it still does (the owner Lease never blocks a manual write).
    ``actor`` is the name in history and the audit trail (default: :func:`current_actor`): the
    controller's identity for its own syncs, the requester's for an operation it carries out.
    """

    identity: str
    namespace: str
    duration_s: int
    held: bool = False
    wait_s: float = LEASE_WAIT_S
    actor: str = ""

    @classmethod
    def for_one_sync(cls) -> Writer:
        return cls(identity=default_identity(), namespace=LEASE_NAMESPACE, duration_s=LEASE_DURATION_S)

    @property
    def who(self) -> str:
        return self.actor or current_actor()


@contextlib.contextmanager
def _holding(cluster: Cluster, app: str, writer: Writer) -> Iterator[None]:
    """The app's write Lease for the block, taken (waiting up to ``writer.wait_s`` for another write
    to end) and given back. A controller replica (``held``) first renews its owner Lease, as the check
    that the app is still its to reconcile."""
    if writer.held:
        grant = acquire(
            cluster,
            app,
            writer.identity,
            namespace=writer.namespace,
            duration_s=writer.duration_s,
            name=owner_lease_name(app),
        )
        info = (
            None
            if grant.held
            else read_lease(cluster, app, namespace=writer.namespace, name=owner_lease_name(app))
        )
        # Refused only by a conflict with this replica's own renewer (it renewed the Lease between our
        # read and write): still ours.
        ours = info is not None and info.holder == writer.identity and not info.expired()
        if not grant.held and not ours:
            raise LeaseHeldError(
                f"app {app}: {writer.identity} no longer holds its owner Lease ({writer.namespace}); "
                f"{info.holder if info else 'no one'} does. Not writing."
            )
    with app_lease(
        cluster,
        app,
        writer.identity,
        namespace=writer.namespace,
        duration_s=writer.duration_s,
        wait_s=writer.wait_s,
    ):
        yield


class UnfinishedState(StrEnum):
    """Where a sync with no recorded outcome stands (``plumb status``): its writer still holds the
    Lease, it was interrupted (the history's word for it), or the Lease could not be read."""

    RUNNING = "running"
    INTERRUPTED = SyncResult.INTERRUPTED.value
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Unfinished:
    """A sync that started writing and recorded no outcome. ``running`` while its writer still holds
    the app's Lease (a sync in progress — or a writer that died less than a Lease duration ago);
    otherwise it was interrupted, and some of its planned writes may have been applied."""

    intent: SyncIntent
    running: bool | None  # None: the Lease could not be read (no cluster)

    @property
    def state(self) -> UnfinishedState:
        return {
            True: UnfinishedState.RUNNING,
            False: UnfinishedState.INTERRUPTED,
            None: UnfinishedState.UNKNOWN,
        }[self.running]

    def describe(self) -> str:
        i = self.intent
        when = f"{i.started_at:%Y-%m-%d %H:%M:%S} UTC"
        what = f"the sync of {i.revision} at {i.sha[:12]} started by {i.actor} at {when}"
        if self.running is None:
            return (
                f"{what} has no recorded outcome: it is still running, or it was interrupted and some of its "
                f"{_planned_writes(i)} planned write(s) may have been applied (the Lease could not be read)"
            )
        if self.running:
            return (
                f"{what} is in progress (its writer {i.holder} holds the Lease); if that writer died, it is "
                "reported as interrupted once the Lease lapses"
            )
        return (
            f"{what} was interrupted mid-apply: some of its {_planned_writes(i)} planned write(s) may have "
            "been applied"
        )


def _planned_writes(intent: SyncIntent) -> int:
    return len(intent.planned.get("objects") or [])


def unfinished_syncs(
    store: Store, cluster: Cluster | None, app: str, *, me: str | None = None
) -> list[Unfinished]:
    """The app's unfinished syncs, each running or interrupted by whether its writer still holds the
    Lease (read, never written). A Lease held by ``me`` (the caller's identity) does not count: that
    writer is us, so the earlier one is gone. Without ``cluster``, whether one runs is unknown."""
    found = []
    for intent in store.unfinished(app):
        running: bool | None = None if cluster is None else False
        if cluster is not None and intent.holder != me:
            info = read_lease(cluster, app, namespace=intent.lease_namespace)
            running = info is not None and info.holder == intent.holder and not info.expired()
        found.append(Unfinished(intent, running))
    return found


def close_interrupted(
    store: Store, cluster: Cluster, app: str, *, writer: Writer, progress: Progress = _quiet
) -> list[SyncRecord]:
    """Record an ``interrupted`` outcome, in history and the audit trail, for each of the app's
    unfinished syncs whose writer is gone; return those records. Every write path runs this before
    it writes (its own sync then finishes what the interrupted one left)."""
    closed = []
    for found in unfinished_syncs(store, cluster, app, me=writer.identity):
        if found.running is not False:
            continue
        intent = found.intent
        assert intent.id is not None
        message = f"{found.describe()} (reported by {writer.who})"
        progress(message)
        record_id = store.record_sync(
            SyncRecord(
                id=None,
                app=app,
                revision=intent.revision,
                sha=intent.sha,
                started_at=intent.started_at,
                finished_at=None,
                actor=intent.actor,
                result=SyncResult.INTERRUPTED,
                summary={"planned": {k: v for k, v in intent.planned.items() if k != "objects"}},
                desired=intent.desired,
                message=message,
                flags=intent.flags,
                intent=intent.id,
            )
        )
        summary = {"intent": intent.id, "sync": record_id, "writer": intent.holder}
        _audit_sync(store, writer, app, intent.sha, found.describe(), summary, AuditOutcome.INTERRUPTED)
        closed.append(store.get(record_id))
    return closed


def _planned(plan: Plan, *, prune: bool, revert_drift: bool) -> dict[str, Any]:
    """What a sync of ``plan`` will write: counts, and every object it may touch."""
    writes = [i for i in plan.items if i.action in (Action.CREATE, Action.UPDATE)]
    deletes = plan.prunable if prune else []
    if revert_drift:
        writes += [i for i in plan.of(Action.UNCHANGED) if i.changes_of(Attribution.UNMANAGED_ADDITION)]
    counts = plan.counts
    return {
        "create": counts["create"],
        "update": counts["update"],
        "prune": len(deletes),
        "objects": [str(i.ref) for i in writes + deletes],
    }


def sync_app(
    app: App,
    *,
    cluster: Cluster,
    store: Store,
    revision: str | None = None,
    prune: bool = False,
    force_conflicts: bool = False,
    revert_drift: bool = False,
    dry_run: bool = False,
    config: Config | None = None,
    allow: list[str] | None = None,
    reason: str | None = None,
    manual: bool = True,
    progress: Progress = _quiet,
    writer: Writer | None = None,
    cause: str = "",
    detail: dict[str, Any] | None = None,
    ending_pause: bool = False,
    planned: tuple[Plan, Rendered] | None = None,
    recorded: SyncRecord | None = None,
    recheck: bool = False,
) -> tuple[Plan, SyncReport | None, SyncRecord]:
    """The one write path: plan, run the guards, then (unless ``dry_run``) apply; every outcome —
    also a refusal — is recorded in ``store``.

    A paused app is refused before anything (:class:`RefusedError`), unless ``ending_pause`` (``plumb
    resume --revert``). With ``config``, every guard runs over the plan before anything is written; a
    blocking finding stops the sync unless ``allow`` (``GUARD:KIND/NAME``, with ``reason``) or a
    ``Plumb-Allow`` commit trailer or a standing GuardException of the app names it. Findings,
    overrides and the app's exceptions (active or expired) are recorded in the history flags
    (``findings``, ``overrides``, ``exceptions``), with the actor. A plan with drift-revert or
    conflict changes is refused unless ``revert_drift``; that flag is recorded with the changes it
    reverted.

    Only a sync that passed all that writes, in this order: unfinished syncs whose writer is gone are
    recorded as interrupted; the intent (:class:`SyncIntent`: revision, SHA, actor, planned objects)
    is recorded durably — a store that cannot take it refuses the sync, with nothing written; the
    app's Lease is taken (``writer``; default: a fresh identity for this sync); the objects are
    written; the outcome is recorded. A plan with nothing to write records only its outcome (no
    intent, no Lease). ``cause`` (why, e.g. "self-heal") and ``detail`` go to the audit records,
    which every non-dry-run sync gets.

    ``planned``: the app's plan (with its render) that the caller has just made, as configured, and
    decided on (the controller) — written as it stands instead of rendered and planned a second time.

    ``recorded`` (a rollback, :func:`plumbline.engine.rollback_app`): the desired objects of that
    history record are written instead of a render — every check above still runs. Otherwise a
    commit a rollback left (:func:`failed_revisions`) is refused (blocked, nothing written): Git is
    the truth, so trying it again takes a new commit (an empty one will do). A sync of another commit
    that succeeds ends the app's hold (``held`` → ``active``).

    The plan stands on the last sync's proofs (:mod:`plumbline.plan.unchanged`) unless ``recheck``;
    a successful sync records its own (``SyncRecord.proofs``).
    """
    if not dry_run and not ending_pause and (why := write_refusal(store, app.name)):
        raise RefusedError(f"not syncing: {why}")
    writer = writer or Writer.for_one_sync()
    started = now()
    plan, rendered = planned or plan_app(
        app,
        cluster=cluster,
        revision=revision,
        progress=progress,
        store=store,
        config=config,
        recorded=recorded,
        recheck=recheck,
    )
    flags: dict[str, Any] = {
        "prune": prune,
        "forceConflicts": force_conflicts,
        "revertDrift": revert_drift,
        "dryRun": dry_run,
    }
    failed = None if recorded is not None else failed_revisions(store, app.name).get(plan.sha)
    if recorded is not None:
        last = store.last_sync(app.name)
        flags["rollback"] = {"to": recorded.sha, "history": recorded.id, "from": last.sha if last else None}
    consent = plan.changes_of(*NEEDS_CONSENT)
    if revert_drift and consent:
        flags["reverted"] = [
            {"object": str(c.ref), "pointer": c.pointer, "attribution": c.attribution.value} for c in consent
        ]
    blocking = []
    blocked_by = ""
    if config is not None:
        progress("running the guards")
        verdict = gate_app(
            app,
            plan,
            rendered,
            config=config,
            store=store,
            cluster=cluster,
            prune=prune,
            manual=manual,
            allow=allow,
            reason=reason,
        )
        blocking, blocked_by = verdict.blocking, verdict.blocked_by()
        flags["findings"] = [f.to_dict() for f in verdict.findings]
        flags["overrides"] = [o.to_dict() for o in verdict.overridden]
        flags["exceptions"] = [use.to_dict() for use in verdict.exceptions]
        if signed := signatures_of(app, config, rendered.checkout, store=store):
            flags["signatures"] = [checked.to_dict() for checked in signed]  # who signed what was synced
    report: SyncReport | None = None
    finish = _recorder(store, app.name, plan, writer=writer, started=started, flags=flags)
    refused = refusals(plan, force_conflicts=force_conflicts, revert_drift=revert_drift)
    summary: dict[str, Any] = {"plan": plan.counts}
    if failed is not None:
        result = SyncResult.BLOCKED
        message = (
            f"nothing written: {failed.describe()}, so it is never applied again by itself; "
            "Git is the truth: commit a fix (or an empty commit to try it again)"
        )
    elif blocking:
        result = SyncResult.BLOCKED
        message = "nothing written: blocked by " + blocked_by
        summary["blockedBy"] = len(blocking)
    elif dry_run:
        result = SyncResult.BLOCKED if plan.errors else SyncResult.DRY_RUN
        message = "dry run: nothing written"
    elif refused:
        report = SyncReport(plan=plan, refused=refused)
        result = SyncResult.BLOCKED
        message = "nothing written: " + "; ".join(refused)
        summary["outcome"] = report.counts
    else:
        return _write(
            app,
            plan,
            cluster=cluster,
            store=store,
            writer=writer,
            started=started,
            flags=flags,
            prune=prune,
            force_conflicts=force_conflicts,
            revert_drift=revert_drift,
            cause=cause,
            detail=detail or {},
            progress=progress,
        )
    record = finish(result=result, summary=summary, message=message)
    if not dry_run:
        _audit_outcome(store, record, writer=writer, cause=cause, detail=detail or {})
    return plan, report, record


def _write(
    app: App,
    plan: Plan,
    *,
    cluster: Cluster,
    store: Store,
    writer: Writer,
    started: datetime,
    flags: dict[str, Any],
    prune: bool,
    force_conflicts: bool,
    revert_drift: bool,
    cause: str,
    detail: dict[str, Any],
    progress: Progress,
) -> tuple[Plan, SyncReport | None, SyncRecord]:
    """Intent, Lease, writes, outcome — see :func:`sync_app`. A plan with nothing to write (every
    object unchanged, nothing to prune or revert) takes neither: no intent, no Lease, only its outcome
    (as a blocked sync records only its outcome); interrupted syncs are still closed first."""
    desired = _recorded(plan)  # once: the intent and the outcome keep the same objects
    finish = functools.partial(
        _recorder(store, app.name, plan, writer=writer, started=started, flags=flags), desired=desired
    )
    planned = _planned(plan, prune=prune, revert_drift=revert_drift)
    writes = bool(planned["objects"])
    intent = SyncIntent(
        id=None,
        app=app.name,
        revision=plan.revision,
        sha=plan.sha,
        actor=writer.who,
        holder=writer.identity,
        lease_namespace=writer.namespace,
        started_at=started,
        planned=planned,
        desired=desired,
        flags=flags,
        cause=cause,
    )
    try:
        finished = close_interrupted(store, cluster, app.name, writer=writer, progress=progress)
        if finished:
            flags["finishes"] = [
                {
                    "sync": r.id,
                    "intent": r.intent,
                    "revision": r.revision,
                    "sha": r.sha,
                    "actor": r.actor,
                    "startedAt": r.started_at.isoformat(),
                }
                for r in finished
            ]
        intent_id = store.record_intent(intent) if writes else None
        if intent_id is not None:
            _audit_sync(
                store,
                writer,
                app.name,
                plan.sha,
                cause,
                {"intent": intent_id, "plan": plan.counts, **detail},
                AuditOutcome.STARTED,
            )
    except StoreError as error:
        raise StoreError(
            f"{error}; nothing was written to the cluster (no write without a recorded intent)"
        ) from None
    writing = False
    try:
        with _holding(cluster, app.name, writer) if writes else contextlib.nullcontext():
            if intent_id is not None:
                store.mark_writing(intent_id)
            writing = True
            report = sync_plan(
                plan,
                cluster=cluster,
                prune=prune,
                force_conflicts=force_conflicts,
                revert_drift=revert_drift,
                progress=progress,
            )
    except BaseException as error:
        # Recorded as far as the store lets us; if it cannot, the intent stays unfinished and the
        # next status, sync or controller pass reports it.
        if isinstance(error, LeaseHeldError):
            result, message = SyncResult.BLOCKED, f"nothing written: {error}"
        elif writing:
            what = str(error) or type(error).__name__
            result = SyncResult.FAILED
            message = f"stopped mid-apply ({what}): some of the planned writes may have been applied"
        else:
            result, message = SyncResult.FAILED, f"nothing written: {error or type(error).__name__}"
        with contextlib.suppress(StoreError):
            record = finish(result=result, summary={"plan": plan.counts}, message=message, intent=intent_id)
            _audit_outcome(store, record, writer=writer, cause=cause, detail=detail)
        raise
    if report.ok:
        result = SyncResult.SUCCEEDED
        message = _summary_line(report)
        if rollback := flags.get("rollback"):
            message = f"rolled back to history #{rollback['history']} ({plan.sha[:12]}): {message}"
    else:
        result = SyncResult.FAILED
        message = "; ".join(f"{o.item.ref}: {o.message}" for o in report.failures())
    summary = {"plan": plan.counts, "outcome": report.counts, "durationSeconds": round(report.duration_s, 3)}
    proofs = _proofs(report) if result is SyncResult.SUCCEEDED else {}
    record = finish(result=result, summary=summary, message=message, intent=intent_id, proofs=proofs)
    _audit_outcome(store, record, writer=writer, cause=cause, detail=detail)
    if result is SyncResult.SUCCEEDED and "rollback" not in flags:
        release(store, app.name, actor=writer.who, revision=plan.sha)
    return plan, report, record


def _recorder(
    store: Store, app: str, plan: Plan, *, writer: Writer, started: datetime, flags: dict[str, Any]
) -> Callable[..., SyncRecord]:
    """:func:`_record` for this sync: only its result, summary, message (and intent) left to say."""
    return functools.partial(_record, store, app, plan, actor=writer.who, started=started, flags=flags)


def _record(
    store: Store,
    app: str,
    plan: Plan,
    *,
    actor: str,
    started: datetime,
    result: SyncResult,
    summary: dict[str, Any],
    flags: dict[str, Any],
    message: str,
    intent: int | None = None,
    proofs: dict[str, dict[str, str]] | None = None,
    desired: list[dict[str, Any]] | None = None,
) -> SyncRecord:
    record = SyncRecord(
        id=None,
        app=app,
        revision=plan.revision,
        sha=plan.sha,
        started_at=started,
        finished_at=now(),
        actor=actor,
        result=result,
        summary=summary,
        desired=_recorded(plan) if desired is None else desired,
        message=message,
        flags=flags,
        intent=intent,
        proofs=proofs or {},
    )
    return store.get(store.record_sync(record))


def _proofs(report: SyncReport) -> dict[str, dict[str, str]]:
    """What a successful sync proved (:mod:`plumbline.plan.unchanged`), by object: for each object it
    applied, the desired object against the server's answer; for each it left unchanged, the proof
    the plan's full compare made (or stood on). Objects whose kind's stamp was not known get none."""
    proofs: dict[str, dict[str, str]] = {}
    for entry in report.objects:
        item = entry.item
        if entry.outcome is Outcome.UNCHANGED and item.proof is not None:
            proofs[str(item.ref)] = item.proof.to_dict()
        elif entry.outcome is Outcome.APPLIED and entry.answer is not None and item.desired is not None:
            proof = prove(item.redactor, desired=item.desired, live=entry.answer, stamp=item.stamp)
            proofs[str(item.ref)] = proof.to_dict()
    return proofs


def _recorded(plan: Plan) -> list[dict[str, Any]]:
    """The desired objects as the store keeps them (intent and outcome alike): secrets fingerprinted."""
    return [obj for item in plan.items if (obj := item.recorded) is not None]


def _audit_outcome(
    store: Store, record: SyncRecord, *, writer: Writer, cause: str, detail: dict[str, Any]
) -> None:
    summary = {"sync": record.id, "intent": record.intent, **record.summary, **detail}
    _audit_sync(store, writer, record.app, record.sha, cause, summary, AuditOutcome(record.result.value))


def _audit_sync(
    store: Store,
    writer: Writer,
    app: str,
    sha: str,
    reason: str,
    summary: dict[str, Any],
    outcome: AuditOutcome,
) -> None:
    """One ``sync`` record in the audit trail: started, then its outcome (or interrupted)."""
    store.audit(
        actor=writer.who,
        app=app,
        action=AuditAction.SYNC,
        revision=sha,
        reason=reason,
        summary=summary,
        outcome=outcome,
    )


def _summary_line(report: SyncReport) -> str:
    counts = report.counts
    parts = [f"{n} {name}" for name, n in counts.items() if n]
    return ", ".join(parts) or "nothing to do"
