"""App.status on the real control plane: a controller configured from App objects in the cluster
(``--config cluster:NAMESPACE``) writes each App's status through the status subresource after every
pass — after a sync, once Ready (``kubectl wait --for=condition=Ready`` returns), after drift, a
pause, a sync a guard blocked and one the API server refused — and ``kubectl get apps`` shows it."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from plumbline import engine
from plumbline.cluster import ApiFailure
from plumbline.config import AppStatus
from plumbline.controller import Result
from plumbline.engine.pause import pause
from plumbline.local import ControlPlane
from tests.support.cluster import admission_policy
from tests.support.git import git
from tests.support.kubectl import kubectl
from tests.support.sites import Site, one

pytestmark = pytest.mark.integration


def status_of(site: Site, namespace: str) -> tuple[AppStatus, dict[str, Any]]:
    live = site.cluster.request("GET", f"/apis/plumbline.dev/v1alpha1/namespaces/{namespace}/apps/{site.app}")
    return AppStatus.model_validate(live["status"]), live


def condition(status: AppStatus, kind: str) -> tuple[str, str]:
    (found,) = [c for c in status.conditions if c.type == kind]
    return found.status, found.reason


def test_the_status_follows_sync_ready_drift_and_pause(
    control_plane: ControlPlane, plumbline_crds: list[str], make_site: Callable[[str], Site], namespace: str
) -> None:
    site = make_site("sync")
    site.declare(namespace)
    controller = site.controller(from_cluster=namespace)
    sha = git(site.repo, "rev-parse", "HEAD")

    assert one(controller).result is Result.SYNCED
    status, live = status_of(site, namespace)
    assert status.observed_generation == live["metadata"]["generation"]
    assert status.sync is not None and (status.sync.status, status.sync.sha, status.sync.synced_sha) == (
        "Synced",
        sha,
        sha,
    )
    assert status.last_operation is not None and status.last_operation.result == "succeeded"
    recorded = site.store.last_sync(site.app)
    assert recorded is not None and status.last_operation.actor == recorded.actor != ""
    assert condition(status, "Reconciling") == ("True", "Synced")

    assert one(controller).result is Result.IN_SYNC
    status, _ = status_of(site, namespace)
    assert condition(status, "Ready") == ("True", "Synced")
    waited = kubectl(
        control_plane, "wait", "-n", namespace, "--for=condition=Ready", f"app/{site.app}", "--timeout=10s"
    )
    assert waited.returncode == 0, waited.stderr
    shown = kubectl(control_plane, "get", "apps", "-n", namespace, "--no-headers")
    assert shown.stdout.split()[:6] == [site.app, "Synced", "Healthy", sha, "sync", "active"]

    site.edit("LOG_LEVEL", "debug")  # a live edit: sync mode leaves it, and says so
    assert one(controller).result is Result.OBSERVED
    status, _ = status_of(site, namespace)
    assert status.drift == {"drift-revert": 1}
    assert condition(status, "Stalled") == ("True", "OutOfSync")
    assert condition(status, "Ready") == ("False", "OutOfSync")

    pause(site.store, site.app, reason="incident 42", duration=timedelta(hours=1), actor="oncall@ci")
    assert one(controller).result is Result.PAUSED
    status, _ = status_of(site, namespace)
    assert status.state == "paused" and status.pause is not None
    assert (status.pause.reason, status.pause.by) == ("incident 42", "oncall@ci")
    assert condition(status, "Stalled") == ("True", "Paused")
    failed = kubectl(
        control_plane, "wait", "-n", namespace, "--for=condition=Ready", f"app/{site.app}", "--timeout=1s"
    )
    assert failed.returncode != 0


def test_a_blocked_sync_names_its_guard_blocks(
    plumbline_crds: list[str], make_site: Callable[[str], Site], namespace: str
) -> None:
    site = make_site("sync")
    project = {
        "apiVersion": "plumbline.dev/v1alpha1",
        "kind": "Project",
        "metadata": {"name": "narrow", "namespace": namespace},
        "spec": {"destinations": [{"namespace": "elsewhere"}]},
    }
    info = site.cluster.discovery.lookup("plumbline.dev/v1alpha1", "Project")
    assert info is not None
    site.cluster.apply(project, info=info, field_manager="kubectl")
    site.declare(namespace, project="narrow")

    assert one(site.controller(from_cluster=namespace)).result is Result.BLOCKED
    status, _ = status_of(site, namespace)
    assert [(b.guard.value, b.target) for b in status.guard_blocks] == [
        ("project", f"ConfigMap {namespace}/env")
    ]
    assert status.last_operation is not None and status.last_operation.result == "blocked"
    assert condition(status, "Stalled") == ("True", "Blocked")


def test_an_invalid_app_says_so_on_itself_and_the_others_still_run(
    plumbline_crds: list[str], make_site: Callable[[str], Site], namespace: str
) -> None:
    site, other = make_site("sync"), make_site("sync")
    site.declare(namespace)
    other.declare(namespace, path="../outside")  # no schema can say it; the model does

    assert one(site.controller(from_cluster=namespace)).result is Result.SYNCED
    status, live = status_of(other, namespace)
    assert condition(status, "Stalled") == ("True", "InvalidSpec")
    assert condition(status, "Ready") == ("False", "InvalidSpec")
    assert (
        "spec.source.path" in status.message and status.observed_generation == live["metadata"]["generation"]
    )


def test_apps_in_a_namespace_their_project_lists_are_read_and_given_a_status(
    plumbline_crds: list[str], make_site: Callable[[str], Site], namespace: str
) -> None:
    site = make_site("sync")
    team = f"team-{namespace}"
    site.cluster.request(
        "POST",
        "/api/v1/namespaces",
        body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": team}},
    )
    project = {
        "apiVersion": "plumbline.dev/v1alpha1",
        "kind": "Project",
        "metadata": {"name": "teams", "namespace": namespace},
        "spec": {"sourceNamespaces": ["team-*"]},
    }
    info = site.cluster.discovery.lookup("plumbline.dev/v1alpha1", "Project")
    assert info is not None
    site.cluster.apply(project, info=info, field_manager="kubectl")
    site.declare(team, project="teams")  # the App lives in the team's namespace, not the controller's

    assert one(site.controller(from_cluster=namespace)).result is Result.SYNCED
    status, _ = status_of(site, team)
    assert status.sync is not None and status.sync.status == "Synced"
    try:
        site.declare(team, project="default")  # a Project that does not list the namespace: not ours
        assert engine.cluster_config(site.cluster, namespace).apps == {}
    finally:
        site.cluster.request("DELETE", f"/api/v1/namespaces/{team}")


def test_a_failed_sync_is_stalled_with_the_servers_refusal(
    plumbline_crds: list[str], make_site: Callable[[str], Site], namespace: str
) -> None:
    site = make_site("sync")
    site.declare(namespace)
    controller = site.controller(from_cluster=namespace)
    assert one(controller).result is Result.SYNCED
    refusal = {"expression": "request.dryRun == true", "message": "real writes are frozen here"}
    with admission_policy(
        site.cluster, f"freeze-{namespace}", namespace=namespace, resource="configmaps", validation=refusal
    ):
        deadline = time.monotonic() + 30
        while True:  # the policy takes a moment to reach the admission chain
            try:
                site.edit("PROBE", "x")
            except ApiFailure:
                break
            assert time.monotonic() < deadline, "the admission policy never took effect"
            time.sleep(0.2)
        site.write_config_map("LOG_LEVEL", "debug")
        site.commit("more logs")  # the dry run passes, the write is refused: the sync fails
        assert one(controller).result is Result.FAILED
    status, _ = status_of(site, namespace)
    assert status.last_operation is not None and status.last_operation.result == "failed"
    assert "real writes are frozen here" in status.last_operation.message
    assert condition(status, "Stalled") == ("True", "SyncFailed")
