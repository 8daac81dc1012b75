"""Manual operations while a controller runs, on the real control plane: the controller holds the
app (its owner Lease) for good, but the write Lease only while it writes, so `plumb sync` and the
break-glass `plumb resume --revert` go through instead of waiting for a holder that never lets go;
and with the App in the cluster, they are requested on it and carried out by the controller as the
requester (decision 0016)."""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from plumbline.cluster import Cluster
from plumbline.config import Operation, Requester
from plumbline.controller import Controller, Result
from plumbline.engine import operation as op
from plumbline.engine.lease import LEASE_NAMESPACE, ensure_namespace, owner_lease_name, read_lease
from plumbline.errors import RefusedError
from plumbline.local import ControlPlane
from plumbline.store import AppStateKind, AuditAction
from tests.support import cli
from tests.support.cluster import limited_kubeconfig
from tests.support.json_keys import not_camel_case
from tests.support.sites import Site, one

pytestmark = pytest.mark.integration


@contextlib.contextmanager
def running(controller: Controller) -> Iterator[None]:
    thread = threading.Thread(target=controller.run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        controller.stop()
        thread.join(timeout=30)
        controller.close()


def wait_for(what: str, done: Any, within: float = 60) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if done():
            return
        time.sleep(0.2)
    pytest.fail(f"{what} within {within:.0f} s")


def data(site: Site) -> Any:
    live = site.live()
    return None if live is None else live["data"]


def test_manual_sync_and_resume_revert_while_the_controller_runs(make_site: Any) -> None:
    site: Site = make_site("sync")
    site.lease_namespace = LEASE_NAMESPACE  # where `plumb sync` looks for the app's Lease
    controller = site.controller(interval_s=1.0)
    with running(controller):
        wait_for("the controller did not sync", lambda: site.live() is not None)
        site.edit("LOG_LEVEL", "hotfix")
        manual = site.plumb("sync", site.app, "--revert-drift")
        assert manual.returncode == 0, manual.stdout + manual.stderr
        assert data(site) == {"LOG_LEVEL": "info"}

        paused = site.plumb("pause", site.app, "--reason", "incident 7", "--for", "30m")
        assert paused.returncode == 0, paused.stdout + paused.stderr
        site.edit("LOG_LEVEL", "during-incident")
        resumed = site.plumb("resume", site.app, "--revert", "--reason", "incident over")
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        assert data(site) == {"LOG_LEVEL": "info"}


# What a person who runs plumb against a managed app needs (docs/controller.md#operations): read the
# App and patch its operation, read the owner Lease. SelfSubjectReview is every user's already.
REQUESTER = [
    {"apiGroups": ["plumbline.dev"], "resources": ["apps"], "verbs": ["get", "list", "patch"]},
    {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["get"]},
]
OVERRIDE = {"apiGroups": ["plumbline.dev"], "resources": ["apps"], "verbs": ["override"]}


def test_operations_through_the_app_as_the_requester(
    tmp_path: Path, control_plane: ControlPlane, plumbline_crds: list[str], make_site: Any
) -> None:
    """With a controller holding the app, `plumb sync`, `pause`, `resume --revert` and `mode` from a
    second identity (a ServiceAccount token) are requested on the App and carried out by the
    controller, with that identity as the actor in history and audit; `--allow` needs the cluster's
    `override` verb, and without it is refused with nothing written."""
    site: Site = make_site("observe")
    site.lease_namespace = LEASE_NAMESPACE  # where plumb looks for the app's owner Lease
    ensure_namespace(site.cluster, LEASE_NAMESPACE)
    site.declare(LEASE_NAMESPACE)
    account = f"requester-{site.app}"
    user = f"system:serviceaccount:{LEASE_NAMESPACE}:{account}"

    def as_requester(rules: list[dict[str, Any]]) -> dict[str, str]:
        path = tmp_path / f"{account}.yaml"
        kubeconfig = limited_kubeconfig(
            site.cluster, control_plane, LEASE_NAMESPACE, path, rules, name=account
        )
        return {**site.env(), "KUBECONFIG": str(kubeconfig)}

    env = as_requester(REQUESTER)
    controller = site.controller(interval_s=3600.0)  # only the requests make it act
    with running(controller):
        wait_for("the controller did not take the app", lambda: owner_of(site) == "replica-a")
        synced = cli.plumb("sync", site.app, "--recheck", "-o", "json", env=env)
        assert synced.returncode == 0, synced.stdout + synced.stderr
        assert "managed by controller replica-a" in synced.stderr, synced.stderr
        answer = json.loads(synced.stdout)
        assert not_camel_case(answer) == []
        assert (answer["operation"]["requestedBy"], answer["operation"]["exitCode"]) == (user, 0), answer
        # --recheck crossed the App (its schema keeps it) to the controller, which said what it ran.
        assert "sync (recheck) requested by" in answer["operation"]["progress"][0], answer
        assert data(site) == {"LOG_LEVEL": "info"}
        last = site.store.last_sync(site.app)
        assert last is not None and last.actor == user, last
        assert ("succeeded", user) in audit(site, AuditAction.SYNC)

        paused = cli.plumb("pause", site.app, "--reason", "incident 8", "--for", "30m", env=env)
        assert paused.returncode == 0, paused.stdout + paused.stderr
        assert site.store.app_state(site.app).state is AppStateKind.PAUSED
        site.edit("LOG_LEVEL", "during-incident")
        resumed = cli.plumb("resume", site.app, "--revert", "--reason", "over", env=env)
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        assert data(site) == {"LOG_LEVEL": "info"}
        assert site.store.app_state(site.app).state is AppStateKind.ACTIVE
        actions = {(r.action, r.actor) for r in site.store.audit_log(site.app)}
        assert {(AuditAction.PAUSE, user), (AuditAction.RESUME, user)} <= actions, actions

        moved = cli.plumb("mode", site.app, "sync", "--reason", "ready", env=env)
        assert moved.returncode == 0 and "observe → sync" in moved.stdout, moved.stdout + moved.stderr
        assert (AuditAction.MODE, user) in {(r.action, r.actor) for r in site.store.audit_log(site.app)}

        # A commit the references guard blocks; overriding it takes the cluster's `override` verb.
        site.write_config_map("INVENTORY_SERVICE_URL", "http://old-inventory-service.svc.cluster.local")
        site.commit("a reference to a Service that does not exist")
        allow = ("--allow", "references:ConfigMap/env", "--reason", "the service comes next week")
        refused = cli.plumb("sync", site.app, *allow, env=env)
        assert refused.returncode == 1, refused.stdout + refused.stderr
        assert f"{user} may not override" in refused.stderr and "override" in refused.stderr, refused.stderr
        assert data(site) == {"LOG_LEVEL": "info"}  # nothing written

        env = as_requester([*REQUESTER, OVERRIDE])
        overridden = cli.plumb("sync", site.app, *allow, env=env)
        assert overridden.returncode == 0, overridden.stdout + overridden.stderr
        assert "INVENTORY_SERVICE_URL" in (data(site) or {})
        last = site.store.last_sync(site.app)
        assert last is not None and last.actor == user and last.flags["overrides"], last
    app = site.cluster.request(
        "GET", f"/apis/plumbline.dev/v1alpha1/namespaces/{LEASE_NAMESPACE}/apps/{site.app}"
    )
    assert "operation" not in app  # answered and removed
    state = app["status"]["operationState"]
    assert (state["phase"], state["exitCode"], state["requestedBy"]) == ("Succeeded", 0, user), state


def owner_of(site: Site) -> str | None:
    info = read_lease(site.cluster, site.app, namespace=LEASE_NAMESPACE, name=owner_lease_name(site.app))
    return info.holder if info else None


def audit(site: Site, action: str) -> list[tuple[str, str]]:
    return [(r.outcome, r.actor) for r in site.store.audit_log(site.app) if r.action == action]


@contextlib.contextmanager
def installed(cluster: Cluster, objects: list[dict[str, Any]]) -> Iterator[None]:
    infos = [cluster.discovery.lookup(obj["apiVersion"], obj["kind"]) for obj in objects]
    for obj, info in zip(objects, infos, strict=True):
        assert info is not None
        cluster.apply(obj, info=info, field_manager="test")
    try:
        yield
    finally:
        for obj, info in reversed(list(zip(objects, infos, strict=True))):
            assert info is not None
            cluster.request("DELETE", info.path(name=obj["metadata"]["name"]))


def test_the_cluster_vouches_for_who_requests_an_operation(
    tmp_path: Path, control_plane: ControlPlane, plumbline_crds: list[str], make_site: Any, namespace: str
) -> None:
    """With plumbline's admission policy, the API server refuses an App.operation written in another's
    name, or with an override the writer may not make; the honest request goes through."""
    site: Site = make_site("observe")
    site.declare(namespace)
    account = "requester"
    plane = control_plane
    kubeconfig = limited_kubeconfig(
        site.cluster, plane, namespace, tmp_path / "k.yaml", REQUESTER, name=account
    )
    with installed(site.cluster, op.admission_policy()), Cluster(kubeconfig=kubeconfig) as user:
        info = op.app_info(user)
        assert info is not None
        app = op.ManagedApp(site.app, namespace, "", info)
        me = op.who_am_i(user)

        def ask(requester: Requester, **args: Any) -> str:
            """Request a sync as ``requester``; what the cluster said ('' if it took it), then undone."""
            asked = {"id": op.new_id(), "action": "sync", "requestedBy": requester, "requestedAt": op.now()}
            operation = Operation.model_validate({**asked, **args})
            try:
                op.request(user, app, operation)
            except RefusedError as refused:
                return str(refused)
            site.cluster.request("PATCH", app.path, body={"operation": None}, content_type=op.MERGE_PATCH)
            return ""

        someone_else = Requester(username="alice", groups=me.groups)
        wait_for("the admission policy did not bite", lambda: ask(someone_else) != "", within=30)
        assert "must be who requests it: you are " + me.username in ask(someone_else)
        allow = {"allow": ["references:ConfigMap/env"], "reason": "next week"}
        assert f"{me.username} may not override" in ask(me, **allow)
        assert ask(me) == ""
        rules = [*REQUESTER, OVERRIDE]
        limited_kubeconfig(site.cluster, plane, namespace, tmp_path / "k2.yaml", rules, name=account)
        wait_for("the override was not let through", lambda: ask(me, **allow) == "", within=30)


def test_a_malformed_operation_is_removed_and_the_pass_goes_on(
    plumbline_crds: list[str], make_site: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """An operation written by hand that the CRD's schema lets through but the model refuses (a time
    that is no time) is removed with a warning; it never stops the controller."""
    site: Site = make_site("sync")
    ensure_namespace(site.cluster, LEASE_NAMESPACE)
    site.declare(LEASE_NAMESPACE)
    path = f"/apis/plumbline.dev/v1alpha1/namespaces/{LEASE_NAMESPACE}/apps/{site.app}"
    # As the writer itself (plumbline's admission policy may be in force from another test).
    me = op.who_am_i(site.cluster).model_dump(mode="json")
    bad = {"id": "x1", "action": "sync", "requestedBy": me, "requestedAt": "yesterday"}
    site.cluster.request("PATCH", path, body={"operation": bad}, content_type=op.MERGE_PATCH)
    with caplog.at_level(logging.WARNING, logger="plumbline.controller"):
        outcome = one(site.controller())
    assert outcome.result is Result.SYNCED, outcome  # the pass went on
    assert "malformed App.operation" in caplog.text and "requestedAt" in caplog.text, caplog.text
    assert "operation" not in site.cluster.request("GET", path)
