"""Seed 04 replayed end to end by the controller, on the real control plane with KWOK's simulated
nodes, a real Prometheus and an exporter the test controls.

A commit changes a ConfigMap value (DB_HOST) and the image; its Pods become Ready; during the
verification window the error rate rises; the controller rolls config and image back together to
the last verified revision, holds the app there (the failed SHA is not applied on the next poll),
and applies the next, fixing commit. And a release whose Pods never become Ready fails health within
the controller's timeout — and is rolled back the same way (or paused, or reported, as configured);
and the first write after a long window does not mistake its own renewer for another writer."""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from plumbline.cluster import Cluster
from plumbline.config import load_config
from plumbline.controller import Controller, Notifier, Outcome, Result, Settings
from plumbline.engine import Writer, sync_app
from plumbline.engine.lease import Grant, acquire, owner_lease_name
from plumbline.local import ControlPlane, Exporter, Fault, Prometheus, SimulatedNodes
from plumbline.store import AppStateKind, AuditAction, Store, SyncResult
from tests.support.config import API
from tests.support.git import write_files
from tests.support.kwok import ready
from tests.support.seed04 import PRIMARY, STALE, live, release
from tests.support.sites import Receiver, Workspace, unique

pytestmark = pytest.mark.integration

V14, V15 = "registry.invalid/users-api:1.4", "registry.invalid/users-api:1.5"


def environment(
    *, window: str, checks: list[dict[str, Any]] | None = None, url: str = "", on_failure: str = "rollback"
) -> str:
    """The Environment ``default`` the app is in: a verification window that rolls back on failure
    (or ``on_failure``; JSON is YAML)."""
    verification: dict[str, Any] = {"window": window, "interval": "1s", "onFailure": on_failure}
    if checks:
        verification |= {"prometheus": {"url": url}, "checks": checks}
    document = {"apiVersion": API, "kind": "Environment", "metadata": {"name": "default"}}
    return "---\n" + json.dumps({**document, "spec": {"verification": verification}}) + "\n"


class Replay:
    """users-api in a Git repository, plumbline's config, a store and an in-process controller."""

    def __init__(self, root: Path, plane: ControlPlane, settings: str, health_timeout_s: float) -> None:
        self.ws = Workspace(root, plane)
        self.app, self.namespace = unique("users-api"), unique("users")
        self.ws.add_app(self.app, "app", self.namespace)
        self.ws.config.write_text(self.ws.config.read_text() + settings)
        self.store = Store.open(root / "plumbline.db")
        self.cluster = Cluster(kubeconfig=plane.kubeconfig)
        options = Settings(
            identity="replica-a",
            lease_namespace=unique("pl"),
            kubeconfig=str(plane.kubeconfig),
            watch=False,
            backoff_base_s=0.0,
            health_timeout_s=health_timeout_s,
        )
        self.receiver = Receiver()  # the notifications' webhook
        self.controller = Controller(
            config=lambda: load_config(self.ws.config),
            store=self.store,
            settings=options,
            notifier=Notifier(webhooks=[self.receiver.url]),
        )

    def commit(self, files: dict[str, str], message: str) -> str:
        write_files(self.ws.repo, files)
        return self.ws.commit(message)

    def poll(self) -> Outcome:
        (outcome,) = self.controller.run_once()
        return outcome

    def audit(self, action: AuditAction) -> list[str]:
        return [r.outcome.value for r in self.store.audit_log(self.app) if r.action == action]

    def ready_pods(self, image: str) -> int:
        pods = self.cluster.request("GET", f"/api/v1/namespaces/{self.namespace}/pods")["items"]
        return sum(1 for p in pods if p["spec"]["containers"][0]["image"] == image and ready(p))

    def notices(self, kind: str) -> list[dict[str, Any]]:
        self.controller.notifier.close()  # delivers what is queued
        self.controller.notifier = Notifier(webhooks=[self.receiver.url])
        return [body for _, body in self.receiver.received if body["kind"] == kind]

    def close(self) -> None:
        self.controller.close()
        self.store.close()
        self.cluster.close()


@contextlib.contextmanager
def surge_once_ready(
    replay: Replay, image: str, raise_errors: Callable[[], None]
) -> Iterator[threading.Event]:
    """In the background: once a Pod of ``image`` is Ready (the release looked fine), the 5xx surge."""
    done, stop = threading.Event(), threading.Event()

    def watch() -> None:
        while not stop.is_set():
            with contextlib.suppress(Exception):
                if replay.ready_pods(image):
                    raise_errors()
                    done.set()
                    return
            time.sleep(0.3)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        yield done
    finally:
        stop.set()
        thread.join(5)


def test_seed04_the_controller_rolls_config_and_image_back_together_and_applies_the_next_fix(
    tmp_path: Path,
    control_plane: ControlPlane,
    kwok_nodes: SimulatedNodes,
    prometheus: Prometheus,
    exporter: Exporter,
    users_services: None,
) -> None:
    metric = f"t{uuid.uuid4().hex[:8]}_requests"  # the session's exporter is shared
    exporter.set(metric, 100, code="200")
    exporter.set(metric, 0, code="500")
    prometheus.wait_for(f'{metric}_total{{code="200"}}', 100)
    checks = [
        {
            "name": "error-ratio",
            "query": f'sum({metric}_total{{code="500"}}) / sum({metric}_total)',
            "failWhen": {"op": ">", "threshold": 0.05},
        }
    ]
    replay = Replay(
        tmp_path, control_plane, environment(window="6s", checks=checks, url=prometheus.url), 60.0
    )
    try:
        good = replay.commit(release(PRIMARY, V14, runs=True), "users-api 1.4")
        first = replay.poll()
        assert (first.result, first.sha) == (Result.SYNCED, good), first
        assert replay.audit(AuditAction.VERIFY) == ["Passed"]

        # The release: the chart's DB_HOST and a new image. Its Pods become Ready; then the 5xx come.
        bad = replay.commit(release(STALE, V15, runs=True), "users-api 1.5 (and the chart's DB_HOST)")
        with surge_once_ready(replay, V15, lambda: exporter.set(metric, 40, code="500")) as surged:
            rolled = replay.poll()
        assert surged.is_set(), "the 1.5 Pods never became Ready"
        assert rolled.result is Result.ROLLED_BACK, rolled
        assert rolled.state is AppStateKind.HELD and rolled.sha == good
        assert rolled.message.startswith("verification failed (Failed: error-ratio failed")
        assert live(replay.cluster, replay.namespace) == (PRIMARY, V14)  # config and image, together
        assert replay.audit(AuditAction.VERIFY) == ["Passed", "Failed"]
        assert replay.audit(AuditAction.ROLLBACK) == ["started", "held"]
        state = replay.store.app_state(replay.app)
        assert state.state is AppStateKind.HELD and state.detail["failed"] == bad
        assert state.reason.startswith("verification failed (")
        records = replay.store.history(replay.app, limit=None, with_desired=False)
        assert [(r.sha, r.result) for r in records][:2] == [
            (good, SyncResult.SUCCEEDED),
            (bad, SyncResult.SUCCEEDED),
        ]
        assert records[0].flags["rollback"] == {"to": good, "history": records[-1].id, "from": bad}
        (notice,) = replay.notices("rolled-back")
        assert notice["revision"] == bad and notice["details"]["to"]["sha"] == good
        assert sorted(notice["details"]["changes"]) == [
            f"ConfigMap {replay.namespace}/users-api-env /data/DB_HOST",
            f"Deployment.apps {replay.namespace}/users-api /spec/template/spec/containers/[name=api]/image",
        ]
        exporter.set(metric, 0, code="500")  # the bad release is gone; so are its errors

        # The next poll: Git still says the failed SHA; it is not applied again.
        held = replay.poll()
        assert held.result is Result.HELD, held
        assert (
            held.message
            == f"not applying {bad[:12]}: a rollback left it (failed); held at {good[:12]} until a new commit"
        )
        assert len(replay.store.history(replay.app, limit=None, with_desired=False)) == len(records)
        assert live(replay.cluster, replay.namespace) == (PRIMARY, V14)

        # The fix: the right DB_HOST with the new image. Applied, verified, and the hold is over.
        prometheus.wait_for(f'{metric}_total{{code="500"}}', 0)
        fixed = replay.commit(release(PRIMARY, V15, runs=True), "users-api 1.5 with pgbouncer-primary")
        applied = replay.poll()
        assert (applied.result, applied.sha) == (Result.SYNCED, fixed), applied
        assert live(replay.cluster, replay.namespace) == (PRIMARY, V15)
        assert replay.audit(AuditAction.VERIFY) == ["Passed", "Failed", "Passed"]
        assert replay.store.app_state(replay.app).state is AppStateKind.ACTIVE
    finally:
        replay.close()


def test_a_release_whose_pods_never_become_ready_fails_health_within_the_timeout_and_is_rolled_back(
    tmp_path: Path, control_plane: ControlPlane, kwok_nodes: SimulatedNodes, users_services: None
) -> None:
    replay = Replay(tmp_path, control_plane, environment(window="2s"), health_timeout_s=12.0)
    try:
        good = replay.commit(release(PRIMARY, V14, runs=True), "users-api 1.4")
        assert replay.poll().result is Result.SYNCED
        replay.commit(release(STALE, V15, runs=True, fault=Fault.NEVER_READY), "users-api 1.5")
        started = time.monotonic()
        rolled = replay.poll()
        took = time.monotonic() - started
        assert rolled.result is Result.ROLLED_BACK, rolled
        assert rolled.message.startswith(
            "verification failed (not Healthy: Progressing: Deployment/users-api:"
        )
        assert took < 12.0 + 30.0, took  # the timeout, then the rollback and its own wait
        assert live(replay.cluster, replay.namespace) == (PRIMARY, V14)
        assert rolled.sha == good
        health = [r for r in replay.store.audit_log(replay.app) if r.action == AuditAction.HEALTH]
        assert [h.outcome.value for h in health][-2:] == [
            "Progressing",
            "Healthy",
        ]  # the release, then 1.4 again
        assert health[-2].summary["timedOut"] is True
        assert {(h.actor, h.reason) for h in health[-2:]} == {
            ("replica-a", "controller: after the sync of a new commit"),
            ("replica-a", "controller: after the rollback"),
        }
        assert [n["details"]["result"] for n in replay.notices("rolled-back")] == ["succeeded"]
    finally:
        replay.close()


@pytest.mark.parametrize("on_failure", ["pause", "report"])
def test_a_release_that_fails_health_is_paused_or_reported_as_configured(
    tmp_path: Path,
    control_plane: ControlPlane,
    kwok_nodes: SimulatedNodes,
    users_services: None,
    on_failure: str,
) -> None:
    replay = Replay(
        tmp_path, control_plane, environment(window="2s", on_failure=on_failure), health_timeout_s=6.0
    )
    try:
        replay.commit(release(PRIMARY, V14, runs=True), "users-api 1.4")
        assert replay.poll().result is Result.SYNCED
        bad = replay.commit(release(STALE, V15, runs=True, fault=Fault.NEVER_READY), "users-api 1.5")
        done = replay.poll()
        assert done.message.startswith("verification failed (not Healthy: Progressing: Deployment/users-api:")
        assert live(replay.cluster, replay.namespace) == (STALE, V15)  # nothing rolled back
        assert replay.audit(AuditAction.ROLLBACK) == []
        (notice,) = replay.notices("unhealthy")
        assert notice["revision"] == bad and notice["details"]["onFailure"] == on_failure
        state = replay.store.app_state(replay.app)
        if on_failure == "pause":
            assert (done.result, done.state) == (Result.PAUSED, AppStateKind.PAUSED), done
            assert state.state is AppStateKind.PAUSED and state.reason == done.message
            assert state.until is not None and state.since is not None
            assert (state.until - state.since).total_seconds() == 3600  # break-glass, with an expiry
            assert replay.audit(AuditAction.PAUSE) == ["paused"]
            assert replay.poll().result is Result.PAUSED  # no writes while paused
        else:
            assert (done.result, done.state) == (Result.UNVERIFIED, AppStateKind.ACTIVE), done
            assert state.state is AppStateKind.ACTIVE
            assert replay.poll().result is Result.IN_SYNC  # reported once; the commit stays applied
    finally:
        replay.close()


class RenewedMidway(Cluster):
    """The real API server, with this replica's Lease renewer renewing the app's owner Lease once
    between the write path's read of it and its own renewal (the first sync after a long window)."""

    def __init__(self, *, app: str, identity: str, namespace: str, **kw: Any) -> None:
        super().__init__(**kw)
        self.app, self.identity, self.lease_namespace, self.raced = app, identity, namespace, False

    def request(self, method: str, path: str, **kw: Any) -> Any:
        if method == "PUT" and f"/leases/{owner_lease_name(self.app)}" in path and not self.raced:
            self.raced = True  # the renewer's own PUT goes through below, unraced
            renewer = acquire(
                self, self.app, self.identity, namespace=self.lease_namespace, name=owner_lease_name(self.app)
            )
            assert renewer is Grant.RENEWED
        return super().request(method, path, **kw)


def test_a_write_does_not_take_its_own_renewer_s_renewal_for_a_lost_lease(
    tmp_path: Path, control_plane: ControlPlane
) -> None:
    ws = Workspace(tmp_path, control_plane)
    app, namespace, leases = unique("race"), unique("race"), unique("pl")
    ws.add_app(app, "app", namespace)
    write_files(ws.repo, release(PRIMARY, V14))
    ws.commit("users-api 1.4")
    config = load_config(ws.config)
    cluster = RenewedMidway(
        app=app, identity="replica-a", namespace=leases, kubeconfig=control_plane.kubeconfig
    )
    writer = Writer(identity="replica-a", namespace=leases, duration_s=15, held=True, actor="replica-a")
    with cluster, Store.open(tmp_path / "plumbline.db") as store:
        assert (
            acquire(cluster, app, "replica-a", namespace=leases, name=owner_lease_name(app)) is Grant.ACQUIRED
        )
        _, _, record = sync_app(config.app(app), cluster=cluster, store=store, config=config, writer=writer)
    assert cluster.raced
    assert record.result is SyncResult.SUCCEEDED, record.message
