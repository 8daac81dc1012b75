"""What the controller writes into App.status after a pass (controller/_status.py), as pure logic: which
kstatus condition holds after each kind of pass, transition times kept while a condition stands, the
guard blocks of a blocked sync, and the whole status composed from the pass and a real store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from plumbline.config import (
    ConditionType,
    GuardName,
    HealthState,
    HealthStatus,
    Mode,
    VerificationOutcome,
    load_config,
)
from plumbline.controller import Outcome, Result
from plumbline.controller._status import Located, Seen, app_status, conditions, guard_blocks, verdict
from plumbline.plan import SyncStatus
from plumbline.store import AppStateKind, AuditAction, AuditOutcome, Store, SyncResult
from tests.support.config import REMOTE_APPS
from tests.support.store import sync_record

SHA = "c1" * 20
NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)


def outcome(result: Result, status: SyncStatus = SyncStatus.SYNCED, **more: object) -> Outcome:
    state = {Result.PAUSED: AppStateKind.PAUSED, Result.PENDING: AppStateKind.PAUSED_PENDING}
    return Outcome(
        app="shop",
        mode=Mode.SYNC,
        state=state.get(result, AppStateKind.ACTIVE),
        result=result,
        status=status,
        sha=SHA,
        **more,  # type: ignore[arg-type]
    )


def seen(health: HealthStatus = HealthStatus.HEALTHY) -> Seen:
    return Seen(status=SyncStatus.SYNCED, sha=SHA, health=HealthState(status=health))


@pytest.mark.parametrize(
    ("result", "status", "health", "holds", "reason"),
    [
        (Result.IN_SYNC, SyncStatus.SYNCED, HealthStatus.HEALTHY, ConditionType.READY, "Synced"),
        (
            Result.IN_SYNC,
            SyncStatus.SYNCED,
            HealthStatus.PROGRESSING,
            ConditionType.RECONCILING,
            "Progressing",
        ),
        (Result.IN_SYNC, SyncStatus.SYNCED, HealthStatus.DEGRADED, ConditionType.STALLED, "Degraded"),
        (Result.SYNCED, SyncStatus.SYNCED, HealthStatus.MISSING, ConditionType.RECONCILING, "Synced"),
        (Result.OBSERVED, SyncStatus.OUT_OF_SYNC, HealthStatus.HEALTHY, ConditionType.STALLED, "OutOfSync"),
        (Result.BLOCKED, SyncStatus.OUT_OF_SYNC, HealthStatus.HEALTHY, ConditionType.STALLED, "Blocked"),
        (Result.FAILED, SyncStatus.OUT_OF_SYNC, HealthStatus.HEALTHY, ConditionType.STALLED, "SyncFailed"),
        (Result.PAUSED, SyncStatus.OUT_OF_SYNC, HealthStatus.HEALTHY, ConditionType.STALLED, "Paused"),
        (Result.FIGHT, SyncStatus.OUT_OF_SYNC, HealthStatus.HEALTHY, ConditionType.STALLED, "SelfHealFight"),
        (Result.ERROR, SyncStatus.UNKNOWN, HealthStatus.HEALTHY, ConditionType.RECONCILING, "ReconcileError"),
        (Result.BACKOFF, SyncStatus.OUT_OF_SYNC, HealthStatus.HEALTHY, ConditionType.RECONCILING, "Backoff"),
    ],
)
def test_one_condition_holds_after_each_kind_of_pass(
    result: Result, status: SyncStatus, health: HealthStatus, holds: ConditionType, reason: str
) -> None:
    assert verdict(outcome(result, status), seen(health))[:2] == (holds, reason)


def test_a_condition_keeps_its_transition_time_while_it_stands() -> None:
    first = conditions(outcome(Result.IN_SYNC), seen(), generation=2, now=NOW)
    assert [(c.type, c.status) for c in first] == [
        (ConditionType.READY, "True"),
        (ConditionType.RECONCILING, "False"),
        (ConditionType.STALLED, "False"),
    ]
    later = NOW + timedelta(minutes=5)
    again = conditions(outcome(Result.IN_SYNC), seen(), generation=3, now=later, before=first)
    assert [c.last_transition_time for c in again] == [NOW] * 3
    assert {c.observed_generation for c in again} == {3}
    blocked = conditions(outcome(Result.BLOCKED), seen(), generation=3, now=later, before=again)
    times = {c.type: c.last_transition_time for c in blocked}
    assert times == {ConditionType.READY: later, ConditionType.RECONCILING: NOW, ConditionType.STALLED: later}


def test_the_guard_blocks_are_the_blocking_findings_not_let_through() -> None:
    finding = {"guard": "references", "severity": "block", "object": "ConfigMap shop/env", "message": "m"}
    let_through = {**finding, "guard": "destructive", "object": "StatefulSet shop/db"}
    flags = {
        "findings": [finding, let_through, {**finding, "severity": "warn"}],
        "overrides": [{**let_through, "reason": "approved", "via": "allow"}],
    }
    record = sync_record("shop", result=SyncResult.BLOCKED, flags=flags)
    (block,) = guard_blocks(record)
    assert (block.guard, block.target, block.message) == (GuardName.REFERENCES, "ConfigMap shop/env", "m")
    assert guard_blocks(sync_record("shop", flags=flags)) == []  # a sync that went through blocked nothing


def test_the_status_says_the_pass_and_what_the_store_recorded(tmp_path: Path) -> None:
    (tmp_path / "plumbline.yaml").write_text(REMOTE_APPS)
    config = load_config(tmp_path / "plumbline.yaml")
    app = config.app("shop")
    located = Located(app=app, project=config.project("default"), namespace="ops", generation=4)
    with Store.open(tmp_path / "plumbline.db") as store:
        store.record_sync(sync_record("shop", sha=SHA, actor="alice@laptop", message="synced 3 objects"))
        drift = Seen(status=SyncStatus.OUT_OF_SYNC, sha=SHA, drift={"drift-revert": 1})
        status = app_status(
            located, outcome(Result.OBSERVED, SyncStatus.OUT_OF_SYNC), drift, store=store, now=NOW
        )
    assert status.observed_generation == 4 and status.mode is Mode.SYNC and status.state == "active"
    assert status.sync is not None and status.sync.synced_sha == SHA and status.sync.revision == "HEAD"
    assert status.last_operation is not None
    assert (status.last_operation.result, status.last_operation.actor) == ("succeeded", "alice@laptop")
    assert status.drift == {"drift-revert": 1} and status.pause is None
    ready = next(c for c in status.conditions if c.type is ConditionType.READY)
    assert (ready.status, ready.reason) == ("False", "OutOfSync")


def test_the_status_says_how_the_synced_commits_verification_window_ended(tmp_path: Path) -> None:
    (tmp_path / "plumbline.yaml").write_text(REMOTE_APPS)
    config = load_config(tmp_path / "plumbline.yaml")
    app, project = config.app("shop"), config.project("default")
    located = Located(app=app, project=project, namespace="ops", generation=1)
    older = "b2" * 20
    with Store.open(tmp_path / "plumbline.db") as store:
        store.record_sync(sync_record("shop", sha=SHA))
        unverified = app_status(located, outcome(Result.IN_SYNC), seen(), store=store, now=NOW)
        for sha, outcome_word, why in [
            (SHA, VerificationOutcome.FAILED, "errors failed 1 time(s) (failure limit 0): 0.4 > 0.05"),
            (older, VerificationOutcome.PASSED, "healthy, and every check held, for 60s"),
        ]:
            store.audit(
                actor="tester",
                app="shop",
                action=AuditAction.VERIFY,
                revision=sha,
                reason=why,
                summary={},
                outcome=AuditOutcome(outcome_word.value),
            )
        status = app_status(located, outcome(Result.IN_SYNC), seen(), store=store, now=NOW)
    assert unverified.verification is None
    assert status.verification is not None  # the synced commit's, not the newest record's
    assert (status.verification.outcome, status.verification.sha) == (VerificationOutcome.FAILED, SHA)
    assert status.verification.reason.startswith("errors failed 1 time(s)")
