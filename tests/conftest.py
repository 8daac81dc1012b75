"""Shared fixtures: one real control plane per test session, and the CI rules.

In CI (``CI=true``) a control plane that cannot start fails the run instead of skipping, and a run in
which no integration test executed fails too: a green run must have met the real API server.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

from plumbline.errors import ControlPlaneError, ToolchainError
from plumbline.local import ControlPlane, Exporter, Prometheus, SimulatedNodes, start_nodes
from tests.support.cluster import CountingCluster
from tests.support.sites import Site
from tests.support.tofu import RealPlans, make_real_plans

IN_CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}

_integration_executed = 0


def _missing(what: str, error: Exception) -> NoReturn:
    """A harness part that could not start: a failure in CI, a skip elsewhere."""
    if IN_CI:
        pytest.fail(f"CI needs {what} and it could not start: {error}")
    pytest.skip(f"no {what} here: {error}")


@pytest.fixture(scope="session")
def control_plane() -> Iterator[ControlPlane]:
    with contextlib.ExitStack() as stack:
        try:
            plane = stack.enter_context(ControlPlane.temporary())
        except (ToolchainError, ControlPlaneError) as error:
            _missing("the real control plane", error)
        yield plane


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's headless Chromium driven by Playwright (tests/support/browser.py), one per session."""
    from tests.support.browser import chromium

    with contextlib.ExitStack() as stack:
        try:
            found = stack.enter_context(chromium())
        except (FileNotFoundError, ImportError) as error:
            _missing("Debian's Chromium and Playwright", error)
        yield found


@pytest.fixture(scope="session")
def kwok_nodes(control_plane: ControlPlane) -> SimulatedNodes:
    """Two simulated Nodes (kube-scheduler + KWOK) on the session's control plane, stopped with it.

    They are tainted: only Pods with ``plumbline.local.TOLERATION`` land on them, so the other tests'
    Pods stay unscheduled, as those tests expect, whichever runs first.
    """
    try:
        return start_nodes(control_plane, count=2, tainted=True)
    except (ToolchainError, ControlPlaneError) as error:
        _missing("KWOK's simulated nodes", error)


@pytest.fixture(scope="session")
def exporter() -> Iterator[Exporter]:
    """Counters the test sets, served on loopback for the session's Prometheus to scrape."""
    with Exporter() as served:
        yield served


@pytest.fixture(scope="session")
def prometheus(exporter: Exporter) -> Iterator[Prometheus]:
    """A real Prometheus (the prometheus kit) scraping ``exporter`` every second."""
    with contextlib.ExitStack() as stack:
        try:
            server = stack.enter_context(Prometheus.temporary([exporter.target]))
        except (ToolchainError, ControlPlaneError) as error:
            _missing("Prometheus", error)
        yield server


@pytest.fixture(scope="session")
def tofu_plans(tmp_path_factory: pytest.TempPathFactory) -> RealPlans:
    """Real OpenTofu plans (tests/support/tofu.py), made once per session by the opentofu kit's tofu."""
    from plumbline.toolchain import binary

    try:
        tofu = binary("tofu")
    except ToolchainError as error:
        _missing("OpenTofu (the opentofu kit)", error)
    return make_real_plans(tofu, tmp_path_factory.mktemp("tofu"))


@pytest.fixture(scope="session")
def api_client(control_plane: ControlPlane) -> Iterator[Any]:
    from kubernetes import config

    client = config.new_client_from_config(config_file=str(control_plane.kubeconfig))
    yield client
    client.close()


@pytest.fixture(scope="session")
def dyn(api_client: Any) -> Any:
    from kubernetes.dynamic import DynamicClient

    return DynamicClient(api_client)


@pytest.fixture(scope="session")
def cluster(control_plane: ControlPlane) -> Iterator[Any]:
    """plumbline's own API client on the session's control plane."""
    from plumbline.cluster import Cluster

    with Cluster(kubeconfig=control_plane.kubeconfig) as c:
        yield c


@pytest.fixture(scope="session")
def plumbline_crds(cluster: Any) -> list[str]:
    """plumbline's CRDs (App, Project, Environment, GuardException, Instance) installed and served on
    the session's control plane, once; their names. Left installed for the session."""
    from plumbline.deploy import apply_crds

    return apply_crds(cluster)


@pytest.fixture
def namespace(dyn: Any) -> Iterator[str]:
    """A fresh namespace per test, deleted afterwards (without waiting for it to go)."""
    name = f"t-{uuid.uuid4().hex[:10]}"
    namespaces = dyn.resources.get(api_version="v1", kind="Namespace")
    namespaces.create(body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    yield name
    with contextlib.suppress(Exception):
        namespaces.delete(name=name)


@pytest.fixture(scope="session")
def users_services(control_plane: ControlPlane) -> None:
    """Seed 04's world: the `users` namespace holds the PgBouncer Services another team runs, live.

    Tests of the DB_HOST incident point at them; the references guard resolves them like any live
    Service (and would block the sync if they were missing, as it should).
    """
    from plumbline.cluster import Cluster

    with Cluster(kubeconfig=control_plane.kubeconfig) as cluster:
        ns = cluster.discovery.lookup("v1", "Namespace")
        svc = cluster.discovery.lookup("v1", "Service")
        assert ns is not None and svc is not None
        cluster.apply(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "users"}},
            info=ns,
            field_manager="another-team",
        )
        for name in ("pgbouncer", "pgbouncer-primary"):
            cluster.apply(
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": {"name": name, "namespace": "users"},
                    "spec": {"selector": {"app": name}, "ports": [{"port": 5432, "targetPort": 6432}]},
                },
                info=svc,
                field_manager="another-team",
            )


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    global _integration_executed
    if report.when == "call" and "integration" in report.keywords and report.outcome != "skipped":
        _integration_executed += 1


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if IN_CI and exitstatus == 0 and _integration_executed == 0:
        session.exitstatus = 1
        print("\nCI=true but no integration test executed: the real control plane was never used. Failing.")


def cache_without_rebuilds(folder: Path) -> Path:
    """An empty plumbline cache at ``folder`` (Git checkouts, mirrors) that shares the built binaries.

    Tests isolate the cache to see their own checkouts; the binaries in it (helm, kustomize, ...) are
    built once per machine, so the new cache links to the ones already built instead of rebuilding
    them (seconds to minutes each) for every test.
    """
    from plumbline.paths import cache_dir

    folder.mkdir(parents=True, exist_ok=True)
    built = cache_dir() / "bin"
    if built.is_dir() and not (folder / "bin").exists():
        (folder / "bin").symlink_to(built, target_is_directory=True)
    return folder


@pytest.fixture
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``PLUMBLINE_CACHE_DIR`` set to a new cache of this test's own (see :func:`cache_without_rebuilds`)."""
    cache = cache_without_rebuilds(tmp_path / "cache")
    monkeypatch.setenv("PLUMBLINE_CACHE_DIR", str(cache))
    return cache


@pytest.fixture
def make_site(tmp_path: Path, control_plane: ControlPlane, namespace: str) -> Iterator[Any]:
    """Controller test sites (:class:`tests.support.sites.Site`) in ``mode``, closed afterwards."""
    sites: list[Site] = []

    def make(mode: str) -> Site:
        site = Site(tmp_path / f"s{len(sites)}", control_plane, namespace, mode)
        sites.append(site)
        return site

    yield make
    for site in sites:
        site.close()


@pytest.fixture
def counting(control_plane: ControlPlane) -> Iterator[CountingCluster]:
    """A client of the control plane that counts what it sends (requests, dry runs, applies)."""
    made = CountingCluster(kubeconfig=control_plane.kubeconfig)
    try:
        yield made
    finally:
        made.close()
