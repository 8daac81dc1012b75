"""Which revision a rollback goes to, which SHAs are failed, the hold, and secret values taken back
from Git only where history's fingerprints vouch for them — against a real SQLite store."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from plumbline.engine import RollbackError, rollback_target
from plumbline.engine.pause import hold, release
from plumbline.redact import Redactor
from plumbline.store import (
    FAILED,
    AppState,
    AppStateKind,
    AuditAction,
    AuditOutcome,
    Store,
    SyncResult,
    failed_revisions,
)
from tests.support.store import T0, sync_record, verdict

A, B, C, D = ("a" * 40, "b" * 40, "c" * 40, "d" * 40)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(tmp_path / "plumbline.db")


def synced(store: Store, *shas: str, result: SyncResult = SyncResult.SUCCEEDED) -> list[int]:
    ids = []
    for n, sha in enumerate(shas):
        at = T0 + timedelta(minutes=len(store.history("shop", limit=None)) + n)
        ids.append(
            store.record_sync(sync_record("shop", at=at, sha=sha, result=result, desired=[{"n": sha}]))
        )
    return ids


def mark_failed(store: Store, sha: str, to: str) -> None:
    store.audit(
        actor="ci",
        app="shop",
        action=AuditAction.ROLLBACK,
        revision=to,
        reason="verification failed",
        summary={FAILED: sha, "to": to},
        outcome=AuditOutcome.STARTED,
    )


def test_the_last_good_revision_is_the_newest_successful_sync_of_another_commit(store: Store) -> None:
    synced(store, A, B)
    synced(store, C, result=SyncResult.FAILED)  # never applied whole: not a candidate, not "current"
    target, current = rollback_target(store, "shop")
    assert (target.sha, current.sha) == (A, B)
    assert target.desired == [{"n": A}]  # whole, as history recorded it


def test_a_sha_a_rollback_left_is_never_good_again(store: Store) -> None:
    synced(store, A, B, C, B)  # B again after C: the current one is B
    mark_failed(store, C, to=B)
    target, current = rollback_target(store, "shop")
    assert (target.sha, current.sha) == (A, B)  # neither B (applied now) nor C (failed)
    assert set(failed_revisions(store, "shop")) == {C}
    assert (
        failed_revisions(store, "shop")[C]
        .describe()
        .startswith(f"{C[:12]} was rolled back to {B[:12]} by ci")
    )


def test_once_syncs_are_verified_only_a_verified_one_is_good(store: Store) -> None:
    _, second, _ = synced(store, A, B, C)
    verdict(store, "shop", B, AuditOutcome.INCONCLUSIVE)
    assert rollback_target(store, "shop")[0].id == second  # no window passed yet: any successful sync
    verdict(store, "shop", A, AuditOutcome.PASSED)
    verdict(store, "shop", C, AuditOutcome.VERIFICATION_FAILED)
    assert rollback_target(store, "shop")[0].sha == A  # the last *verified* revision
    verdict(store, "shop", A, AuditOutcome.VERIFICATION_FAILED)  # its last window failed: not verified
    verdict(store, "shop", B, AuditOutcome.PASSED)
    assert rollback_target(store, "shop")[0].sha == B


def test_to_a_sha_prefix_or_a_history_number(store: Store) -> None:
    first, _, _ = synced(store, A, B, C)
    assert rollback_target(store, "shop", to=B[:7])[0].sha == B
    assert rollback_target(store, "shop", to_history=first)[0].sha == A
    with pytest.raises(RollbackError, match=r"no successful sync of 'ffffff0' in the history \(recent: #3"):
        rollback_target(store, "shop", to="ffffff0")
    with pytest.raises(RollbackError, match=f"shop is at {C[:12]} already"):
        rollback_target(store, "shop", to=C)


def test_a_history_number_of_another_app_or_of_a_blocked_sync_is_refused(store: Store) -> None:
    synced(store, A, B)
    (blocked,) = synced(store, D, result=SyncResult.BLOCKED)
    other = store.record_sync(sync_record("blog", sha=D))
    with pytest.raises(RollbackError, match=f"history #{other} is a sync of blog, not of shop"):
        rollback_target(store, "shop", to_history=other)
    with pytest.raises(RollbackError, match="blocked: only a successful sync's desired state is known"):
        rollback_target(store, "shop", to_history=blocked)


def test_nothing_to_roll_back_from_or_to(store: Store) -> None:
    with pytest.raises(RollbackError, match="no successful sync in the history: nothing to roll back from"):
        rollback_target(store, "shop")
    synced(store, A)
    with pytest.raises(RollbackError, match="no good revision to roll back to"):
        rollback_target(store, "shop")


def test_a_hold_ends_with_a_sync_of_another_commit_only(store: Store) -> None:
    hold(store, "shop", revision=A, failed=B, sync=3, actor="ci", reason="error rate 12% > 5%")
    state = store.app_state("shop")
    assert state.state is AppStateKind.HELD and state.detail["revision"] == A and state.detail[FAILED] == B
    assert set(failed_revisions(store, "shop")) == {B}  # the hold's own record marks it too
    assert release(store, "shop", actor="ci", revision=A) is None  # the held revision again: still held
    assert store.app_state("shop").state is AppStateKind.HELD
    released = release(store, "shop", actor="ci", revision=C)
    assert released is not None and released.state is AppStateKind.ACTIVE
    last = store.audit_log("shop")[-1]
    assert (last.action, last.outcome, last.revision) == (AuditAction.RESUME, AuditOutcome.ACTIVE, C)
    assert set(failed_revisions(store, "shop")) == {B}  # the failed mark outlives the hold


def test_restore_takes_clear_values_only_where_the_fingerprint_is_the_recorded_one(tmp_path: Path) -> None:
    redactor = Redactor(b"k" * 32)
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db"},
        "data": {"password": "aHVudGVyMg=="},
    }
    recorded = redactor.redact(secret)
    assert recorded is not None and recorded["data"]["password"].startswith("redacted:")
    same, unmatched = redactor.restore(recorded, secret)
    assert same == secret and unmatched == []
    changed = {**secret, "data": {"password": "b3RoZXI="}}
    kept, unmatched = redactor.restore(recorded, changed)
    assert unmatched == ["/data/password"] and kept["data"]["password"] == recorded["data"]["password"]
    env = {"kind": "Deployment", "spec": {"containers": [{"env": [{"name": "API_TOKEN", "value": "t0k"}]}]}}
    shown = redactor.redact(env)
    assert shown is not None
    assert redactor.restore(shown, env) == (env, [])
    assert redactor.restore(shown, {"kind": "Deployment"})[1] == ["/spec/containers/0/env/0/value"]


def test_a_hold_is_not_a_pause_in_the_app_status() -> None:
    from plumbline.controller._status import pause_of

    assert pause_of(AppState(app="shop", state=AppStateKind.HELD, reason="verification failed (...)")) is None
    paused = pause_of(AppState(app="shop", state=AppStateKind.PAUSED, reason="incident 42"))
    assert paused is not None and paused.reason == "incident 42"
