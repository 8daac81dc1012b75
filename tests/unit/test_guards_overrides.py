"""Overrides: only a finding named exactly (by --allow with a reason, or a commit trailer) passes."""

from __future__ import annotations

import shlex

import pytest

from plumbline.guards import (
    Finding,
    GuardName,
    Overridden,
    OverrideError,
    Severity,
    apply_overrides,
    finding,
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


ABOUT = [ObjectRef("apps", "StatefulSet", "shop", "db"), "App/orders", "File/docs/run book.md"]


@pytest.mark.parametrize("about", ABOUT, ids=["object", "app", "file-with-a-space"])
def test_the_override_words_a_finding_prints_let_exactly_it_through(about: ObjectRef | str) -> None:
    # Every guard builds its findings with guards.finding: the words its fix prints are the override,
    # as a shell takes them (the secrets guard names files, and a file name may hold a space).
    found = finding(GuardName.DESTRUCTIVE, about, "why", "fix it", overridable=True)
    other = finding(GuardName.POLICY, about, "why", "fix it", overridable=True)
    hint = found.fix.removeprefix("fix it; override: ")
    words = shlex.split(hint.split(" (or a commit trailer")[0])
    assert words[0] == "--allow" and words[2:] == ["--reason", "TEXT"]
    trailer = hint.split("commit trailer '")[1].removesuffix("')")
    by_allow = parse_allow(words[1], reason="moving the database")
    assert apply_overrides([found, other], [by_allow], []) == ([other], [Overridden(found, by_allow)])
    by_trailer = trailers(f"a change\n\n{trailer}\n", sha="0" * 40)
    assert apply_overrides([found, other], [], by_trailer)[0] == [other]
    assert finding(GuardName.POLICY, about, "why", "fix it").fix == "fix it"  # not overridable: no words
