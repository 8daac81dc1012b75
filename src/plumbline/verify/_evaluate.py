"""The pure core of a verification window: measurements in, the outcome out (Argo Rollouts'
AnalysisRun rules), tested without a cluster or a Prometheus (tests/unit/test_verify.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from plumbline.config import HealthStatus, MetricCheck, OnFailure, VerificationOutcome
from plumbline.health import Health
from plumbline.verify._model import HEALTH, Measurement, Phase, Verification
from plumbline.verify._prometheus import QueryError, Sample

HEALTH_ERROR_LIMIT = 4
"""Unknown health (a LIST the API server refused, a status that cannot be read) this many times in
a row is tolerated, as a check's default ``consecutiveErrorLimit``; one more is Inconclusive."""

_DONE = frozenset({HealthStatus.HEALTHY, HealthStatus.SUSPENDED})


def health_measurement(health: Health, at: float) -> Measurement:
    """The app's health as a measurement: Healthy or Suspended succeed, Unknown errors (nobody knows),
    anything else (Progressing, Missing, Degraded) fails — health must *stay* Healthy."""
    if health.status in _DONE:
        phase = Phase.SUCCESSFUL
    elif health.status is HealthStatus.UNKNOWN:
        phase = Phase.ERROR
    else:
        phase = Phase.FAILED
    message = f"{health.status}: {health.message}" if health.message else str(health.status)
    return Measurement(check=HEALTH, at=at, phase=phase, message=message)


def check_measurement(check: MetricCheck, answer: Sequence[Sample] | QueryError, at: float) -> Measurement:
    """One answer to ``check``'s query as a measurement: Failed when any series meets ``failWhen``
    (its value and labels named), Error when the query errored or returned no series, else
    Successful (the first series' value)."""
    op, threshold = check.fail_when.op, check.fail_when.threshold
    if isinstance(answer, QueryError):
        return Measurement(check=check.name, at=at, phase=Phase.ERROR, message=str(answer))
    if not answer:
        message = "the query returned no series (no data; '... or vector(0)' makes no data 0)"
        return Measurement(check=check.name, at=at, phase=Phase.ERROR, message=message)
    for sample in answer:
        if op.holds(sample.value, threshold):
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            where = f" {{{labels}}}" if labels else ""
            message = f"{sample.value:g}{where} {op} {threshold:g}"
            return Measurement(check.name, at, Phase.FAILED, message, value=sample.value)
    first = answer[0].value
    message = f"{first:g}, fails when {op} {threshold:g}"
    return Measurement(check.name, at, Phase.SUCCESSFUL, message, value=first)


@dataclass(frozen=True)
class _Limits:
    failures: int
    consecutive_errors: int


@dataclass
class VerificationWatch:
    """A window's measurements so far and the verdict they already force, if any.

    Argo Rollouts' rules, per check (the app's health is one more, allowing no failure and
    :data:`HEALTH_ERROR_LIMIT` errors in a row): more Failed measurements than ``failureLimit`` →
    **Failed**; more Error measurements *in a row* than ``consecutiveErrorLimit`` → **Inconclusive**
    (a Successful or Failed measurement resets the run). Either ends the window at once; a window that
    runs its length without either has **Passed** — unless some check (or health) was never once
    measured, every measurement an Error: **Inconclusive**. Failed is decided before Inconclusive
    when one round forces both.
    """

    checks: Sequence[MetricCheck]
    on_failure: OnFailure = OnFailure.REPORT
    measurements: list[Measurement] = field(default_factory=list)
    _failures: dict[str, int] = field(default_factory=dict)
    _errors_in_a_row: dict[str, int] = field(default_factory=dict)
    _decided: tuple[VerificationOutcome, str, str] | None = None

    def _limits(self, name: str) -> _Limits:
        for check in self.checks:
            if check.name == name:
                return _Limits(check.failure_limit, check.consecutive_error_limit)
        return _Limits(0, HEALTH_ERROR_LIMIT)

    def observe(self, round_: Sequence[Measurement]) -> None:
        """Record one round of measurements (taken at the same moment); decide if they force it."""
        failed: tuple[VerificationOutcome, str, str] | None = None
        inconclusive: tuple[VerificationOutcome, str, str] | None = None
        for m in round_:
            self.measurements.append(m)
            limits = self._limits(m.check)
            if m.phase is Phase.ERROR:
                self._errors_in_a_row[m.check] = self._errors_in_a_row.get(m.check, 0) + 1
            else:
                self._errors_in_a_row[m.check] = 0
            if m.phase is Phase.FAILED:
                self._failures[m.check] = self._failures.get(m.check, 0) + 1
            failures = self._failures.get(m.check, 0)
            errors = self._errors_in_a_row[m.check]
            if failed is None and failures > limits.failures:
                why = f"{m.check} failed {failures} time(s) (failure limit {limits.failures}): {m.message}"
                failed = (VerificationOutcome.FAILED, m.check, why)
            if inconclusive is None and errors > limits.consecutive_errors:
                why = (
                    f"{m.check} errored {errors} time(s) in a row (consecutive error limit "
                    f"{limits.consecutive_errors}): {m.message}"
                )
                inconclusive = (VerificationOutcome.INCONCLUSIVE, m.check, why)
        if self._decided is None:
            self._decided = failed or inconclusive

    def _never_measured(self) -> tuple[VerificationOutcome, str, str] | None:
        """A window that ends with no Successful or Failed measurement of some check has not shown
        that check holds: nobody knows (Inconclusive), whatever its error limit allowed along the way."""
        for name in dict.fromkeys(m.check for m in self.measurements):
            taken = [m for m in self.measurements if m.check == name]
            if all(m.phase is Phase.ERROR for m in taken):
                why = f"{name} was never measured in the window ({len(taken)} error(s)): {taken[-1].message}"
                return VerificationOutcome.INCONCLUSIVE, name, why
        return None

    @property
    def decided(self) -> bool:
        """Failed or Inconclusive already: measuring on would not change the verdict."""
        return self._decided is not None

    def result(self, *, window_s: float, elapsed_s: float) -> Verification:
        """The verdict: the forced one; else Inconclusive if some check (or health) was never once
        measured — every measurement an Error, fewer than its limit —; else Passed."""
        if self._decided is None:
            self._decided = self._never_measured()
        if self._decided is not None:
            outcome, check, reason = self._decided
            return Verification(
                outcome, reason, check, tuple(self.measurements), window_s, elapsed_s, self.on_failure
            )
        reason = f"healthy, and every check held, for {elapsed_s:.0f}s"
        return Verification(
            VerificationOutcome.PASSED,
            reason,
            None,
            tuple(self.measurements),
            window_s,
            elapsed_s,
            self.on_failure,
        )
