"""What a verification window measures and how it ended: plain data, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from plumbline.config import HEALTH_CHECK, OnFailure, VerificationOutcome

HEALTH = HEALTH_CHECK
"""The name the app's health goes by among a window's measurements (a check may not take it)."""


class Phase(StrEnum):
    """How one measurement came out (Argo Rollouts' measurement phases, without Inconclusive).

    * ``Successful`` — the app was Healthy (or Suspended); the check's value did not meet ``failWhen``.
    * ``Failed`` — the app was not Healthy; some series met ``failWhen``.
    * ``Error`` — nobody knows: the query errored or returned no series; the app's health was Unknown.
    """

    SUCCESSFUL = "Successful"
    FAILED = "Failed"
    ERROR = "Error"


@dataclass(frozen=True)
class Measurement:
    """One measurement of one check (or of the app's health, named :data:`HEALTH`) ``at`` seconds
    into the window. ``value``: the check's deciding value (the first failing series', else the
    first series'); None for health and errors. ``message`` says what was seen, for people."""

    check: str
    at: float
    phase: Phase
    message: str
    value: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "atSeconds": round(self.at, 1),
            "phase": self.phase.value,
            "value": self.value,
            "message": self.message,
        }


@dataclass(frozen=True)
class CheckSummary:
    """One check's measurements over the window, counted."""

    check: str
    measurements: int
    failures: int
    errors: int
    last: Measurement | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "measurements": self.measurements,
            "failures": self.failures,
            "errors": self.errors,
            "lastPhase": self.last.phase.value if self.last else None,
            "lastValue": self.last.value if self.last else None,
            "lastMessage": self.last.message if self.last else "",
        }


@dataclass(frozen=True)
class Verification:
    """How a verification window ended.

    ``outcome`` Passed, Failed or Inconclusive; for the last two ``check`` names what decided it
    (:data:`HEALTH` or a check's name) and ``reason`` says why, for people. ``measurements`` are all
    of them in the order taken; ``on_failure`` is the response the configuration asks for when the
    outcome is not Passed (carrying it out is the caller's: the controller, ``plumb sync``).
    """

    outcome: VerificationOutcome
    reason: str
    check: str | None
    measurements: tuple[Measurement, ...]
    window_s: float
    elapsed_s: float
    on_failure: OnFailure

    @property
    def passed(self) -> bool:
        return self.outcome is VerificationOutcome.PASSED

    def summaries(self) -> list[CheckSummary]:
        """Each check's (health first) counts, in the order they were first measured."""
        names = list(dict.fromkeys(m.check for m in self.measurements))
        out = []
        for name in names:
            taken = [m for m in self.measurements if m.check == name]
            out.append(
                CheckSummary(
                    check=name,
                    measurements=len(taken),
                    failures=sum(m.phase is Phase.FAILED for m in taken),
                    errors=sum(m.phase is Phase.ERROR for m in taken),
                    last=taken[-1],
                )
            )
        return out

    def to_dict(self, *, measurements: bool = True) -> dict[str, Any]:
        """The ``verification`` key of ``plumb sync --wait -o json``; without ``measurements`` (the
        audit record's summary) only each check's counts, whatever the window's length."""
        body: dict[str, Any] = {
            "outcome": self.outcome.value,
            "passed": self.passed,
            "check": self.check,
            "reason": self.reason,
            "onFailure": self.on_failure.value,
            "windowSeconds": round(self.window_s, 1),
            "elapsedSeconds": round(self.elapsed_s, 1),
            "checks": [s.to_dict() for s in self.summaries()],
        }
        if measurements:
            body["measurements"] = [m.to_dict() for m in self.measurements]
        return body
