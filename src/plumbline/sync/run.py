"""Carrying out a plan: server-side apply in waves, then (only when asked) prune.

Rules, in order of importance:

* If the plan's dry run refused any object, nothing is written, and the outcome names each object and
  the server's reason.
* Conflicts with other field managers are reported, never forced, unless ``force_conflicts``.
* A wave with a failure stops the sync: later waves and prune do not run (a half-applied state is
  reported as such, object by object).
* Prune only with ``prune=True``, after every wave succeeded; each delete carries the live object's
  uid and resourceVersion (as the plan read it, perhaps from the watch cache a moment stale) as
  preconditions, so an object recreated, relabelled or edited since the plan is not deleted: it is
  reported FAILED with why (a prune that was asked for and not done is not a success; the next plan
  decides again on what is live then). Kept prune candidates (``item.kept``: not this app's to
  delete) are never deleted; they are left, with why.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import groupby
from typing import Any

from plumbline.cluster import ApiFailure, Cluster, ResourceInfo
from plumbline.errors import ClusterError
from plumbline.plan import Action, Plan, PlanItem
from plumbline.plan.age import age_in_words
from plumbline.plan.attribution import NEEDS_CONSENT, Attribution, FieldChange
from plumbline.plan.fields import get_path, json_pointer
from plumbline.plan.normalize import comparable
from plumbline.plan.unchanged import live_digest
from plumbline.redact import contains_fingerprint
from plumbline.sync.waves import wave_of

CRD_ESTABLISH_TIMEOUT_S = 30.0


class Outcome(StrEnum):
    """What happened to one object in a sync."""

    APPLIED = "applied"
    UNCHANGED = "unchanged"
    PRUNED = "pruned"
    FAILED = "failed"
    NOT_REACHED = "not-reached"  # a wave before it failed
    KEPT = "kept"  # a prune candidate kept: prune was not asked for, or it is not this app's to delete


@dataclass
class ObjectOutcome:
    """``answer``: the object as the server answered an apply of it (what a proof of it stands on)."""

    item: PlanItem
    outcome: Outcome
    message: str = ""
    wave: int = 0
    answer: dict[str, Any] | None = None


@dataclass
class SyncReport:
    """The result of :func:`sync_plan`. ``ok`` is False if anything failed or the plan was refused."""

    plan: Plan
    objects: list[ObjectOutcome] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # why nothing was written
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.refused and all(o.outcome is not Outcome.FAILED for o in self.objects)

    @property
    def counts(self) -> dict[str, int]:
        counts = {outcome.value: 0 for outcome in Outcome}
        for entry in self.objects:
            counts[entry.outcome.value] += 1
        return counts

    def failures(self) -> list[ObjectOutcome]:
        return [o for o in self.objects if o.outcome is Outcome.FAILED]


def sync_plan(
    plan: Plan,
    *,
    cluster: Cluster,
    prune: bool = False,
    force_conflicts: bool = False,
    revert_drift: bool = False,
    progress: Callable[[str], None] | None = None,
) -> SyncReport:
    """Apply ``plan``. Refuses (writing nothing) when the plan has errors, drift-revert or conflict
    changes (unless ``revert_drift``), or other-manager conflicts (unless ``force_conflicts``).

    ``revert_drift`` takes back the fields live edits own (a forced apply of those objects) and then
    removes unmanaged additions (a JSON patch per object: ``test`` then ``remove``, so a field that
    changed since the plan is left alone and reported).
    """
    say = progress or (lambda _: None)
    began = time.monotonic()
    report = SyncReport(plan=plan)
    report.refused = refusals(plan, force_conflicts=force_conflicts, revert_drift=revert_drift)
    forced = {id(item) for item in plan.items if force_conflicts or (revert_drift and _drifted(item))}
    if report.refused:
        report.duration_s = time.monotonic() - began
        return report

    waves = {id(item): wave_of(item.desired or item.live or {}, source=item.source) for item in plan.items}
    to_write = sorted(
        (i for i in plan.items if i.action in (Action.CREATE, Action.UPDATE)), key=lambda i: waves[id(i)]
    )
    for item in plan.of(Action.UNCHANGED):
        report.objects.append(ObjectOutcome(item, Outcome.UNCHANGED, wave=waves[id(item)]))

    failed = False
    for wave, group in groupby(to_write, key=lambda i: waves[id(i)]):
        batch = list(group)
        if failed:
            report.objects += [ObjectOutcome(i, Outcome.NOT_REACHED, wave=wave) for i in batch]
            continue
        say(f"wave {wave}: applying {len(batch)} object(s)")
        applied = cluster.map(lambda i: _apply_one(cluster, i, force=id(i) in forced), batch)
        for item, (message, answer) in zip(batch, applied, strict=True):
            outcome = Outcome.FAILED if message else Outcome.APPLIED
            report.objects.append(ObjectOutcome(item, outcome, message or "", wave=wave, answer=answer))
        failed = any(message for message, _ in applied)
        if not failed and any(i.ref.kind == "CustomResourceDefinition" for i in batch):
            _wait_established(cluster, [i for i in batch if i.ref.kind == "CustomResourceDefinition"])
            cluster.refresh_discovery()

    additions = [i for i in plan.items if i.changes_of(Attribution.UNMANAGED_ADDITION)]
    if revert_drift and additions and not failed:
        say(f"removing unmanaged additions from {len(additions)} object(s)")
        for item in additions:
            message = _remove_additions(cluster, item)
            if message:
                failed = True
                report.objects.append(ObjectOutcome(item, Outcome.FAILED, message, wave=waves[id(item)]))
            elif item.action is Action.UNCHANGED:
                for entry in report.objects:
                    if entry.item is item:
                        entry.outcome = Outcome.APPLIED
                        entry.message = "unmanaged additions removed"

    report.objects += [
        ObjectOutcome(i, Outcome.KEPT, f"{i.kept}: {i.note}", wave=waves[id(i)]) for i in plan.kept
    ]
    candidates = sorted(plan.prunable, key=lambda i: -waves[id(i)])
    if candidates and prune and not failed:
        for wave, group in groupby(candidates, key=lambda i: waves[id(i)]):
            batch = list(group)
            say(f"prune: deleting {len(batch)} object(s) from wave {wave}")
            results = cluster.map(lambda i: _delete_one(cluster, i), batch)
            for item, message in zip(batch, results, strict=True):
                outcome = Outcome.FAILED if message else Outcome.PRUNED
                report.objects.append(ObjectOutcome(item, outcome, message or "", wave=wave))
    else:
        reason = "a wave failed" if failed and prune else "prune was not asked for (--prune)"
        report.objects += [ObjectOutcome(i, Outcome.KEPT, reason, wave=waves[id(i)]) for i in candidates]
    report.duration_s = time.monotonic() - began
    return report


def refusals(plan: Plan, *, force_conflicts: bool = False, revert_drift: bool = False) -> list[str]:
    """Why :func:`sync_plan` would write nothing (empty: it would write): objects the dry run refused,
    live edits it would undo without ``revert_drift``, conflicts it would force without
    ``force_conflicts``. Known before any write, so a caller can refuse before taking a Lease."""
    refused = [f"{item.ref} ({item.source}): {item.error}" for item in plan.errors]
    if not revert_drift:
        refused += [consent_line(change) for change in plan.changes_of(*NEEDS_CONSENT)]
    if not force_conflicts:
        refused += [
            f"{item.ref}: {item.conflict}. Another field manager owns these fields; plumbline does not take "
            "them over silently. Make Git agree with the live value, or re-run with --force-conflicts to "
            "take ownership."
            for item in plan.conflicts
            if not _drifted(item)
        ]
    return refused


def _drifted(item: PlanItem) -> bool:
    return bool(item.changes_of(*NEEDS_CONSENT))


def show(value: object) -> str:
    """A value as people read it in one line (JSON, absent as ``(absent)``)."""
    import json

    return "(absent)" if value is None else json.dumps(value, sort_keys=False, default=str)


def consent_line(change: FieldChange) -> str:
    """One change a sync will not make silently: object, field, live → Git, who and when."""
    who = "unknown editor"
    if change.editor is not None:
        who = f"{change.editor.manager}, {change.editor.operation}, {age_in_words(change.editor.time)}"
    return (
        f"{change.ref}: {change.attribution.value} {change.pointer}: live {show(change.live)} → Git "
        f"{show(change.git)} ({who}). The sync would undo a live edit; capture it into Git (plumb capture) "
        "or re-run with --revert-drift to revert it."
    )


def _remove_additions(cluster: Cluster, item: PlanItem) -> str | None:
    """Remove ``item``'s unmanaged additions from the live object (read afresh, after the apply)."""
    try:
        info = _info(cluster, item)
        live = cluster.get(info, name=item.ref.name, namespace=item.ref.namespace)
        if live is None:
            return "gone before its unmanaged additions could be removed"
        ops: list[dict[str, object]] = []
        located = []
        shown = comparable(live, item.redactor)  # the plan's values are fingerprints where secret
        for change in item.changes_of(Attribution.UNMANAGED_ADDITION):
            pointer = json_pointer(live, change.path)
            if pointer is not None:
                located.append((pointer, change))
        # Remove later list positions first, so earlier positions stay valid within the one patch.
        located.sort(
            key=lambda pc: [int(p) if p.isdigit() else -1 for p in pc[0].split("/")[1:]], reverse=True
        )
        for pointer, change in located:
            # A secret addition still as the plan saw it (same fingerprint) is tested with its real
            # value, read just now; a changed one keeps the fingerprint, fails the test and is left.
            value = change.live
            if contains_fingerprint(value) and get_path(shown, change.path) == value:
                value = get_path(live, change.path)
            ops.append({"op": "test", "path": pointer, "value": value})
            ops.append({"op": "remove", "path": pointer})
        if not ops:
            return None
        cluster.request(
            "PATCH",
            info.path(namespace=item.ref.namespace, name=item.ref.name),
            query={"fieldManager": "plumbline"},
            body=ops,
            content_type="application/json-patch+json",
            decode=False,
        )
    except ApiFailure as failure:
        return _said(
            item, f"unmanaged additions not removed: {failure.reason or failure.status}: {failure.message}"
        )
    except ClusterError as error:
        return str(error)
    return None


def _info(cluster: Cluster, item: PlanItem) -> ResourceInfo:
    info = cluster.discovery.lookup(item.api_version, item.ref.kind)
    if info is None:
        info = cluster.refresh_discovery().lookup(item.api_version, item.ref.kind)
    if info is None:
        raise ClusterError(f"{item.ref}: the server does not serve {item.api_version} {item.ref.kind}")
    return info


def _apply_one(cluster: Cluster, item: PlanItem, *, force: bool) -> tuple[str | None, dict[str, Any] | None]:
    """Apply one object; return (None, the server's answer) on success, else (a message a person can
    act on, None). The answer is decoded only where the plan knew the kind's stamp: a proof needs it."""
    assert item.desired is not None
    try:
        answer = cluster.apply(item.desired, info=_info(cluster, item), force=force, result=bool(item.stamp))
    except ApiFailure as failure:
        if failure.status == 409 and failure.reason == "Conflict":
            return _said(
                item,
                f"{failure.message}. Another field manager owns these fields; plumbline does not take them "
                "over silently. Make Git agree with the live value, or re-run with --force-conflicts to "
                "take ownership.",
            ), None
        return _said(item, f"{failure.reason or failure.status}: {failure.message}"), None
    except ClusterError as error:
        return str(error), None
    return None, answer


def _said(item: PlanItem, message: str) -> str:
    """A server's message about ``item``, any secret value of the object in it fingerprinted."""
    return item.redactor.scrub(message, item.desired, item.live)


def _delete_one(cluster: Cluster, item: PlanItem) -> str | None:
    live = item.live or {}
    metadata = live.get("metadata") or {}
    info = _info(cluster, item)
    version = metadata.get("resourceVersion")

    def delete() -> None:
        ref = item.ref
        cluster.delete(
            info, name=ref.name, namespace=ref.namespace, uid=metadata.get("uid"), resource_version=version
        )

    try:
        try:
            delete()
        except ApiFailure as failure:
            now = _status_moved_only(cluster, info, item) if failure.status == 409 else None
            if now is None:
                raise
            # Only its status moved (a Deployment mid-rollout): still the object the plan decided on.
            version = now
            delete()
    except ApiFailure as failure:
        if failure.status == 404:
            return None  # already gone
        if failure.status == 409:
            if "UID in precondition" in failure.message:
                why = "it was replaced since the plan was made (uid changed)"
            else:
                why = (
                    f"it changed since the plan was made (resourceVersion "
                    f"{version} is no longer current); plan again to decide on it"
                )
            return _said(item, f"not deleted: {why}: {failure.message}")
        return _said(item, f"{failure.reason or failure.status}: {failure.message}")
    except ClusterError as error:
        return str(error)
    return None


def _status_moved_only(cluster: Cluster, info: ResourceInfo, item: PlanItem) -> str | None:
    """The resourceVersion of the candidate now, if all that changed since the plan read it is what
    status updates change (:func:`plumbline.plan.unchanged.live_digest`: the same uid, labels,
    annotations, spec and other managers' fields); None if anything else changed, or it is gone."""
    if item.live is None:
        return None
    now = cluster.get(info, name=item.ref.name, namespace=item.ref.namespace)
    if now is None or live_digest(item.redactor, now) != live_digest(item.redactor, item.live):
        return None
    version = (now.get("metadata") or {}).get("resourceVersion")
    return str(version) if version else None


def _wait_established(cluster: Cluster, crds: list[PlanItem]) -> None:
    """Wait until each CRD is Established, so objects of its kind can be applied in later waves."""
    info = cluster.discovery.lookup("apiextensions.k8s.io/v1", "CustomResourceDefinition")
    if info is None:
        return
    deadline = time.monotonic() + CRD_ESTABLISH_TIMEOUT_S
    pending = {item.ref.name for item in crds}
    while pending and time.monotonic() < deadline:
        for name in list(pending):
            crd = cluster.get(info, name=name, namespace=None) or {}
            conditions = (crd.get("status") or {}).get("conditions") or []
            if any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions):
                pending.discard(name)
        if pending:
            time.sleep(0.2)
    if pending:
        raise ClusterError(
            f"CustomResourceDefinition(s) {', '.join(sorted(pending))} not Established within "
            f"{CRD_ESTABLISH_TIMEOUT_S:.0f}s; objects of their kinds were not applied"
        )
