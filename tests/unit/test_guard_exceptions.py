"""Standing guard exceptions: kind GuardException in the configuration, scoped to one app, guard,
object and (optionally) namespace and field, with a reason, an owner and an expiry of at most a year."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from plumbline.config import (
    GUARD_NAMES,
    MAX_EXCEPTION_DAYS,
    GuardException,
    InvalidConfigError,
    load_config,
)
from plumbline.guards import GUARDS, Finding, GuardName, Severity, decide, parse_allow, run_guards
from plumbline.plan import ObjectRef
from tests.support.guards import context, deployment, plan_of, service

NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)
API = "plumbline.dev/v1alpha1"

APP = """\
apiVersion: plumbline.dev/v1alpha1
kind: App
metadata: {name: orders}
spec:
  source: {repoURL: ./repo, path: apps/orders}
  destination: {namespace: shop}
"""


def exception(name: str = "orders-tracing", **spec: Any) -> GuardException:
    body: dict[str, Any] = {
        "app": "orders",
        "guard": "references",
        "target": {"kind": "Deployment", "name": "orders"},
        "reason": "tracing is not installed in this cluster; the service runs without it",
        "owner": "team-orders",
        "expires": "2027-01-31",
        **spec,
    }
    return GuardException.model_validate(
        {"apiVersion": API, "kind": "GuardException", "metadata": {"name": name}, "spec": body},
        context={"now": NOW},
    )


def finding(guard: str, kind: str, name: str, field: str | None, namespace: str = "shop") -> Finding:
    ref = ObjectRef("apps" if kind == "Deployment" else "", kind, namespace, name)
    return Finding(GuardName(guard), Severity.BLOCK, ref, field, f"{guard} says no", "fix it")


ZIPKIN = finding("references", "Deployment", "orders", "spec.template.spec.containers[app].env[ZIPKIN]")
CACHE = finding("references", "Deployment", "orders", "spec.template.spec.containers[app].env[CACHE]")
SECRET = finding("secrets", "Deployment", "orders", "spec.template.spec.containers[app].env[DB_PASSWORD]")
OTHER = finding("references", "Deployment", "payments", "spec.template.spec.containers[app].env[ZIPKIN]")


def test_every_guard_can_be_named_and_no_other() -> None:
    assert set(GUARD_NAMES) == {guard.NAME for guard in GUARDS}


def test_an_exception_lets_through_only_its_guard_and_object() -> None:
    verdict = decide([ZIPKIN, CACHE, SECRET, OTHER], exceptions=[exception()], now=NOW)
    assert verdict.blocking == [SECRET, OTHER]
    assert [o.finding for o in verdict.overridden] == [ZIPKIN, CACHE]
    record = verdict.overridden[0].to_dict()
    assert record["via"] == "exception" and record["exception"] == "orders-tracing"
    assert record["owner"] == "team-orders" and record["expires"].startswith("2027-01-31")
    [use] = verdict.exceptions
    assert use.state == "active" and use.covers == (ZIPKIN, CACHE)


def test_a_field_narrows_it_to_that_field() -> None:
    narrow = exception(target={"kind": "Deployment", "name": "orders", "field": ZIPKIN.field})
    verdict = decide([ZIPKIN, CACHE], exceptions=[narrow], now=NOW)
    assert verdict.blocking == [CACHE]
    assert verdict.exceptions[0].to_dict()["covers"] == [
        {"subject": "Deployment/orders", "field": ZIPKIN.field}
    ]


def test_a_namespace_narrows_it_to_that_namespace() -> None:
    elsewhere = finding("references", "Deployment", "orders", ZIPKIN.field, namespace="shop-canary")
    scoped = exception(target={"kind": "Deployment", "name": "orders", "namespace": "shop"})
    verdict = decide([ZIPKIN, elsewhere], exceptions=[scoped], now=NOW)
    assert verdict.blocking == [elsewhere]


def test_a_whole_plan_finding_is_named_as_app() -> None:
    window = Finding(
        GuardName.ENVIRONMENT, Severity.BLOCK, None, None, "not from main", "fix", subject="App/orders"
    )
    allowed = exception(guard="environment", target={"kind": "App", "name": "orders"})
    assert decide([window], exceptions=[allowed], now=NOW).blocking == []


def test_warnings_are_not_covered_and_stay_warnings() -> None:
    warn = Finding(GuardName.REFERENCES, Severity.WARN, ZIPKIN.ref, ZIPKIN.field, "w", "f")
    verdict = decide([warn], exceptions=[exception()], now=NOW)
    assert verdict.findings == [warn] and verdict.blocking == [] and verdict.exceptions[0].covers == ()


def test_an_expired_exception_blocks_again_and_says_so() -> None:
    old = exception(expires="2026-11-18")  # midnight UTC that day: before NOW
    verdict = decide([ZIPKIN, SECRET], exceptions=[old], now=NOW)
    assert [f.subject for f in verdict.blocking] == ["Deployment/orders", "Deployment/orders"]
    [blocked, _] = verdict.blocking
    assert blocked.guard == "references"
    assert "standing exception 'orders-tracing' (owner team-orders) expired 2026-11-18" in blocked.message
    assert blocked in verdict.findings and ZIPKIN not in verdict.findings  # reported in every output
    [use] = verdict.exceptions
    assert use.state == "expired" and use.covers == (blocked,)
    assert verdict.blocked_by() == (
        "references Deployment/orders (exception orders-tracing expired 2026-11-18); "
        "secrets Deployment/orders"
    )
    assert decide([ZIPKIN], exceptions=[old], now=NOW - timedelta(days=1)).blocking == []


def test_an_allow_on_the_command_line_still_works_beside_exceptions() -> None:
    allow = parse_allow("secrets:Deployment/orders", reason="a test password, rotated")
    verdict = decide([ZIPKIN, SECRET], allows=[allow], exceptions=[exception()], now=NOW)
    assert verdict.blocking == [] and {o.allow.via for o in verdict.overridden} == {"--allow", "exception"}


def test_the_guards_findings_carry_the_field_an_exception_names() -> None:
    plan = plan_of(
        [
            deployment("orders", env={"CACHE_HOST": "cache-old", "QUEUE_HOST": "queue-old"}),
            service("cache"),
            service("queue"),
        ]
    )
    findings = run_guards(plan=plan, context=context(), only={"references"})
    assert {f.field for f in findings} == {
        "spec.template.spec.containers[app].env[CACHE_HOST]",
        "spec.template.spec.containers[app].env[QUEUE_HOST]",
    }
    narrow = exception(
        target={
            "kind": "Deployment",
            "name": "orders",
            "field": "spec.template.spec.containers[app].env[CACHE_HOST]",
        }
    )
    verdict = decide(findings, exceptions=[narrow], now=NOW)
    assert [f.field for f in verdict.blocking] == ["spec.template.spec.containers[app].env[QUEUE_HOST]"]


# --- configuration -----------------------------------------------------------------------------------


def write(tmp_path: Path, *docs: str) -> Path:
    path = tmp_path / "plumbline.yaml"
    path.write_text("---\n".join([APP, *docs]))
    return path


def document(
    *, app: str = "orders", guard: str = "secrets", expires: str | None = None, owner: str = "team-shop"
) -> str:
    """A GuardException after APP and ``---`` (7 lines): metadata.name on line 11, spec 12, spec.app 13,
    spec.guard 14, target 15-18, reason 19, owner 20, expires 21."""
    expires = expires or (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    return f"""apiVersion: plumbline.dev/v1alpha1
kind: GuardException
metadata:
  name: demo-password
spec:
  app: {app}
  guard: {guard}
  target:
    kind: Deployment
    name: catalogue-db
    field: spec.template.spec.containers[db].env[MYSQL_ROOT_PASSWORD]
  reason: the demo's MySQL password is a published placeholder
  owner: {owner}
  expires: "{expires}"
"""


def test_loads_from_the_configuration_with_the_app(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, document()))
    [loaded] = config.exceptions_for("orders")
    assert loaded.spec.guard == "secrets" and loaded.spec.expires.tzinfo is not None
    assert config.exceptions_for("payments") == []
    assert str(config.origin(loaded)) == f"{tmp_path / 'plumbline.yaml'}:11"


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(InvalidConfigError) as caught:
        load_config(write(tmp_path, text))
    return [str(p) for p in caught.value.problems]


def test_owner_reason_and_expiry_are_required(tmp_path: Path) -> None:
    text = document(owner="'  '").replace("  expires:", "  expiry:")
    text = text.replace("  reason: the demo's MySQL password is a published placeholder\n", "")
    found = problems(tmp_path, text)
    path = tmp_path / "plumbline.yaml"
    assert found == [
        f"{path}:12: GuardException/demo-password: spec.reason: field required",
        f"{path}:12: GuardException/demo-password: spec.expires: field required",
        f"{path}:19: GuardException/demo-password: spec.owner: must not be blank",
        f"{path}:20: GuardException/demo-password: spec.expiry: unknown field (did you mean 'expires'? "
        "known: app, guard, target, reason, owner, expires)",
    ]


def test_expiry_is_at_most_a_year_ahead_and_has_a_zone(tmp_path: Path) -> None:
    far = (datetime.now(UTC) + timedelta(days=MAX_EXCEPTION_DAYS + 2)).date().isoformat()
    [problem] = problems(tmp_path, document(expires=far))
    assert problem.startswith(
        f"{tmp_path / 'plumbline.yaml'}:21: GuardException/demo-password: spec.expires:"
    )
    assert f"at most {MAX_EXCEPTION_DAYS} days" in problem
    [problem] = problems(tmp_path, document(expires="2026-12-01T10:00:00"))
    assert "needs a time zone" in problem
    # An expired exception is valid configuration: it is reported, and lets nothing through.
    assert load_config(write(tmp_path, document(expires="2020-01-01"))).exceptions


def test_unknown_app_and_guard_are_named(tmp_path: Path) -> None:
    found = problems(tmp_path, document(app="ordres", guard="reference"))
    path = tmp_path / "plumbline.yaml"
    assert any(
        p.startswith(f"{path}:14: GuardException/demo-password: spec.guard: input should be") for p in found
    )
    assert (
        f"{path}:13: GuardException/demo-password: spec.app: unknown app 'ordres' "
        "(did you mean 'orders'? known: orders)" in found
    )
