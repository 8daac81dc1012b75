"""The pure part of ``plumb sync --wait`` (plumbline.engine.HealthWatch): one poll's healths in, the
progress lines and the verdict out. The cluster side is tests/integration/test_sync_wait.py."""

from __future__ import annotations

from plumbline.engine import HealthWatch, WaitResult
from plumbline.health import MISSING, Health, HealthStatus
from plumbline.plan import ObjectRef
from plumbline.store import AuditOutcome
from tests.support.json_keys import not_camel_case

WEB = ObjectRef("apps", "Deployment", "shop", "web")
SVC = ObjectRef("", "Service", "shop", "web")
CFG = ObjectRef("", "ConfigMap", "shop", "settings")

H, S, P, D = HealthStatus.HEALTHY, HealthStatus.SUSPENDED, HealthStatus.PROGRESSING, HealthStatus.DEGRADED


def lines(watch: HealthWatch, healths: dict[ObjectRef, Health | None]) -> list[str]:
    return [change.line() for change in watch.observe(healths)]


def test_a_line_per_object_when_its_health_changes_and_done_once_all_are_healthy() -> None:
    watch = HealthWatch([WEB, SVC, CFG])
    rolling = Health(P, "waiting for rollout: 1 of 3 updated replicas available")
    # First poll: every object with an opinion is shown; the ConfigMap has none and is not waited on.
    assert lines(watch, {WEB: rolling, SVC: Health(H), CFG: None}) == [
        "Deployment/web: Progressing (waiting for rollout: 1 of 3 updated replicas available)",
        "Service/web: Healthy",
    ]
    assert not watch.finished
    assert lines(watch, {WEB: rolling, SVC: Health(H), CFG: None}) == []  # nothing changed: nothing shown
    two = Health(P, "waiting for rollout: 2 of 3 updated replicas available")
    assert lines(watch, {WEB: two, SVC: Health(H), CFG: None}) == [
        "Deployment/web: Progressing (waiting for rollout: 2 of 3 updated replicas available)"
    ]
    assert lines(watch, {WEB: Health(H), SVC: Health(H), CFG: None}) == ["Deployment/web: Healthy"]
    assert watch.finished
    result = watch.result(timed_out=False, elapsed_s=4.2)
    assert result.healthy and result.health == Health(H) and result.not_done == []


def test_suspended_counts_as_done_and_the_app_health_says_suspended() -> None:
    watch = HealthWatch([WEB, SVC])
    watch.observe({WEB: Health(S, "Deployment is paused"), SVC: Health(H)})
    assert watch.finished
    result = watch.result(timed_out=False, elapsed_s=1)
    assert result.healthy and result.health.status is S


def test_degraded_ends_the_wait_at_once_naming_the_object_and_why() -> None:
    watch = HealthWatch([WEB, SVC])
    watch.observe({WEB: Health(P, "rolling"), SVC: Health(P, "no load balancer yet")})
    assert not watch.finished
    deadline = Health(D, "Deployment 'web' exceeded its progress deadline")
    assert lines(watch, {WEB: deadline, SVC: Health(P, "no load balancer yet")}) == [
        "Deployment/web: Degraded (Deployment 'web' exceeded its progress deadline)"
    ]
    assert watch.finished  # polling on would not change the verdict
    result = watch.result(timed_out=False, elapsed_s=12)
    assert not result.healthy and not result.timed_out
    assert result.health.status is D
    assert "Deployment/web: Deployment 'web' exceeded its progress deadline" in result.health.message
    assert [o.ref for o in result.not_done] == [WEB, SVC]  # every object not Healthy is named


def test_an_object_not_found_is_missing_and_not_done() -> None:
    watch = HealthWatch([WEB, SVC])
    assert lines(watch, {SVC: Health(H)}) == [
        "Deployment/web: Missing (not in the cluster)",
        "Service/web: Healthy",
    ]
    assert not watch.finished
    result = watch.result(timed_out=True, elapsed_s=20)
    assert result.timed_out and not result.healthy
    assert result.objects[0].health == MISSING


def test_the_result_as_json_has_camel_case_keys_and_health_words() -> None:
    watch = HealthWatch([WEB, CFG])
    watch.observe({WEB: Health(P, "waiting"), CFG: None})
    data = watch.result(timed_out=True, elapsed_s=20.04).to_dict()
    assert not_camel_case(data) == []
    assert data == {
        "status": "Progressing",
        "message": "Deployment/web: waiting",
        "healthy": False,
        "timedOut": True,
        "elapsedSeconds": 20.0,
        "objects": [
            {"object": "Deployment.apps shop/web", "status": "Progressing", "message": "waiting"},
            {"object": "ConfigMap shop/settings", "status": None, "message": ""},
        ],
    }


def test_no_objects_is_healthy_at_once() -> None:
    watch = HealthWatch([])
    assert watch.observe({}) == [] and watch.finished
    assert watch.result(timed_out=False, elapsed_s=0) == WaitResult(objects=(), timed_out=False, elapsed_s=0)


def test_the_audit_outcomes_of_a_wait_are_the_health_words() -> None:
    # AuditOutcome takes them from HealthStatus (defined in config, below both): a record of a wait
    # reads in the words health shows.
    assert {AuditOutcome(s.value).value for s in HealthStatus} == {s.value for s in HealthStatus}
