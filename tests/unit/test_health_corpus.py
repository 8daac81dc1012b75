"""Health rules against real objects and their upstream expected results (tests/data/health/README.md).

Every corpus file is asserted: gitops-engine's expectations as they are; kstatus' mapped into
plumbline's vocabulary, with the two documented divergences (docs/health.md) asserted as such.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from plumbline.config import InvalidConfigError, load_config
from plumbline.health import MISSING, Health, HealthStatus, app_health, assess, worst

DATA = Path(__file__).parent.parent / "data" / "health"


class _Loader(yaml.SafeLoader):
    """Safe loading with timestamps kept as text, as the API server's JSON has them."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load(corpus: str, name: str) -> dict[str, Any]:
    # PyYAML keeps the last of a repeated key, as sigs.k8s.io/yaml does (depNotProgressing.yaml).
    doc: dict[str, Any] = yaml.load((DATA / corpus / name).read_text(), Loader=_Loader)
    return doc


H, S, P, D = (HealthStatus.HEALTHY, HealthStatus.SUSPENDED, HealthStatus.PROGRESSING, HealthStatus.DEGRADED)

# Upstream pkg/health/health_test.go at the corpus commit; None: GetResourceHealth returned nil.
GITOPS_ENGINE: dict[str, HealthStatus | None] = {
    "apiservice-v1-false.yaml": P,
    "apiservice-v1-true.yaml": H,
    "apiservice-v1beta1-false.yaml": P,
    "apiservice-v1beta1-true.yaml": H,
    "application-degraded.yaml": None,
    "application-healthy.yaml": None,
    "daemonset-ondelete.yaml": H,
    "deployment-degraded.yaml": D,
    "deployment-progressing.yaml": P,
    "deployment-suspended.yaml": S,
    "hpa-v1-degraded.yaml": D,
    "hpa-v1-healthy-toofew.yaml": H,
    "hpa-v1-healthy.yaml": H,
    "hpa-v1-progressing-with-no-annotations.yaml": P,
    "hpa-v1-progressing.yaml": P,
    "hpa-v2-degraded.yaml": D,
    "hpa-v2-healthy.yaml": H,
    "hpa-v2-progressing.yaml": P,
    "hpa-v2beta1-healthy-disabled.yaml": H,
    "hpa-v2beta1-healthy.yaml": H,
    "hpa-v2beta2-healthy.yaml": H,
    "ingress-nonemptylist.yaml": H,
    "ingress-unassigned.yaml": P,
    "ingress.yaml": H,
    "job-failed.yaml": D,
    "job-running.yaml": P,
    "job-succeeded.yaml": H,
    "job-suspended.yaml": S,
    "knative-service.yaml": None,
    "nginx.yaml": H,
    "pod-crashloop.yaml": D,
    "pod-deletion.yaml": P,
    "pod-error.yaml": D,
    "pod-failed.yaml": D,
    "pod-imagepullbackoff.yaml": D,
    "pod-pending.yaml": P,
    "pod-running-not-ready.yaml": P,
    "pod-running-restart-always.yaml": H,
    "pod-running-restart-never.yaml": P,
    "pod-running-restart-onfailure.yaml": P,
    "pod-succeeded.yaml": H,
    "pvc-bound.yaml": H,
    "pvc-pending.yaml": P,
    "statefulset-ondelete.yaml": H,
    "statefulset.yaml": H,
    "svc-clusterip.yaml": H,
    "svc-loadbalancer-nonemptylist.yaml": H,
    "svc-loadbalancer-unassigned.yaml": P,
    "svc-loadbalancer.yaml": H,
}

# Upstream status_compute_test.go's expected kstatus status per literal.
KSTATUS: dict[str, str] = {
    "podReady.yaml": "Current",
    "podUnschedulable.yaml": "Failed",
    "podCrashLooping.yaml": "Failed",
    "stsLessReady.yaml": "InProgress",
    "dsDifferentGeneration.yaml": "InProgress",
    "depOK.yaml": "Current",
    "depNotProgressing.yaml": "InProgress",
    "depNotAvailable.yaml": "InProgress",
    "crdReady.yaml": "Current",
    "crdNotReady.yaml": "InProgress",
    "crdMismatchStatusGeneration.yaml": "InProgress",
    "jobFailed.yaml": "Failed",
    "jobInProgress.yaml": "Current",
    "serviceLBnok.yaml": "InProgress",
    "crdNamesNotAccepted.yaml": "Failed",
}

# kstatus' vocabulary in plumbline's (docs/health.md).
KSTATUS_TO_PLUMBLINE = {
    "Current": H,
    "InProgress": P,
    "Failed": D,
    "Terminating": P,
    "NotFound": HealthStatus.MISSING,
    "Unknown": HealthStatus.UNKNOWN,
}

# Where plumbline follows gitops-engine instead of kstatus, and why (docs/health.md):
DIVERGES_FROM_KSTATUS = {
    "jobInProgress.yaml": P,  # a started Job has not done its work yet; kstatus calls it Current
    "podUnschedulable.yaml": P,  # an autoscaler may still add the node; the wait's deadline fails it
}


def _status(health: Health | None) -> HealthStatus | None:
    return None if health is None else health.status


def test_every_corpus_file_has_an_expectation() -> None:
    assert sorted(p.name for p in (DATA / "gitops-engine").glob("*.yaml")) == sorted(GITOPS_ENGINE)
    assert sorted(p.name for p in (DATA / "kstatus").glob("*.yaml")) == sorted(KSTATUS)


@pytest.mark.parametrize("name", sorted(GITOPS_ENGINE))
def test_gitops_engine_corpus(name: str) -> None:
    assert _status(assess(load("gitops-engine", name))) is GITOPS_ENGINE[name]


@pytest.mark.parametrize("name", sorted(KSTATUS))
def test_kstatus_corpus(name: str) -> None:
    expected = DIVERGES_FROM_KSTATUS.get(name, KSTATUS_TO_PLUMBLINE[KSTATUS[name]])
    assert _status(assess(load("kstatus", name))) is expected


def test_the_divergences_are_real() -> None:
    """The kstatus cases plumbline decides differently are the ones gitops-engine decides that way too."""
    assert (
        _status(assess(load("gitops-engine", "job-running.yaml")))
        is DIVERGES_FROM_KSTATUS["jobInProgress.yaml"]
    )
    assert (
        _status(assess(load("gitops-engine", "pod-pending.yaml")))
        is DIVERGES_FROM_KSTATUS["podUnschedulable.yaml"]
    )
    for name, status in DIVERGES_FROM_KSTATUS.items():
        assert KSTATUS_TO_PLUMBLINE[KSTATUS[name]] is not status


# --- the "no status yet counts as ready" race ------------------------------------------------------

# Healthy corpus objects of kinds a controller reports on: without their status they are not done.
_WITH_CONTROLLERS = [
    ("gitops-engine", "nginx.yaml"),
    ("gitops-engine", "statefulset.yaml"),
    ("gitops-engine", "statefulset-ondelete.yaml"),
    ("gitops-engine", "daemonset-ondelete.yaml"),
    ("gitops-engine", "pod-running-restart-always.yaml"),
    ("gitops-engine", "pod-succeeded.yaml"),
    ("gitops-engine", "job-succeeded.yaml"),
    ("gitops-engine", "pvc-bound.yaml"),
    ("gitops-engine", "hpa-v2-healthy.yaml"),
    ("gitops-engine", "ingress.yaml"),
    ("gitops-engine", "svc-loadbalancer.yaml"),
    ("gitops-engine", "apiservice-v1-true.yaml"),
    ("kstatus", "depOK.yaml"),
    ("kstatus", "podReady.yaml"),
]


@pytest.mark.parametrize(("corpus", "name"), _WITH_CONTROLLERS)
def test_no_status_yet_is_progressing_never_healthy(corpus: str, name: str) -> None:
    obj = load(corpus, name)
    assert _status(assess(obj)) is H  # the object as its controller reported it
    obj.pop("status", None)
    obj["metadata"].get("annotations", {}).pop("autoscaling.alpha.kubernetes.io/conditions", None)
    assert _status(assess(obj)) is P


@pytest.mark.parametrize(
    ("corpus", "name"),
    [
        ("gitops-engine", "nginx.yaml"),
        ("gitops-engine", "statefulset.yaml"),
        ("gitops-engine", "daemonset-ondelete.yaml"),
        ("kstatus", "depOK.yaml"),
        ("kstatus", "crdReady.yaml"),
    ],
)
def test_a_spec_change_not_yet_observed_is_progressing(corpus: str, name: str) -> None:
    obj = load(corpus, name)
    assert _status(assess(obj)) is H
    observed = obj["status"].get("observedGeneration", obj["metadata"].get("generation", 1))
    obj["status"]["observedGeneration"] = observed
    obj["metadata"]["generation"] = observed + 1
    assert _status(assess(obj)) is P


def test_a_ready_condition_of_an_older_generation_is_progressing() -> None:
    obj = load("kstatus", "crdReady.yaml")
    obj["metadata"]["generation"] = 3
    obj["status"]["conditions"][0]["observedGeneration"] = 2
    health = assess(obj)
    assert _status(health) is P and health is not None and "generation 2" in health.message
    obj["status"]["conditions"][0]["observedGeneration"] = 3
    assert _status(assess(obj)) is H


def test_a_service_without_a_load_balancer_has_nothing_to_wait_for() -> None:
    obj = load("gitops-engine", "svc-clusterip.yaml")
    obj.pop("status", None)
    assert _status(assess(obj)) is H


def test_stalled_is_degraded_and_wins_over_reconciling() -> None:
    obj = load("kstatus", "crdNotReady.yaml")
    obj["status"]["conditions"] += [
        {"type": "Reconciling", "status": "True", "reason": "Retrying"},
        {
            "type": "Stalled",
            "status": "True",
            "reason": "InvalidSpec",
            "message": "replicas must be positive",
        },
    ]
    health = assess(obj)
    assert _status(health) is D and health is not None and "InvalidSpec" in health.message


# --- vocabulary and worst-of -----------------------------------------------------------------------


def test_the_order_is_gitops_engines() -> None:
    assert [s.value for s in sorted(HealthStatus, key=lambda s: s.rank)] == [
        "Healthy", "Suspended", "Progressing", "Missing", "Degraded", "Unknown",
    ]  # fmt: skip
    assert worst([]) is H
    assert worst([P, HealthStatus.MISSING, S]) is HealthStatus.MISSING


def test_app_health_is_the_worst_object_and_names_it() -> None:
    objects = {
        "Deployment/guestbook-ui": assess(load("gitops-engine", "deployment-degraded.yaml")),
        "Service/web": assess(load("gitops-engine", "svc-clusterip.yaml")),
        "Application/x": assess(load("gitops-engine", "application-degraded.yaml")),  # no opinion
        "Pod/my-pod": assess(load("gitops-engine", "pod-pending.yaml")),
        "ConfigMap/gone": MISSING,
    }
    health = app_health(objects.items())
    assert health.status is D
    assert (
        health.message.startswith("Deployment/guestbook-ui: ")
        and "exceeded its progress deadline" in health.message
    )
    del objects["Deployment/guestbook-ui"]
    assert app_health(objects.items()).status is HealthStatus.MISSING
    assert app_health([("Service/web", objects["Service/web"])]) == Health(H)


def test_an_unreadable_status_is_unknown_not_healthy() -> None:
    obj = load("gitops-engine", "hpa-v1-healthy.yaml")
    obj["metadata"]["annotations"]["autoscaling.alpha.kubernetes.io/conditions"] = "[not json"
    assert _status(assess(obj)) is HealthStatus.UNKNOWN


# --- per-kind CEL health checks (healthChecks in the Project or App) --------------------------------

_CONFIG = """\
apiVersion: plumbline.dev/v1alpha1
kind: Project
metadata: {name: demo}
spec:
  healthChecks:
    - group: argoproj.io
      kind: Application
      current: status.health.status == 'Healthy'
      failed: status.health.status == 'Degraded'
    - group: serving.knative.dev
      kind: Service
      current: status.conditions.exists(c, c.type == 'Ready' && c.status == 'True')
---
apiVersion: plumbline.dev/v1alpha1
kind: App
metadata: {name: web}
spec:
  project: demo
  source: {repoURL: ./repo}
  destination: {namespace: web}
  healthChecks:
    - group: argoproj.io
      kind: Application
      current: "false"
      inProgress: "true"
"""


def test_cel_health_checks_decide_kinds_without_rules(tmp_path: Path) -> None:
    (tmp_path / "plumbline.yaml").write_text(_CONFIG)
    config = load_config(tmp_path / "plumbline.yaml")
    project = config.project("demo").spec.health_checks
    assert _status(assess(load("gitops-engine", "application-healthy.yaml"), project)) is H
    assert _status(assess(load("gitops-engine", "application-degraded.yaml"), project)) is D
    # status: {} — the field the check reads is not there yet: Progressing, saying why, never Healthy.
    knative = assess(load("gitops-engine", "knative-service.yaml"), project)
    assert _status(knative) is P and knative is not None and "could not be evaluated" in knative.message
    # The App's checks come first.
    app_first = [*config.app("web").spec.health_checks, *project]
    assert _status(assess(load("gitops-engine", "application-healthy.yaml"), app_first)) is P


def test_a_cel_check_waits_for_the_generation_to_be_observed(tmp_path: Path) -> None:
    (tmp_path / "plumbline.yaml").write_text(_CONFIG)
    checks = load_config(tmp_path / "plumbline.yaml").project("demo").spec.health_checks
    obj = load("gitops-engine", "application-healthy.yaml")
    obj["metadata"] = {"name": "x", "generation": 2}
    obj["status"]["observedGeneration"] = 1
    assert _status(assess(obj, checks)) is P


def test_invalid_cel_is_a_config_error_naming_file_line_and_field(tmp_path: Path) -> None:
    (tmp_path / "plumbline.yaml").write_text(
        _CONFIG.replace("status.health.status == 'Degraded'", "status.((")
    )
    with pytest.raises(InvalidConfigError) as caught:
        load_config(tmp_path / "plumbline.yaml")
    text = str(caught.value)
    assert "plumbline.yaml:9: Project/demo: spec.healthChecks[0].failed: not valid CEL" in text
    assert "column 8" in text
