"""The verification window's pure core (plumbline.verify): rounds of measurements in, Passed, Failed
or Inconclusive out, by Argo Rollouts' failureLimit and consecutiveErrorLimit. The clock, the health
and Prometheus' answers are the test's; the loop and the rules are the real ones. Against a real
Prometheus and control plane: tests/integration/test_verify.py."""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast

import pytest

from plumbline import engine
from plumbline.cluster import Cluster
from plumbline.config import (
    Comparison,
    InvalidConfigError,
    VerificationOutcome,
    VerificationSpec,
    effective_verification,
    load_config,
)
from plumbline.errors import ApiUnreachable
from plumbline.health import Health, HealthStatus
from plumbline.plan import Action, ObjectRef, Plan, PlanItem
from plumbline.store import AuditAction, AuditOutcome
from plumbline.verify import (
    HEALTH,
    HEALTH_ERROR_LIMIT,
    Measurement,
    Phase,
    QueryError,
    Sample,
    Verification,
    query,
    run_window,
)
from tests.support.clock import Clock
from tests.support.config import app_yaml
from tests.support.json_keys import not_camel_case

PROM = "http://prometheus.test:9090"
ERRORS = 'sum(rate(http_requests_total{code=~"5.."}[1m])) / sum(rate(http_requests_total[1m]))'
HEALTHY = Health(HealthStatus.HEALTHY)


def spec(window: str = "30s", interval: str = "10s", **check: Any) -> VerificationSpec:
    """A window with one check ``errors``: fails when the error ratio is above 5 %."""
    one = {"name": "errors", "query": ERRORS, "failWhen": {"op": ">", "threshold": 0.05}, **check}
    return VerificationSpec.model_validate(
        {"window": window, "interval": interval, "prometheus": {"url": PROM}, "checks": [one]}
    )


Answer = Sequence[Sample] | QueryError


def ratio(value: float, **labels: str) -> list[Sample]:
    return [Sample(labels=labels, value=value)]


def run(
    settings: VerificationSpec,
    answers: Sequence[Answer],
    healths: Sequence[Health] | None = None,
) -> tuple[Verification, list[Sequence[Measurement]], Clock]:
    """Run the window with Prometheus answering ``answers`` in turn (and the app's health
    ``healths`` in turn, else Healthy); the rounds heard and the clock."""
    clock = Clock(100.0)
    given: Iterator[Answer] = iter(answers)
    health_given: Iterator[Health] = iter(healths or [])
    asked: list[tuple[str, str]] = []

    def ask(url: str, promql: str) -> Sequence[Sample]:
        asked.append((url, promql))
        answer = next(given)
        if isinstance(answer, QueryError):
            raise answer
        return answer

    rounds: list[Sequence[Measurement]] = []
    verification = run_window(
        settings,
        health=lambda: next(health_given, HEALTHY),
        ask=ask,
        on_round=rounds.append,
        clock=clock,
        sleep=clock.sleep,
    )
    assert set(asked) <= {(PROM, ERRORS)}
    return verification, rounds, clock


def test_a_window_that_holds_passes_after_measuring_at_its_start_every_interval_and_its_end() -> None:
    verification, rounds, clock = run(spec(), [ratio(0.01)] * 4)
    assert verification.outcome is VerificationOutcome.PASSED and verification.passed
    assert verification.check is None
    assert [r[0].at for r in rounds] == [0, 10, 20, 30]
    assert [[m.check for m in r] for r in rounds] == [[HEALTH, "errors"]] * 4
    assert clock.slept == [10, 10, 10]
    assert verification.elapsed_s == 30 and verification.window_s == 30
    assert rounds[1][1] == Measurement("errors", 10, Phase.SUCCESSFUL, "0.01, fails when > 0.05", 0.01)


def test_green_at_first_then_5xx_fails_the_window_at_once_naming_the_check_and_the_value() -> None:
    answers = [ratio(0.0), ratio(0.01), ratio(0.4, code="500")]
    verification, rounds, _ = run(spec(window="2m"), answers)
    assert verification.outcome is VerificationOutcome.FAILED and not verification.passed
    assert verification.check == "errors"
    assert len(rounds) == 3  # stopped: measuring on would not change the verdict
    assert verification.elapsed_s == 20
    assert verification.reason == "errors failed 1 time(s) (failure limit 0): 0.4 {code=500} > 0.05"


def test_the_failure_limit_allows_that_many_failed_measurements() -> None:
    bad, good = ratio(0.2), ratio(0.0)
    allowed, _, _ = run(spec(failureLimit=2), [bad, good, bad, good])
    assert allowed.outcome is VerificationOutcome.PASSED
    assert [s.failures for s in allowed.summaries()] == [0, 2]

    exceeded, rounds, _ = run(spec(window="1m", failureLimit=2), [bad, good, bad, bad])
    assert exceeded.outcome is VerificationOutcome.FAILED
    assert len(rounds) == 4 and "failed 3 time(s) (failure limit 2)" in exceeded.reason


def test_a_query_that_errors_more_often_in_a_row_than_its_limit_is_inconclusive() -> None:
    refused = QueryError("query 'sum((': bad_data: 1:6: parse error: unexpected end of input")
    verification, rounds, _ = run(spec(window="5m", consecutiveErrorLimit=2), [refused] * 3)
    assert verification.outcome is VerificationOutcome.INCONCLUSIVE
    assert verification.check == "errors"
    assert [r[1].phase for r in rounds] == [Phase.ERROR] * 3
    assert verification.reason.startswith("errors errored 3 time(s) in a row (consecutive error limit 2): ")
    assert "parse error" in verification.reason


def test_errors_that_are_not_in_a_row_do_not_add_up() -> None:
    down = QueryError("query: Prometheus at http://prometheus.test:9090 did not answer: refused")
    answers: list[Answer] = [down, down, ratio(0.0), down, down, ratio(0.0), down]
    verification, _, _ = run(spec(window="1m", consecutiveErrorLimit=2), answers)
    assert verification.outcome is VerificationOutcome.PASSED
    assert [(s.check, s.errors) for s in verification.summaries()] == [(HEALTH, 0), ("errors", 5)]


def test_no_series_is_an_error_not_a_pass() -> None:
    verification, rounds, _ = run(spec(window="10s", consecutiveErrorLimit=1), [[], []])
    assert verification.outcome is VerificationOutcome.INCONCLUSIVE
    assert "no series" in rounds[0][1].message


def test_any_series_meeting_fail_when_fails_the_measurement() -> None:
    two = [Sample({"pod": "web-a"}, 0.0), Sample({"pod": "web-b"}, 0.3)]
    verification, _, _ = run(spec(window="0"), [two])
    assert verification.outcome is VerificationOutcome.FAILED
    assert verification.reason.endswith("0.3 {pod=web-b} > 0.05")


def test_a_window_of_zero_with_checks_is_one_round() -> None:
    verification, rounds, clock = run(spec(window="0"), [ratio(0.0)])
    assert verification.passed and len(rounds) == 1 and clock.slept == []


def test_health_must_stay_healthy_for_the_window() -> None:
    crashing = Health(HealthStatus.DEGRADED, "Deployment/web: 1 of 3 Pods CrashLoopBackOff")
    verification, rounds, _ = run(spec(window="1m"), [ratio(0.0)] * 3, [HEALTHY, HEALTHY, crashing])
    assert verification.outcome is VerificationOutcome.FAILED and verification.check == HEALTH
    assert rounds[2][0].phase is Phase.FAILED
    assert verification.reason == (
        "health failed 1 time(s) (failure limit 0): Degraded: Deployment/web: 1 of 3 Pods CrashLoopBackOff"
    )


@pytest.mark.parametrize("status", [HealthStatus.PROGRESSING, HealthStatus.MISSING])
def test_leaving_healthy_in_any_way_fails(status: HealthStatus) -> None:
    verification, _, _ = run(spec(), [ratio(0.0)] * 2, [HEALTHY, Health(status, "Deployment/web")])
    assert verification.outcome is VerificationOutcome.FAILED and verification.check == HEALTH


def test_suspended_health_holds_and_unknown_health_is_an_error_not_a_failure() -> None:
    paused = Health(HealthStatus.SUSPENDED, "Deployment/web: paused")
    assert run(spec(), [ratio(0.0)] * 4, [paused] * 4)[0].passed
    unknown = Health(HealthStatus.UNKNOWN, "Deployment/web: could not read it: 503")
    flaky = [unknown] * HEALTH_ERROR_LIMIT + [HEALTHY]
    assert run(spec(window="50s"), [ratio(0.0)] * 6, flaky)[0].passed
    lost, _, _ = run(spec(window="1m"), [ratio(0.0)] * 7, [unknown] * 7)
    assert lost.outcome is VerificationOutcome.INCONCLUSIVE and lost.check == HEALTH


def test_a_round_that_forces_failed_and_inconclusive_is_failed() -> None:
    refused = QueryError("query: bad_data")
    crashing = Health(HealthStatus.DEGRADED, "crash")
    verification, _, _ = run(spec(consecutiveErrorLimit=0), [refused], [crashing])
    assert verification.outcome is VerificationOutcome.FAILED and verification.check == HEALTH


@pytest.mark.parametrize(
    ("op", "holds", "not_holds"),
    [(">", 2, 1), (">=", 1, 0.5), ("<", 0, 1), ("<=", 1, 2), ("==", 1, 2), ("!=", 2, 1)],
)
def test_fail_when_compares_the_value_with_the_threshold(op: str, holds: float, not_holds: float) -> None:
    assert Comparison(op).holds(holds, 1) and not Comparison(op).holds(not_holds, 1)
    assert Comparison(op).holds(math.nan, 1) is (op == "!=")


def test_json_is_camel_case_and_the_audit_speaks_the_outcome_words() -> None:
    verification, _, _ = run(spec(window="10s"), [ratio(0.0), ratio(0.9)])
    data = verification.to_dict()
    assert not_camel_case(data) == []
    assert data["outcome"] == "Failed" and data["onFailure"] == "report"
    assert [c["check"] for c in data["checks"]] == [HEALTH, "errors"]
    assert len(data["measurements"]) == 4
    assert "measurements" not in verification.to_dict(measurements=False)
    assert {o.value for o in VerificationOutcome} <= {o.value for o in AuditOutcome}
    assert AuditAction.VERIFY.value == "verify"


# --- configuration ---------------------------------------------------------------------------------


def test_the_app_overrides_its_environment_field_by_field() -> None:
    environment = VerificationSpec.model_validate(
        {"window": "5m", "interval": "30s", "onFailure": "rollback", "prometheus": {"url": PROM + "/"}}
    )
    app = spec(window="2m")
    merged = effective_verification(app, environment)
    assert merged is not None
    assert (merged.window_s, merged.interval_s, merged.on_failure.value) == (120, 10, "rollback")
    assert merged.prometheus is not None and merged.prometheus.url == PROM  # the trailing / dropped
    assert [c.name for c in merged.checks] == ["errors"]
    assert effective_verification(None, environment) == environment
    assert effective_verification(None, None) is None


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"window": "2 minutes"}, "expected a whole number and a unit s, m or h"),
        ({"interval": "0"}, "interval must be longer than 0"),
        ({"onFailure": "panic"}, "'report', 'pause' or 'rollback'"),
        ({"prometheus": {"url": "prometheus:9090"}}, "must be an http:// or https:// address"),
        ({"checks": [{"name": "health", "query": "up", "failWhen": {"op": "<", "threshold": 1}}]}, "health"),
        ({"checks": [{"name": "x", "query": "up", "failWhen": {"op": "=>", "threshold": 1}}]}, "'>'"),
        ({"checks": [{"name": "x", "query": "up", "failWhen": {"op": "<", "threshold": 1}}] * 2}, "own"),
    ],
)
def test_bad_settings_are_refused_saying_what_is_expected(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        VerificationSpec.model_validate(settings)


VERIFICATION = """\
  verification:
    window: 2m
    checks:
      - name: errors
        query: up
        failWhen: {op: "<", threshold: 1}
"""


def test_checks_with_no_prometheus_in_app_or_environment_are_a_problem_naming_file_and_field(
    tmp_path: Path,
) -> None:
    file = tmp_path / "plumbline.yaml"
    file.write_text(app_yaml("shop", namespace="shop") + VERIFICATION)
    with pytest.raises(InvalidConfigError) as caught:
        load_config(file)
    assert f"{file}:13: App/shop: spec.verification.checks: " in str(caught.value)
    assert "need verification.prometheus.url, in the App or its Environment" in str(caught.value)

    environment = f"""apiVersion: plumbline.dev/v1alpha1
kind: Environment
metadata:
  name: default
spec:
  verification:
    onFailure: pause
    prometheus: {{url: "{PROM}"}}
---
"""
    file.write_text(environment + app_yaml("shop", namespace="shop") + VERIFICATION)
    config = load_config(file)
    merged = config.verification(config.app("shop"))
    assert merged is not None and merged.enabled and merged.on_failure.value == "pause"


class Answering(ThreadingHTTPServer):
    """A stand-in for something at a Prometheus address that answers every request with ``body``."""

    def __init__(self, body: bytes, status: int = 200) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        (b'{"status": "success", "data": {}}', 200, "answered with no instant value"),
        (b'{"status": "success", "data": {"resultType": "matrix", "result": []}}', 200, "not an instant"),
        (b"<html>proxy login</html>", 200, "did not answer"),
        (b'{"status": "error", "errorType": "bad_data", "error": "parse"}', 400, "bad_data: parse"),
        (b"Service Unavailable", 503, "HTTP 503"),
    ],
)
def test_an_answer_that_is_not_an_instant_value_is_a_query_error_never_a_value(
    body: bytes, status: int, says: str
) -> None:
    server = Answering(body, status)
    try:
        with pytest.raises(QueryError, match=re.escape(says)):
            query(server.url, "up")
    finally:
        server.shutdown()
        server.server_close()


def test_a_check_never_once_measured_in_the_window_is_inconclusive_whatever_its_limit() -> None:
    down = QueryError("query 'up': Prometheus at http://prometheus.test:9090 did not answer: refused")
    verification, rounds, _ = run(spec(window="20s", consecutiveErrorLimit=10), [down] * 3)
    assert len(rounds) == 3  # the limit allowed each error; the window ran its length
    assert verification.outcome is VerificationOutcome.INCONCLUSIVE and verification.check == "errors"
    assert verification.reason.startswith("errors was never measured in the window (3 error(s)): query 'up'")


class Unreachable:
    """A cluster whose API server stopped answering: reading discovery fails."""

    @property
    def discovery(self) -> Any:
        raise ApiUnreachable("connection refused", server="https://127.0.0.1:6443", context="prod")

    def refresh_discovery(self) -> Any:
        return self.discovery


def test_an_api_server_that_stops_answering_makes_health_unknown_not_a_crash(tmp_path: Path) -> None:
    file = tmp_path / "plumbline.yaml"
    window = "  verification:\n    window: 2s\n    interval: 1s\n"
    file.write_text(app_yaml("shop", namespace="shop") + window)
    config = load_config(file)
    web = ObjectRef("apps", "Deployment", "shop", "web")
    desired = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}}
    item = PlanItem(ref=web, action=Action.CREATE, source="web.yaml", desired=desired, live=None,
                    predicted=None, api_version="apps/v1")  # fmt: skip
    plan = Plan(app="shop", revision="main", sha="a" * 40, namespace="shop", items=[item])
    clock = Clock(100.0)
    verification = engine.verify_app(
        config.app("shop"),
        plan,
        cluster=cast(Cluster, Unreachable()),
        config=config,
        clock=clock,
        sleep=clock.sleep,
    )
    assert verification is not None and verification.outcome is VerificationOutcome.INCONCLUSIVE
    assert [m.phase for m in verification.measurements] == [Phase.ERROR] * 3
    assert "could not read the app's objects: cannot reach the API server at https://127.0.0.1:6443" in (
        verification.reason
    )
