"""The controller's decision rules as a table: situation in, decision out. No cluster, no store, no
clock — :func:`plumbline.controller.decide` is pure; the integration tests check that the scheduler
carries its decisions out against a real API server."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import pytest

from plumbline.config import Mode, OnFailure, VerificationOutcome
from plumbline.controller import Decision, Result, Rules, Situation, Step, decide
from plumbline.controller.decide import AfterSync, HealMemory, PauseChange, refusal, respond, sync_result
from plumbline.plan import Action, ObjectRef, Plan, PlanItem
from plumbline.plan.attribution import DRIFT, NEEDS_CONSENT, Attribution, FieldChange
from plumbline.store import AppState, AppStateKind, SyncResult

SYNCED, NEW = "c1" * 20, "c2" * 20  # the commit last synced, and a newer one
RULES = Rules(fight_limit=3, fight_window_s=600.0, backoff_base_s=2.0, backoff_max_s=300.0)
CM = ObjectRef(group="", kind="ConfigMap", namespace="shop", name="env")
GONE = ObjectRef(group="", kind="ConfigMap", namespace="shop", name="old")
UNTIL = datetime(2030, 1, 1, tzinfo=UTC)


def plan(sha: str, *attributions: Attribution, deleted_live: bool = False, prunable: bool = False) -> Plan:
    """A plan at ``sha`` whose ConfigMap has one changed field per attribution (none: unchanged)."""
    changes = [FieldChange(ref=CM, path=("data", a.value), attribution=a) for a in attributions]
    action = Action.CREATE if deleted_live else Action.UPDATE if changes else Action.UNCHANGED
    items = [PlanItem(CM, action, "cm.yaml", {}, None if deleted_live else {}, {}, "v1", changes=changes)]
    if prunable:
        prune = FieldChange(ref=GONE, path=(), attribution=Attribution.PRUNE)
        items.append(PlanItem(GONE, Action.PRUNE, "", None, {}, None, "v1", changes=[prune]))
    return Plan(app="shop", revision="main", sha=sha, namespace="shop", items=items)


CLEAN = plan(SYNCED)
EDITED = plan(SYNCED, Attribution.DRIFT_REVERT)
CONFLICTED = plan(SYNCED, Attribution.CONFLICT)
ADDED = plan(SYNCED, Attribution.UNMANAGED_ADDITION)
DELETED_LIVE = plan(SYNCED, deleted_live=True)
PRUNABLE = plan(SYNCED, prunable=True)
PRUNABLE_AND_EDITED = plan(SYNCED, Attribution.DRIFT_REVERT, prunable=True)
COMMIT = plan(NEW, Attribution.COMMIT)
COMMIT_AND_EDIT = plan(NEW, Attribution.COMMIT, Attribution.DRIFT_REVERT)
CAUGHT_UP = plan(NEW)  # a new commit whose content is what live has (e.g. a captured hotfix)
DRIFTED = (EDITED, CONFLICTED, ADDED, DELETED_LIVE, PRUNABLE_AND_EDITED, COMMIT_AND_EDIT)
PLANS = (CLEAN, PRUNABLE, COMMIT, CAUGHT_UP, *DRIFTED)

ACTIVE = AppState(app="shop")
PAUSED = AppState(app="shop", state=AppStateKind.PAUSED, reason="incident 42", until=UNTIL)
PENDING = AppState(app="shop", state=AppStateKind.PAUSED_PENDING)
HELD = AppState(app="shop", state=AppStateKind.HELD, detail={"revision": SYNCED, "failed": NEW})
BAD = frozenset({NEW})  # NEW was rolled back from: failed
NEXT = "c3" * 20  # the commit after it


def given(mode: Mode, p: Plan, state: AppState = ACTIVE, **more: object) -> Situation:
    return Situation(mode=mode, state=state, plan=p, last_sha=SYNCED, now=1000.0, **more)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Row:
    """One rule: the situation, and the decision's step, pass result, write options and transition."""

    name: str
    situation: Situation
    step: Step
    result: Result
    revert: bool = False
    prune: bool = False
    pause: PauseChange | None = None
    state: AppStateKind = AppStateKind.ACTIVE


W, SYNC, PRUNE, HEAL = Step.REPORT, Step.SYNC, Step.PRUNE, Step.HEAL  # W: writes nothing
EXPIRE, ACTIVATE = PauseChange.EXPIRE, PauseChange.ACTIVATE
IS_PAUSED, IS_PENDING, IS_HELD = AppStateKind.PAUSED, AppStateKind.PAUSED_PENDING, AppStateKind.HELD
TABLE = [
    # observe: never writes
    Row("observe, nothing differs", given(Mode.OBSERVE, CLEAN), W, Result.IN_SYNC),
    Row("observe, a new commit", given(Mode.OBSERVE, COMMIT), W, Result.OBSERVED),
    Row("observe, drift", given(Mode.OBSERVE, EDITED), W, Result.OBSERVED),
    Row("observe, prune candidates", given(Mode.OBSERVE, PRUNABLE), W, Result.OBSERVED),
    # sync: new commits applied, drift left alone (and not reverted by the commit's sync)
    Row("sync, nothing differs", given(Mode.SYNC, CLEAN), W, Result.IN_SYNC),
    Row("sync, a new commit", given(Mode.SYNC, COMMIT), SYNC, Result.SYNCED),
    Row("sync, a new commit over drift", given(Mode.SYNC, COMMIT_AND_EDIT), SYNC, Result.SYNCED),
    Row("sync, a new commit live already has", given(Mode.SYNC, CAUGHT_UP), SYNC, Result.SYNCED),
    Row("sync, first sync", replace(given(Mode.SYNC, COMMIT), last_sha=None), SYNC, Result.SYNCED),
    Row("sync, an edited field", given(Mode.SYNC, EDITED), W, Result.OBSERVED),
    Row("sync, a conflict", given(Mode.SYNC, CONFLICTED), W, Result.OBSERVED),
    Row("sync, an unmanaged addition", given(Mode.SYNC, ADDED), W, Result.OBSERVED),
    Row("sync, an object deleted live", given(Mode.SYNC, DELETED_LIVE), W, Result.OBSERVED),
    Row("sync, prune candidates", given(Mode.SYNC, PRUNABLE), W, Result.OBSERVED),
    Row(
        "sync, interrupted at the synced commit",
        given(Mode.SYNC, EDITED, interrupted=True),
        SYNC,
        Result.SYNCED,
    ),
    # self-heal: drift at the synced commit reverted; a new commit's sync reverts drift too
    Row("self-heal, an edited field", given(Mode.SELF_HEAL, EDITED), HEAL, Result.HEALED, revert=True),
    Row("self-heal, a conflict", given(Mode.SELF_HEAL, CONFLICTED), HEAL, Result.HEALED, revert=True),
    Row("self-heal, an addition", given(Mode.SELF_HEAL, ADDED), HEAL, Result.HEALED, revert=True),
    Row("self-heal, deleted live", given(Mode.SELF_HEAL, DELETED_LIVE), HEAL, Result.HEALED, revert=True),
    Row("self-heal, commit over drift", given(Mode.SELF_HEAL, COMMIT_AND_EDIT), SYNC, Result.SYNCED, True),
    Row("self-heal, prune candidates", given(Mode.SELF_HEAL, PRUNABLE), W, Result.OBSERVED),
    # prune: syncs delete what left Git; prune candidates alone are pruned without touching drift
    Row("prune, prune candidates", given(Mode.PRUNE, PRUNABLE), PRUNE, Result.SYNCED, prune=True),
    Row("prune, a new commit", given(Mode.PRUNE, COMMIT), SYNC, Result.SYNCED, revert=True, prune=True),
    Row(
        "prune, candidates and drift",
        given(Mode.PRUNE, PRUNABLE_AND_EDITED),
        HEAL,
        Result.HEALED,
        revert=True,
        prune=True,
    ),
    # paused: nothing written, whatever the mode
    *(
        Row(f"{mode} paused, {p.sha[:2]}", given(mode, p, PAUSED), W, Result.PAUSED, state=IS_PAUSED)
        for mode in Mode
        for p in (EDITED, COMMIT_AND_EDIT, PRUNABLE)
    ),
    # a pause that ran out: pending with drift, else active and on to the mode's rule
    Row(
        "expired, drift",
        given(Mode.PRUNE, EDITED, PAUSED, pause_expired=True),
        W,
        Result.PENDING,
        pause=EXPIRE,
        state=IS_PENDING,
    ),
    Row(
        "expired, no drift, a new commit",
        given(Mode.SYNC, COMMIT, PAUSED, pause_expired=True),
        SYNC,
        Result.SYNCED,
        pause=EXPIRE,
    ),
    Row(
        "expired, no drift, observe",
        given(Mode.OBSERVE, CLEAN, PAUSED, pause_expired=True),
        W,
        Result.IN_SYNC,
        pause=EXPIRE,
    ),
    # pending: waits while drift remains; once it is gone (captured), active again
    Row(
        "pending, drift remains", given(Mode.SELF_HEAL, EDITED, PENDING), W, Result.PENDING, state=IS_PENDING
    ),
    Row(
        "pending, captured in a new commit",
        given(Mode.SYNC, CAUGHT_UP, PENDING),
        SYNC,
        Result.SYNCED,
        pause=ACTIVATE,
    ),
    Row("pending, drift gone", given(Mode.SELF_HEAL, CLEAN, PENDING), W, Result.IN_SYNC, pause=ACTIVATE),
    # a commit a rollback left (failed): never applied again by itself, whatever the mode; the next is
    *(
        Row(f"{mode}, a failed commit", given(mode, p, HELD, failed=BAD), W, Result.HELD, state=IS_HELD)
        for mode in (Mode.SYNC, Mode.SELF_HEAL, Mode.PRUNE)
        for p in (COMMIT, COMMIT_AND_EDIT, plan(NEW, Attribution.COMMIT, prunable=True))
    ),
    Row(
        "a failed commit, interrupted",
        given(Mode.SYNC, COMMIT, HELD, failed=BAD, interrupted=True),
        W,
        Result.HELD,
        state=IS_HELD,
    ),
    Row(
        "observe, a failed commit",
        given(Mode.OBSERVE, COMMIT, HELD, failed=BAD),
        W,
        Result.OBSERVED,
        state=IS_HELD,
    ),
    Row(
        "paused over a hold", given(Mode.SYNC, COMMIT, PAUSED, failed=BAD), W, Result.PAUSED, state=IS_PAUSED
    ),
    Row(
        "held, the next commit",
        given(Mode.SYNC, plan(NEXT, Attribution.COMMIT), HELD, failed=BAD),
        SYNC,
        Result.SYNCED,
        state=IS_HELD,
    ),
    Row(
        "the failed commit is the one applied (rollback blocked)",
        replace(given(Mode.SELF_HEAL, EDITED, failed=frozenset({SYNCED}))),
        HEAL,
        Result.HEALED,
        revert=True,
    ),
]


@pytest.mark.parametrize("row", TABLE, ids=[row.name for row in TABLE])
def test_the_decision_table(row: Row) -> None:
    decision = decide(row.situation, RULES)
    got = (decision.step, decision.result, decision.revert, decision.prune, decision.pause, decision.state)
    assert got == (row.step, row.result, row.revert, row.prune, row.pause, row.state)
    assert decision.writes is (row.step is not Step.REPORT)


def test_no_decision_below_self_heal_reverts_a_live_edit() -> None:
    """Consent: only self-heal and prune may undo a live edit; in every other mode, state and plan the
    decision never passes ``revert`` to the write path and never heals."""
    reverted = []
    for mode, p, state, interrupted in itertools.product(
        Mode, PLANS, (ACTIVE, PAUSED, PENDING), (False, True)
    ):
        for expired in (False, True):
            d = decide(given(mode, p, state, interrupted=interrupted, pause_expired=expired), RULES)
            if d.revert or d.step is Step.HEAL:
                assert mode.includes(Mode.SELF_HEAL), (mode, p.sha, p.changes, state.state, d)
                reverted.append(d)
    assert reverted  # the rule is live: self-heal does revert


def test_drift_is_what_live_moved_and_a_commit_is_not() -> None:
    assert {a.value for a in DRIFT} == {"drift-revert", "conflict", "unmanaged-addition"}
    assert NEEDS_CONSENT < DRIFT
    assert decide(given(Mode.SYNC, COMMIT), RULES).drift == ()
    assert decide(given(Mode.SYNC, PRUNABLE), RULES).drift == ()
    lines = decide(given(Mode.SYNC, COMMIT_AND_EDIT), RULES).drift
    assert lines == ("ConfigMap shop/env /data/drift-revert (drift-revert)",)
    assert decide(given(Mode.SYNC, DELETED_LIVE), RULES).drift == ("ConfigMap shop/env (create)",)
    message = decide(given(Mode.SYNC, EDITED), RULES).message
    assert message == "live drift left alone (mode sync)"


def heal_at(now: float, memory: HealMemory, p: Plan = EDITED, rules: Rules = RULES) -> Decision:
    return decide(replace(given(Mode.SELF_HEAL, p), now=now, heal=memory), rules)


def test_self_heal_backs_off_exponentially_up_to_the_maximum() -> None:
    first = heal_at(1000.0, HealMemory())
    assert first.step is Step.HEAL and first.heal is not None and first.heal.next_at == 1002.0
    waiting = heal_at(1001.0, first.heal)
    assert (waiting.step, waiting.result, waiting.message) == (Step.REPORT, Result.BACKOFF, "next heal in 1s")
    assert waiting.heal == first.heal
    second = heal_at(1002.0, first.heal)
    assert second.step is Step.HEAL and second.heal is not None
    assert (second.heal.streak, second.heal.next_at) == (2, 1006.0)
    assert [RULES.backoff(n) for n in (1, 2, 3, 9, 10)] == [2.0, 4.0, 8.0, 300.0, 300.0]


def test_the_same_drift_back_too_often_is_a_fight_that_stops_healing_until_nothing_differs() -> None:
    rules = replace(RULES, backoff_base_s=0.0)
    memory, now = HealMemory(), 1000.0
    for _ in range(rules.fight_limit):
        healed = heal_at(now, memory, rules=rules)
        assert healed.step is Step.HEAL and healed.heal is not None
        memory, now = healed.heal, now + 10
    stop = heal_at(now, memory, rules=rules)
    assert (stop.step, stop.result) == (Step.STOP_HEALING, Result.FIGHT) and not stop.writes
    assert (
        stop.heal is not None and stop.heal.fighting == "ConfigMap shop/env /data/drift-revert (drift-revert)"
    )
    assert stop.cause == "the same drift came back 3 times in 600s"
    still = heal_at(now + 3600, stop.heal, rules=rules)  # however long after: stopped, said once
    assert (still.step, still.result) == (Step.REPORT, Result.FIGHT)
    # Other drift does not count towards the fight, but healing stays stopped while anything differs.
    assert heal_at(now, stop.heal, CONFLICTED, rules=rules).result is Result.FIGHT
    gone = heal_at(now, stop.heal, CLEAN, rules=rules)
    assert gone.result is Result.IN_SYNC and gone.heal is None  # forgotten
    assert heal_at(now, HealMemory(), rules=rules).step is Step.HEAL


def test_heals_further_apart_than_the_window_are_no_fight() -> None:
    rules = replace(RULES, backoff_base_s=0.0)
    memory, now = HealMemory(), 1000.0
    for _ in range(rules.fight_limit * 3):
        healed = heal_at(now, memory, rules=rules)
        assert healed.step is Step.HEAL and healed.heal is not None
        memory, now = healed.heal, now + rules.fight_window_s / (rules.fight_limit - 1) + 1
    other = HealMemory()
    for p in (EDITED, CONFLICTED, ADDED, EDITED, CONFLICTED, ADDED):  # different drift each time
        healed = heal_at(now, other, p, rules=rules)
        assert healed.step is Step.HEAL and healed.heal is not None
        other = healed.heal


def test_a_refusal_is_retried_after_its_backoff_and_notified_once() -> None:
    known, new = refusal(
        None, sha=NEW, result=Result.BLOCKED, reason="guard", drift=(), now=1000.0, rules=RULES
    )
    assert new and known.retry_at == 1002.0
    again, new = refusal(
        known, sha=NEW, result=Result.BLOCKED, reason="guard", drift=(), now=1002.0, rules=RULES
    )
    assert not new and (again.tries, again.retry_at) == (2, 1006.0)
    other, new = refusal(
        again, sha=NEW, result=Result.FAILED, reason="500", drift=(), now=1003.0, rules=RULES
    )
    assert new and other.tries == 1

    blocked = given(Mode.SYNC, COMMIT, refused=again)
    waiting = decide(replace(blocked, now=1005.0), RULES)
    assert (waiting.step, waiting.result) == (Step.REPORT, Result.BLOCKED)
    assert waiting.message == "still blocked, retried later: guard"
    assert decide(replace(blocked, now=1006.0), RULES).step is Step.SYNC
    # Different drift under the same commit is a different situation: tried at once.
    moved = plan(NEW, Attribution.COMMIT, Attribution.DRIFT_REVERT)
    assert decide(replace(blocked, plan=moved, now=1005.0), RULES).step is Step.SYNC


def test_a_refusal_is_over_once_the_synced_commit_is_the_target_again() -> None:
    known, _ = refusal(
        None, sha=NEW, result=Result.BLOCKED, reason="guard", drift=(), now=1000.0, rules=RULES
    )
    back = decide(given(Mode.SYNC, CLEAN, refused=known), RULES)
    assert back.resolved == "the synced commit is the target again" and back.result is Result.IN_SYNC
    assert decide(given(Mode.SYNC, COMMIT, refused=known), RULES).resolved == ""


@pytest.mark.parametrize(
    ("step", "written", "result"),
    [
        (Step.SYNC, SyncResult.SUCCEEDED, Result.SYNCED),
        (Step.PRUNE, SyncResult.SUCCEEDED, Result.SYNCED),
        (Step.HEAL, SyncResult.SUCCEEDED, Result.HEALED),
        (Step.HEAL, SyncResult.BLOCKED, Result.BLOCKED),
        (Step.SYNC, SyncResult.FAILED, Result.FAILED),
    ],
)
def test_a_syncs_result_is_the_passes(step: Step, written: SyncResult, result: Result) -> None:
    decision = Decision(step, Result.SYNCED, (), AppStateKind.ACTIVE)
    assert sync_result(decision, written) is result


def test_a_failed_commit_is_said_held_at_the_synced_one() -> None:
    held = decide(given(Mode.SYNC, COMMIT, HELD, failed=BAD), RULES)
    assert (
        held.message
        == f"not applying {NEW[:12]}: a rollback left it (failed); held at {SYNCED[:12]} until a new commit"
    )


def after(
    healthy: bool = True,
    verification: VerificationOutcome | None = VerificationOutcome.PASSED,
    on_failure: OnFailure = OnFailure.ROLLBACK,
    good: str | None = SYNCED,
) -> AfterSync:
    return AfterSync(
        healthy=healthy,
        health="Healthy" if healthy else "Progressing: Deployment/web: 0 of 2 updated replicas available",
        verification=verification,
        reason="" if verification is VerificationOutcome.PASSED else "error-ratio 0.4 > 0.05",
        on_failure=on_failure,
        good=good,
    )


FAILED, INCONCLUSIVE = VerificationOutcome.FAILED, VerificationOutcome.INCONCLUSIVE
REPORT, PAUSE, ROLLBACK = OnFailure.REPORT, OnFailure.PAUSE, OnFailure.ROLLBACK
RESPONSES = [
    # (what was seen after the sync, the action, the pass result)
    ("Healthy, verified", after(), None, Result.SYNCED),
    ("Healthy, no window", after(verification=None), None, Result.SYNCED),
    ("Healthy, no window, report", after(verification=None, on_failure=REPORT), None, Result.SYNCED),
    *(
        (f"{seen}, {action}", after(**kw, on_failure=action), done, result)
        for seen, kw in (
            ("Failed", {"verification": FAILED}),
            ("Inconclusive", {"verification": INCONCLUSIVE}),
            ("not Healthy", {"healthy": False, "verification": None}),
        )
        for action, done, result in (
            (REPORT, REPORT, Result.UNVERIFIED),
            (PAUSE, PAUSE, Result.PAUSED),
            (ROLLBACK, ROLLBACK, Result.ROLLED_BACK),
        )
    ),
    ("Failed, rollback, nothing good to go to", after(verification=FAILED, good=None), PAUSE, Result.PAUSED),
]


@pytest.mark.parametrize(("name", "seen", "action", "result"), RESPONSES, ids=[r[0] for r in RESPONSES])
def test_the_response_after_a_sync(
    name: str, seen: AfterSync, action: OnFailure | None, result: Result
) -> None:
    response = respond(seen)
    assert (response.action, response.result) == (action, result)
    assert (response.reason == "") is (action is None)
    if action is not None:
        assert response.reason.startswith("verification failed (")


def test_the_response_says_why_and_where_to() -> None:
    assert respond(after(verification=FAILED)).reason == (
        f"verification failed (Failed: error-ratio 0.4 > 0.05); rolling back to {SYNCED[:12]}"
    )
    assert respond(after(healthy=False, verification=None, on_failure=PAUSE)).reason == (
        "verification failed (not Healthy: Progressing: Deployment/web: 0 of 2 updated replicas available)"
    )
    assert respond(after(verification=INCONCLUSIVE, good=None)).reason.endswith(
        "; no good revision to roll back to"
    )


def test_controller_once_exits_1_for_a_release_not_verified_and_0_for_a_hold() -> None:
    from plumbline.cli.controller import once_exit_code
    from plumbline.controller import Outcome

    def passes(*results: Result) -> int:
        return once_exit_code(
            [Outcome(app="shop", mode=Mode.SYNC, state=AppStateKind.ACTIVE, result=r) for r in results]
        )

    assert passes(Result.SYNCED, Result.HELD) == 0  # a hold is the rollback working, not a failure
    assert passes(Result.SYNCED, Result.ROLLED_BACK) == 1
    assert passes(Result.UNVERIFIED) == 1
    assert passes(Result.ROLLED_BACK, Result.FAILED) == 2
