"""What the controller does with one app this pass: a pure function of what it knows.

:func:`decide` takes a :class:`Situation` — the mode in effect, the app's break-glass state, the
plan, the commit last synced, the self-heal and refusal memory and the time — and returns a
:class:`Decision`. It reads no cluster, no store and no clock; the scheduler (``_loop.py``) gathers
the situation, carries the decision out through the engine and hands what happened to the recorder.

The rules, in order (docs/controller.md has them as a table):

1. Paused and the pause ran out: it ends — ``paused-pending`` if there is drift, else ``active``.
2. Paused: write nothing. Pending: write nothing while drift remains; without drift, ``active``.
3. ``observe``: write nothing.
3a. The target is a commit a rollback left (failed) and not the one applied: write nothing (held) —
   it is never applied again by itself; the next new commit is.
4. A refusal (failed or blocked sync) is over once the synced commit is the target again; the same
   refusal (commit and drift unchanged) is retried only after its backoff.
5. A commit other than the last synced one (or an interrupted sync): sync it. Drift is reverted only
   from ``self-heal`` up; below that the write path refuses a plan that would revert a live edit.
6. Nothing differs: done, and self-heal's memory is forgotten.
7. ``prune`` and only prune candidates: prune them (drift is not touched).
8. Drift below ``self-heal``: report it, leave it.
9. ``self-heal``: a fight (the same drift back ``fight_limit`` times in ``fight_window_s``) stops
   healing until nothing differs; otherwise heal, then wait an exponential backoff before the next.

After a sync of a new commit the scheduler waits for health and runs the verification window;
:func:`respond` decides what follows from how they ended (docs/controller.md): nothing if Healthy and
verified (or nothing to verify), else the app's ``onFailure`` — ``report``, ``pause`` (break-glass,
reason "verification failed"), or ``rollback`` to the last good revision (a pause when there is none).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum

from plumbline.config import Mode, OnFailure, VerificationOutcome
from plumbline.plan import Plan
from plumbline.plan.drift import drift_of
from plumbline.store import AppState, AppStateKind, SyncResult


class Result(StrEnum):
    """What one reconcile pass did. The words the controller logs and ``--once`` prints."""

    IN_SYNC = "in-sync"
    OBSERVED = "observed"  # differences seen and reported, nothing written (mode or drift left alone)
    SYNCED = "synced"
    HEALED = "healed"
    PAUSED = AppStateKind.PAUSED.value
    PENDING = AppStateKind.PAUSED_PENDING.value
    NOT_HOLDER = "not-holder"  # another replica holds the app's lease
    BACKOFF = "backoff"
    FIGHT = "fight"
    BLOCKED = SyncResult.BLOCKED.value
    FAILED = SyncResult.FAILED.value
    ERROR = "error"
    HELD = AppStateKind.HELD.value  # the target is a commit a rollback left: not applied
    UNVERIFIED = "unverified"  # synced, but not Healthy or its verification did not pass (reported)
    ROLLED_BACK = "rolled-back"  # synced, verification failed, rolled back to the last good revision


class Step(StrEnum):
    """What the scheduler carries out."""

    REPORT = "report"  # write nothing; the pass result is the decision's
    SYNC = "sync"  # apply the target commit (a new one, or an interrupted sync's)
    PRUNE = "prune"  # delete the prune candidates at the synced commit
    HEAL = "heal"  # revert drift at the synced commit
    STOP_HEALING = "fight-stop"  # a fight was found just now: stop healing (and say so)


class PauseChange(StrEnum):
    """A break-glass transition to record before the step."""

    EXPIRE = "expire"  # the pause ran out: to paused-pending (drift) or active
    ACTIVATE = "activate"  # paused-pending and the drift is gone (captured): active


@dataclass(frozen=True)
class Rules:
    """The controller's tuning: fight detection and backoff."""

    fight_limit: int = 3
    fight_window_s: float = 600.0
    backoff_base_s: float = 2.0
    backoff_max_s: float = 300.0

    def backoff(self, tries: int) -> float:
        """Seconds to wait after the ``tries``-th attempt in a row: base, 2·base, 4·base, ... up to max."""
        return min(self.backoff_max_s, self.backoff_base_s * 2.0 ** (tries - 1))


@dataclass(frozen=True)
class HealMemory:
    """Self-heal's memory of one app: when it may heal next, its heals in a row, the recent heals of
    each drift (by its lines), and the drift it stopped fighting over."""

    next_at: float = 0.0
    streak: int = 0
    recent: dict[str, tuple[float, ...]] = field(default_factory=dict)
    fighting: str | None = None


@dataclass(frozen=True)
class Refusal:
    """The last failed or blocked sync of an app that was notified, and when it may be retried."""

    sha: str
    result: Result
    reason: str
    drift: tuple[str, ...]
    retry_at: float
    tries: int = 1


@dataclass(frozen=True)
class Situation:
    """What the scheduler knows of one app at ``now`` (monotonic seconds)."""

    mode: Mode
    state: AppState
    plan: Plan
    last_sha: str | None
    now: float
    pause_expired: bool = False
    interrupted: bool = False  # a sync of the app died mid-apply (closed as interrupted this pass)
    heal: HealMemory = field(default_factory=HealMemory)
    refused: Refusal | None = None
    failed: frozenset[str] = frozenset()  # the SHAs a rollback left (never applied again by itself)


@dataclass(frozen=True)
class Decision:
    step: Step
    result: Result  # the pass result for REPORT and STOP_HEALING; a sync's comes from its record
    drift: tuple[str, ...]
    state: AppStateKind  # the app's state once ``pause`` is carried out
    pause: PauseChange | None = None
    prune: bool = False  # the sync may delete what left Git
    revert: bool = False  # the sync may revert drift (consent to undo live edits)
    cause: str = ""  # why the sync runs, for its intent and the audit trail
    message: str = ""
    heal: HealMemory | None = field(default_factory=HealMemory)  # memory after the pass (None: forget)
    resolved: str = ""  # the last refusal is over, and how ("": it is not)

    @property
    def writes(self) -> bool:
        return self.step in (Step.SYNC, Step.PRUNE, Step.HEAL)


def decide(situation: Situation, rules: Rules) -> Decision:
    """The decision for one pass over one app (the rules in this module's docstring)."""
    s = situation
    plan, mode = s.plan, s.mode
    drift = tuple(drift_of(plan, last_sha=s.last_sha))
    state, pause = s.state.state, None
    if s.pause_expired and state is AppStateKind.PAUSED:
        state, pause = (AppStateKind.PAUSED_PENDING if drift else AppStateKind.ACTIVE), PauseChange.EXPIRE
    nothing = Decision(Step.REPORT, Result.IN_SYNC, drift, state, pause, heal=s.heal)

    if state is AppStateKind.PAUSED:
        return replace(
            nothing, result=Result.PAUSED, message=f"paused until {s.state.until}: {s.state.reason}"
        )
    if state is AppStateKind.PAUSED_PENDING:
        if drift:
            why = "drift made during the pause waits: `plumb capture` it, or resume --revert"
            return replace(nothing, result=Result.PENDING, message=why)
        nothing = replace(nothing, state=AppStateKind.ACTIVE, pause=PauseChange.ACTIVATE)
    if mode is Mode.OBSERVE:
        return replace(nothing, result=Result.OBSERVED if plan.has_changes else Result.IN_SYNC)

    if plan.sha in s.failed and plan.sha != s.last_sha:
        why = (
            f"not applying {plan.sha[:12]}: a rollback left it (failed); held at {(s.last_sha or '-')[:12]} "
            "until a new commit"
        )
        return replace(nothing, result=Result.HELD, message=why)
    new_commit = s.last_sha != plan.sha or s.interrupted
    refused = s.refused
    if refused is not None and not new_commit and refused.sha != plan.sha:
        nothing = replace(nothing, resolved="the synced commit is the target again")
    elif (
        refused is not None and (refused.sha, refused.drift) == (plan.sha, drift) and s.now < refused.retry_at
    ):
        why = f"still {refused.result.value}, retried later: {refused.reason}"
        return replace(nothing, result=refused.result, message=why)

    prune = mode.includes(Mode.PRUNE)
    if new_commit:
        # Applied even when nothing differs (Git caught up with live, e.g. a captured hotfix): the
        # apply makes plumbline the owner of those fields again and records the commit as synced.
        cause = f"new commit {plan.sha[:12]}" if s.last_sha != plan.sha else "prune what left Git"
        revert = mode.includes(Mode.SELF_HEAL)
        return replace(nothing, step=Step.SYNC, result=Result.SYNCED, prune=prune, revert=revert, cause=cause)
    if not plan.has_changes:
        return replace(nothing, heal=None)
    if prune and plan.prunable and not drift:
        return replace(
            nothing, step=Step.PRUNE, result=Result.SYNCED, prune=True, cause="prune what left Git"
        )
    if not mode.includes(Mode.SELF_HEAL) or not drift:
        return replace(
            nothing, result=Result.OBSERVED, message="live drift left alone (mode sync)" if drift else ""
        )
    return _self_heal(s, rules, replace(nothing, prune=prune))


def _self_heal(s: Situation, rules: Rules, nothing: Decision) -> Decision:
    heal, drift = s.heal, nothing.drift
    if heal.fighting is not None:
        return replace(
            nothing, result=Result.FIGHT, message=f"self-heal stopped: fighting over {heal.fighting}"
        )
    if s.now < heal.next_at:
        return replace(nothing, result=Result.BACKOFF, message=f"next heal in {heal.next_at - s.now:.0f}s")
    signature = "\n".join(drift)
    recent = tuple(t for t in heal.recent.get(signature, ()) if s.now - t <= rules.fight_window_s)
    if len(recent) >= rules.fight_limit:
        fighting = ", ".join(drift)
        return replace(
            nothing,
            step=Step.STOP_HEALING,
            result=Result.FIGHT,
            message=f"self-heal stopped: fighting over {fighting}",
            heal=replace(heal, recent={**heal.recent, signature: recent}, fighting=fighting),
            cause=f"the same drift came back {len(recent)} times in {rules.fight_window_s:.0f}s",
        )
    streak = heal.streak + 1
    memory = HealMemory(s.now + rules.backoff(streak), streak, {**heal.recent, signature: (*recent, s.now)})
    return replace(
        nothing,
        step=Step.HEAL,
        result=Result.HEALED,
        revert=True,
        cause="self-heal: revert live drift",
        heal=memory,
    )


def sync_result(decision: Decision, result: SyncResult) -> Result:
    """The pass result of a sync the decision asked for, from the write path's result."""
    if result is SyncResult.SUCCEEDED:
        return Result.HEALED if decision.step is Step.HEAL else Result.SYNCED
    return Result.BLOCKED if result is SyncResult.BLOCKED else Result.FAILED


def refusal(
    known: Refusal | None,
    *,
    sha: str,
    result: Result,
    reason: str,
    drift: tuple[str, ...],
    now: float,
    rules: Rules,
) -> tuple[Refusal, bool]:
    """Remember a failed or blocked sync: the memory after it, and True if it is a new refusal (not
    the one last notified: another commit, result or reason), which is notified. The same refusal is
    retried after a backoff that doubles with each try."""
    same = known is not None and (known.sha, known.result, known.reason) == (sha, result, reason)
    tries = known.tries + 1 if known is not None and same else 1
    return Refusal(sha, result, reason, drift, now + rules.backoff(tries), tries), not same


@dataclass(frozen=True)
class AfterSync:
    """What the scheduler saw after a sync of a new commit: the wait for health, then the window.

    ``health`` says how the wait ended, for people ("Degraded: Deployment/web: ..."); ``verification``
    is the window's outcome (None: no window configured, or not run because the app was not Healthy);
    ``reason`` the window's verdict; ``on_failure`` the configured response; ``good`` the SHA a
    rollback would go to (None: there is no good revision).
    """

    healthy: bool
    health: str
    verification: VerificationOutcome | None
    reason: str
    on_failure: OnFailure
    good: str | None


@dataclass(frozen=True)
class Response:
    """What to do after the sync: ``action`` None (it holds), else the response carried out; the
    pass result; why, for the audit trail, the pause and the notification."""

    action: OnFailure | None
    result: Result
    reason: str


VERIFICATION_FAILED = "verification failed"
"""The reason a failed verification's pause or rollback starts with (the issue's words)."""


def respond(after: AfterSync) -> Response:
    """The response to a sync that did not end Healthy and verified: the configured ``onFailure``;
    a rollback with no good revision to go to pauses instead (never leaves the app unguarded)."""
    if after.healthy and after.verification in (None, VerificationOutcome.PASSED):
        return Response(None, Result.SYNCED, "")
    why = f"{after.verification}: {after.reason}" if after.verification else f"not Healthy: {after.health}"
    reason = f"{VERIFICATION_FAILED} ({why})"
    if after.on_failure is OnFailure.ROLLBACK and after.good:
        return Response(
            OnFailure.ROLLBACK, Result.ROLLED_BACK, f"{reason}; rolling back to {after.good[:12]}"
        )
    if after.on_failure is OnFailure.ROLLBACK:
        return Response(OnFailure.PAUSE, Result.PAUSED, f"{reason}; no good revision to roll back to")
    if after.on_failure is OnFailure.PAUSE:
        return Response(OnFailure.PAUSE, Result.PAUSED, reason)
    return Response(OnFailure.REPORT, Result.UNVERIFIED, reason)
