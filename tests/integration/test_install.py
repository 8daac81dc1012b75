"""``plumb install --apply`` on the real control plane, and the controller running as the
ServiceAccount it installs: a token from the TokenRequest API, in-cluster environment variables and
files (as a Pod has them), reading its configuration from the cluster, syncing an app into a namespace
it was given and writing the App's status — while a write anywhere else is forbidden by the cluster
itself. Installing again (an upgrade) keeps the App and its status. Then ``plumb uninstall``: refused
while Apps exist, and with ``--force`` it removes the CRDs but leaves what the app manages and the
namespace."""

from __future__ import annotations

import base64
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from plumbline import engine
from plumbline.cluster import Cluster
from plumbline.cluster.cache import State
from plumbline.config import StoreBackend
from plumbline.controller import Controller, Result, Settings
from plumbline.deploy import BUILT_IN_GROUPS, GROUP, NAME, NAMES, apply_crds
from plumbline.errors import ApiForbidden
from plumbline.local import ControlPlane
from plumbline.store import StoreChoice, open_store
from plumbline.yamlio import load_documents
from tests.support import cli
from tests.support.sites import Site, one

pytestmark = pytest.mark.integration


def service_account_files(plane: ControlPlane, cluster: Cluster, namespace: str, folder: Path) -> Path:
    """What the kubelet mounts into a Pod of ``plumbline-controller`` in ``namespace``: a bound token
    from the TokenRequest API, the cluster's CA, the namespace."""
    answer = cluster.request(
        "POST",
        f"/api/v1/namespaces/{namespace}/serviceaccounts/{NAME}/token",
        body={
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {"expirationSeconds": 3600},
        },
    )
    (kubeconfig,) = load_documents(plane.kubeconfig.read_text(), file=str(plane.kubeconfig))
    ca = kubeconfig.data["clusters"][0]["cluster"]["certificate-authority-data"]
    folder.mkdir()
    (folder / "token").write_text(answer["status"]["token"])
    (folder / "ca.crt").write_bytes(base64.b64decode(ca))
    (folder / "namespace").write_text(namespace)
    return folder


@pytest.fixture
def installed(control_plane: ControlPlane, cluster: Cluster, namespace: str, tmp_path: Path) -> Iterator[str]:
    """plumbline installed by ``plumb install --apply`` into a namespace of its own, allowed to write
    into ``namespace``; the CRDs are put back afterwards for the rest of the session."""
    home = f"pl-{uuid.uuid4().hex[:8]}"
    env = cli.plumb_env(
        kubeconfig=control_plane.kubeconfig, config=tmp_path / "none.yaml", store=tmp_path / "p.db"
    )
    done = cli.plumb("install", "--apply", "--namespace", home, "--namespaces", namespace, env=env)
    assert done.returncode == 0, done.stderr
    assert f"applied Deployment/{NAME}" in done.stdout
    try:
        yield home
    finally:
        crds = cluster.discovery.lookup("apiextensions.k8s.io/v1", "CustomResourceDefinition")
        assert crds is not None
        # A deleted CRD goes once its objects are gone; each of the kinds must be gone before they are
        # applied again (an apply to one still terminating is lost with it: "not Established").
        names = [f"{plural}.{GROUP}" for plural, _ in NAMES.values()]
        deadline = time.monotonic() + 120
        while any(cluster.get(crds, name=n, namespace=None) for n in names) and time.monotonic() < deadline:
            time.sleep(0.2)
        apply_crds(cluster)


def test_the_controller_runs_as_its_service_account_and_uninstall_keeps_what_apps_manage(
    control_plane: ControlPlane,
    cluster: Cluster,
    installed: str,
    make_site: Callable[[str], Site],
    namespace: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    home = installed
    site = make_site("sync")
    site.declare(home)  # a person applies an App into the controller's namespace
    folder = service_account_files(control_plane, cluster, home, tmp_path / "serviceaccount")
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", control_plane.server.rsplit(":", 1)[1])
    monkeypatch.setenv("PLUMBLINE_SERVICE_ACCOUNT_DIR", str(folder))

    with Cluster() as pod:  # no kubeconfig: the in-cluster credentials
        assert pod.context_name == "in-cluster"
        settings = Settings(identity="pod-a", lease_namespace=home, watch=True, backoff_base_s=0.0)
        installed_store = engine.cluster_config(pod, home).store  # the installed Instance's spec.store
        assert installed_store.backend is StoreBackend.KUBERNETES and installed_store.namespace == home
        with open_store(StoreChoice.of(installed_store)) as store:  # as the ServiceAccount, in-cluster
            controller = Controller(
                config=lambda: engine.cluster_config(pod, home), store=store, settings=settings, apps_in=pod
            )
            try:
                with caplog.at_level(logging.INFO, logger="plumbline"):
                    outcome = one(controller)
                    # The installed ClusterRole plumbline-read lets its cache list and watch every
                    # built-in kind cluster-wide; Secrets only per namespace, said once at info.
                    assert controller.watching(timeout=60)
                    app = controller.config.apps[site.app]
                    cache = controller.reconciler.live(controller.cluster_for(app))
                    assert cache is not None
                    built_in = [
                        info
                        for info in pod.discovery.listable()
                        if not info.group or info.group in BUILT_IN_GROUPS
                    ]
                    kinds = {info.group_kind: cache.state(info) for info in built_in}
                    assert kinds["ConfigMap"] is State.SYNCED and kinds["Deployment.apps"] is State.SYNCED
                    not_synced = {k for k, state in kinds.items() if state not in (None, State.SYNCED)}
                    assert not_synced == {"Secret"}, kinds  # every built-in kind watched, but Secrets
                    assert cache.kinds()[State.SYNCED] > 10, kinds
                    forbidden = [r for r in caplog.records if "not caching" in r.getMessage()]
                    secrets = [r for r in forbidden if "not caching Secret:" in r.getMessage()]
                    assert [r.levelno for r in secrets] == [logging.INFO], forbidden
                    said = {f"not caching {info.group_kind}:" for info in built_in}
                    warned = [r.getMessage() for r in forbidden if r.levelno >= logging.WARNING]
                    assert not [m for m in warned if any(m.startswith(b) for b in said)], warned
            finally:
                controller.close()
            assert store.last_sync(site.app) is not None  # the installed RBAC lets it keep its records
        # Synced by the first pass; the cache's first lists queue one more, which finds it in sync.
        assert outcome.result in (Result.SYNCED, Result.IN_SYNC), outcome.message
        assert site.live() is not None  # written as the ServiceAccount, into the namespace it was given
        app = cluster.request("GET", f"/apis/plumbline.dev/v1alpha1/namespaces/{home}/apps/{site.app}")
        assert app["status"]["sync"]["status"] == "Synced"

        elsewhere = f"pl-{uuid.uuid4().hex[:8]}"
        cluster.request(
            "POST",
            "/api/v1/namespaces",
            body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": elsewhere}},
        )
        config_map = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "x", "namespace": elsewhere},
        }
        info = pod.discovery.lookup("v1", "ConfigMap")
        assert info is not None
        with pytest.raises(ApiForbidden):  # refused by the cluster, not by plumbline
            pod.apply(config_map, info=info)
    monkeypatch.undo()

    env = cli.plumb_env(
        kubeconfig=control_plane.kubeconfig, config=tmp_path / "none.yaml", store=tmp_path / "p.db"
    )
    again = cli.plumb("install", "--apply", "--namespace", home, "--namespaces", namespace, env=env)
    assert again.returncode == 0, again.stderr  # an upgrade is the same apply: the App and its status stay
    app = cluster.request("GET", f"/apis/plumbline.dev/v1alpha1/namespaces/{home}/apps/{site.app}")
    assert app["status"]["sync"]["status"] == "Synced"

    refused = cli.plumb("uninstall", "--namespace", home, env=env)
    assert refused.returncode == 1
    assert f"{home}/{site.app}" in refused.stderr and "Nothing was removed" in refused.stderr
    assert cluster.request("GET", f"/apis/plumbline.dev/v1alpha1/namespaces/{home}/apps/{site.app}")

    forced = cli.plumb("uninstall", "--namespace", home, "--force", env=env)
    assert forced.returncode == 0, forced.stderr
    assert "deleted CustomResourceDefinition/apps.plumbline.dev" in forced.stdout
    assert "deleted RoleBinding/plumbline-apply" in forced.stdout
    assert site.live() is not None  # what the app manages stays
    assert cluster.request("GET", f"/api/v1/namespaces/{home}")["status"]["phase"] == "Active"
