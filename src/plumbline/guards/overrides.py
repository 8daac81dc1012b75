"""Overrides: a blocking finding passes only when someone names it, with a reason that is recorded.

Three ways to name one, all ``GUARD`` and ``KIND/NAME`` (the finding's ``subject``):

* on the command line: ``--allow destructive:StatefulSet/db --reason "db moved to the new cluster"``
  (this sync only);
* in the revision's commit message, as a trailer: ``Plumb-Allow: destructive StatefulSet/db``
  (the reason recorded is the commit's: who wrote it is in Git; this commit only);
* a standing ``kind: GuardException`` in plumbline's configuration, with a reason, an owner and an
  expiry, optionally narrowed to a namespace and a field (every sync until it expires; an expired one
  no longer applies and the block it covered says so).

No wildcards: an override names exactly the finding it lets through.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from plumbline.config import GuardException
from plumbline.errors import PlumbError
from plumbline.guards._model import TRAILER, Finding

# The subject runs to the end of the line: a file's path may hold a space (File/docs/run book.md).
_TRAILER_LINE = re.compile(rf"^{TRAILER}:[ \t]*(\S+?)(?::|[ \t]+)(\S[^\n]*?)[ \t]*$", re.I | re.M)


class OverrideError(PlumbError):
    """An ``--allow`` that cannot be understood or has no reason."""


@dataclass(frozen=True)
class Allow:
    """A named override: ``guard`` and ``subject`` (``Kind/name``), with why and where it came from.

    A standing exception (``via`` ``exception``) may narrow it to a ``namespace`` and a ``field``, and
    carries its ``name``, ``owner`` and ``expires``.
    """

    guard: str
    subject: str
    reason: str
    via: str = "--allow"  # or "trailer", or "exception"
    namespace: str | None = None
    field: str | None = None
    name: str | None = None
    owner: str | None = None
    expires: datetime | None = None

    def matches(self, finding: Finding) -> bool:
        kind, _, name = self.subject.partition("/")
        f_kind, _, f_name = finding.subject.partition("/")
        if self.namespace is not None and (finding.ref is None or finding.ref.namespace != self.namespace):
            return False
        if self.field is not None and finding.field != self.field:
            return False
        return self.guard == finding.guard and kind.lower() == f_kind.lower() and name == f_name

    def to_dict(self) -> dict[str, Any]:
        """What history and reports record of it (exceptions: with their name, owner and expiry)."""
        data: dict[str, Any] = {"reason": self.reason, "via": self.via}
        if self.via == EXCEPTION:
            expires = self.expires.isoformat() if self.expires else None
            data.update(exception=self.name, owner=self.owner, expires=expires)
        return data


EXCEPTION = "exception"


def exception_allow(exception: GuardException) -> Allow:
    """The override a ``GuardException`` stands for (whether or not it has expired)."""
    spec = exception.spec
    return Allow(
        guard=spec.guard,
        subject=spec.target.subject,
        reason=spec.reason,
        via=EXCEPTION,
        namespace=spec.target.namespace,
        field=spec.target.field,
        name=exception.name,
        owner=spec.owner,
        expires=spec.expires,
    )


@dataclass(frozen=True)
class Overridden:
    """A blocking finding let through, and the override that did it: what history records."""

    finding: Finding
    allow: Allow

    def to_dict(self) -> dict[str, Any]:
        return {**self.finding.to_dict(), **self.allow.to_dict()}


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


@dataclass(frozen=True)
class ExceptionUse:
    """One of an app's standing exceptions at one check: active or expired, and the blocking findings
    it matches (let through if active; blocking again, and saying so, if expired)."""

    exception: GuardException
    expired: bool
    covers: tuple[Finding, ...] = ()

    @property
    def state(self) -> str:
        return "expired" if self.expired else "active"

    def to_dict(self) -> dict[str, Any]:
        spec = self.exception.spec
        return {
            "name": self.exception.name,
            "app": spec.app,
            "guard": spec.guard,
            "target": spec.target.model_dump(exclude_none=True),
            "reason": spec.reason,
            "owner": spec.owner,
            "expires": spec.expires.isoformat(),
            "state": self.state,
            "covers": [{"subject": f.subject, "field": f.field} for f in self.covers],
        }

    def __str__(self) -> str:
        spec = self.exception.spec
        target = spec.target.subject + (f" {spec.target.field}" if spec.target.field else "")
        covers = f"covers {len(self.covers)} finding(s)" if self.covers else "covers nothing now"
        return (
            f"{self.state} {self.exception.name}: {spec.guard} {target}, owner {spec.owner}, "
            f"expires {spec.expires.date().isoformat()}; {covers} — {spec.reason}"
        )
