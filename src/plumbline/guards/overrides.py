"""Overrides: a blocking finding passes only when someone names it, with a reason that is recorded.

Two ways to name one, both ``GUARD`` and ``KIND/NAME`` (the finding's ``subject``):

* on the command line: ``--allow destructive:StatefulSet/db --reason "db moved to the new cluster"``;
* in the revision's commit message, as a trailer: ``Plumb-Allow: destructive StatefulSet/db``
  (the reason recorded is the commit's: who wrote it is in Git).

No wildcards: an override names exactly the finding it lets through.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from plumbline.errors import PlumbError
from plumbline.guards._model import Finding

TRAILER = "Plumb-Allow"
_TRAILER_LINE = re.compile(rf"^{TRAILER}:\s*(\S+?)(?::|\s+)(\S+)\s*$", re.I | re.M)


class OverrideError(PlumbError):
    """An ``--allow`` that cannot be understood or has no reason."""


@dataclass(frozen=True)
class Allow:
    """A named override: ``guard`` and ``subject`` (``Kind/name``), with why and where it came from."""

    guard: str
    subject: str
    reason: str
    via: str = "--allow"  # or "trailer"

    def matches(self, finding: Finding) -> bool:
        kind, _, name = self.subject.partition("/")
        f_kind, _, f_name = finding.subject.partition("/")
        return self.guard == finding.guard and kind.lower() == f_kind.lower() and name == f_name


@dataclass(frozen=True)
class Overridden:
    """A blocking finding let through, and the override that did it: what history records."""

    finding: Finding
    allow: Allow

    def to_dict(self) -> dict[str, str]:
        return {**self.finding.to_dict(), "reason": self.allow.reason, "via": self.allow.via}


def parse_allow(text: str, *, reason: str | None) -> Allow:
    """``GUARD:KIND/NAME`` from ``--allow``; ``reason`` is required (``--reason``)."""
    guard, sep, subject = text.partition(":")
    if not sep or not guard or "/" not in subject or subject.startswith("/") or subject.endswith("/"):
        raise OverrideError(
            f"--allow {text!r}: expected GUARD:KIND/NAME as the finding prints it, "
            "e.g. destructive:StatefulSet/db"
        )
    if not reason or not reason.strip():
        raise OverrideError(f"--allow {text}: an override needs --reason TEXT; it is recorded in history")
    return Allow(guard=guard, subject=subject, reason=reason.strip())


def trailers(message: str, *, sha: str = "") -> list[Allow]:
    """The ``Plumb-Allow: GUARD KIND/NAME`` trailers of a commit message."""
    reason = f"commit trailer in {sha[:12]}" if sha else "commit trailer"
    return [
        Allow(guard=m.group(1), subject=m.group(2), reason=reason, via="trailer")
        for m in _TRAILER_LINE.finditer(message)
        if "/" in m.group(2)
    ]


def apply_overrides(
    findings: list[Finding], allows: list[Allow], trailers: list[Allow]
) -> tuple[list[Finding], list[Overridden]]:
    """Split the blocking findings into (still blocking, overridden). Warnings are in neither list."""
    remaining: list[Finding] = []
    overridden: list[Overridden] = []
    for finding in findings:
        if not finding.blocks:
            continue
        allow = next((a for a in [*allows, *trailers] if a.matches(finding)), None)
        if allow is None:
            remaining.append(finding)
        else:
            overridden.append(Overridden(finding=finding, allow=allow))
    return remaining, overridden
