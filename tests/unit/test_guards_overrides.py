"""Overrides: only a finding named exactly (by --allow with a reason, or a commit trailer) passes."""

from __future__ import annotations

import pytest

from plumbline.guards import (
    Finding,
    GuardName,
    OverrideError,
    Severity,
    apply_overrides,
    parse_allow,
    trailers,
)
from plumbline.plan import ObjectRef

DB = Finding(
    GuardName.DESTRUCTIVE, Severity.BLOCK, ObjectRef("apps", "StatefulSet", "shop", "db"), None, "why", "fix"
)
CACHE = Finding(
    GuardName.DESTRUCTIVE, Severity.BLOCK, ObjectRef("apps", "StatefulSet", "shop", "cache"), None, "w", "f"
)
WARN = Finding(GuardName.POLICY, Severity.WARN, None, None, "w", "f")


def test_allow_names_one_finding_and_needs_a_reason() -> None:
    allow = parse_allow("destructive:StatefulSet/db", reason="moving the database")
    remaining, overridden = apply_overrides([DB, CACHE, WARN], [allow], [])
    assert remaining == [CACHE]
    assert [(o.finding, o.allow.reason) for o in overridden] == [(DB, "moving the database")]
    assert overridden[0].to_dict()["via"] == "--allow"
    with pytest.raises(OverrideError, match="--reason"):
        parse_allow("destructive:StatefulSet/db", reason=" ")
    with pytest.raises(OverrideError, match="GUARD:KIND/NAME"):
        parse_allow("destructive", reason="x")


def test_commit_trailer() -> None:
    message = (
        "db: move to the new cluster\n\nPlumb-Allow: destructive StatefulSet/db\nSigned-off-by: a <a@b>\n"
    )
    found = trailers(message, sha="abcdef1234567890")
    assert [(a.guard, a.subject, a.via) for a in found] == [("destructive", "StatefulSet/db", "trailer")]
    remaining, overridden = apply_overrides([DB, CACHE], [], found)
    assert remaining == [CACHE] and overridden[0].allow.reason == "commit trailer in abcdef123456"


def test_no_wildcards() -> None:
    remaining, _ = apply_overrides([DB], [parse_allow("destructive:StatefulSet/*", reason="all")], [])
    assert remaining == [DB]
