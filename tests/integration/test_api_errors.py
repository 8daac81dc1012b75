"""API failures as users meet them: `plumb diff / sync / status / controller --once` run as processes
against the real control plane with credentials it rejects (401: a wrong token, a client certificate
from an unknown CA), a user without RBAC (403), and servers that drop connections or never answer.

Every error exits 2 (never 1, which means "changes found"), names the server and the kubeconfig
context and says what to do, without a traceback; transient connection failures are retried, and
retries end in bounded time."""

from __future__ import annotations

import base64
import socket
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from plumbline.cluster import Cluster
from plumbline.local import ControlPlane
from plumbline.local.pki import write_pki
from tests.support import cli
from tests.support.config import app_yaml
from tests.support.git import commit_all, git
from tests.support.proxy import Proxy

pytestmark = pytest.mark.integration


def kubeconfig(path: Path, *, server: str, ca: bytes, context: str, user: dict[str, str]) -> Path:
    """A kubeconfig with one context: ``server`` (trusted through ``ca``) and ``user``'s credentials."""
    fields = "\n".join(f"    {key}: {value}" for key, value in user.items())
    path.write_text(
        f"""apiVersion: v1
kind: Config
clusters:
- name: {context}
  cluster:
    server: {server}
    certificate-authority-data: {base64.b64encode(ca).decode()}
users:
- name: {context}
  user:
{fields}
contexts:
- name: {context}
  context: {{cluster: {context}, user: {context}}}
current-context: {context}
"""
    )
    return path


def unknown_client_certificate(directory: Path) -> tuple[bytes, bytes]:
    """A client certificate (and its key) signed by a CA the server never trusted: the admin of a fresh
    PKI of its own, written into ``directory``."""
    directory.mkdir()
    other = write_pki(directory, service_ip="10.0.0.1")
    return other.admin_cert.read_bytes(), other.admin_key.read_bytes()


class Site:
    """A Git repo with one ConfigMap app and its plumbline config; `plumb` runs with any kubeconfig."""

    def __init__(self, root: Path, plane: ControlPlane, namespace: str) -> None:
        self.root, self.plane, self.namespace = root, plane, namespace
        self.app = f"app-{uuid.uuid4().hex[:6]}"
        self.repo = root / "repo"
        (self.repo / "app").mkdir(parents=True)
        git(self.repo, "init", "-q", "-b", "main")
        self.write("LOG_LEVEL: info")
        self.config = root / "plumbline.yaml"
        self.config.write_text(app_yaml(self.app, namespace=namespace))
        self.ca = (plane.directory / "pki" / "ca.crt").read_bytes()

    def write(self, data: str) -> None:
        (self.repo / "app" / "env.yaml").write_text(
            f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: env\ndata:\n  {data}\n"
        )
        commit_all(self.repo, "change")

    def kubeconfig(self, context: str, user: dict[str, str], server: str | None = None) -> Path:
        return kubeconfig(
            self.root / f"{context}.kubeconfig",
            server=server or self.plane.server,
            ca=self.ca,
            context=context,
            user=user,
        )

    def plumb(self, *args: str, kubeconfig: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        env = cli.plumb_env(kubeconfig=kubeconfig, config=self.config, store=self.root / "plumbline.db")
        return cli.plumb(*args, env=env, timeout=timeout)


@pytest.fixture
def site(tmp_path: Path, control_plane: ControlPlane, namespace: str) -> Site:
    return Site(tmp_path, control_plane, namespace)


def commands(site: Site) -> list[list[str]]:
    lease = f"pl-{uuid.uuid4().hex[:8]}"
    return [
        ["diff", site.app],
        ["sync", site.app],
        ["status", site.app],
        ["controller", "--once", "--lease-namespace", lease],
    ]


def assert_error(done: subprocess.CompletedProcess[str], *, server: str, context: str, says: str) -> None:
    output = done.stdout + done.stderr
    assert done.returncode == 2, (done.args, done.returncode, output)
    assert "Traceback" not in output, output
    assert server in output and f"context {context}" in output, output
    assert says in output, output


@pytest.mark.parametrize("credential", ["wrong-token", "unknown-certificate"])
def test_rejected_credentials_exit_2_naming_server_context_and_the_fix(site: Site, credential: str) -> None:
    if credential == "wrong-token":
        user = {"token": "expired-or-revoked-" + uuid.uuid4().hex}
    else:
        cert, key = unknown_client_certificate(site.root / "other-pki")
        user = {
            "client-certificate-data": base64.b64encode(cert).decode(),
            "client-key-data": base64.b64encode(key).decode(),
        }
    config = site.kubeconfig(credential, user)
    for args in commands(site):
        done = site.plumb(*args, kubeconfig=config)
        assert_error(
            done, server=site.plane.server, context=credential, says="credentials are expired or invalid"
        )
        assert "401" in done.stdout + done.stderr


def service_account_token(cluster: Cluster, namespace: str) -> tuple[str, str]:
    """A real user the server authenticates and RBAC grants nothing: a fresh ServiceAccount's token."""
    name = f"nobody-{uuid.uuid4().hex[:6]}"
    body: dict[str, Any] = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}}
    cluster.request("POST", f"/api/v1/namespaces/{namespace}/serviceaccounts", body=body)
    request = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}}
    answer = cluster.request(
        "POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token", body=request
    )
    return f"system:serviceaccount:{namespace}:{name}", answer["status"]["token"]


def test_a_user_without_rbac_exits_2_naming_what_to_grant(
    site: Site, cluster: Cluster, namespace: str
) -> None:
    user, token = service_account_token(cluster, namespace)
    config = site.kubeconfig("no-rbac", {"token": token})
    for args in commands(site):
        done = site.plumb(*args, kubeconfig=config)
        assert_error(done, server=site.plane.server, context="no-rbac", says=f'Grant user "{user}" the verb')
        assert "403" in done.stdout + done.stderr


def test_controller_once_exits_1_when_an_app_is_blocked(site: Site, users_services: None) -> None:
    # No such Service in the live `users` namespace: the references guard blocks.
    site.write("DB_HOST: pgbouncer-legacy.users.svc.cluster.local")
    done = site.plumb(
        "controller",
        "--once",
        "--lease-namespace",
        f"pl-{uuid.uuid4().hex[:8]}",
        kubeconfig=site.plane.kubeconfig,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"{site.app}: blocked" in done.stdout


def test_controller_once_exits_0_when_every_app_synced(site: Site) -> None:
    lease = f"pl-{uuid.uuid4().hex[:8]}"
    done = site.plumb("controller", "--once", "--lease-namespace", lease, kubeconfig=site.plane.kubeconfig)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{site.app}: synced" in done.stdout


@pytest.fixture
def admin_user(control_plane: ControlPlane) -> dict[str, str]:
    pki = control_plane.directory / "pki"
    return {
        "client-certificate-data": base64.b64encode((pki / "admin.crt").read_bytes()).decode(),
        "client-key-data": base64.b64encode((pki / "admin.key").read_bytes()).decode(),
    }


def test_dropped_connections_are_retried_and_the_sync_completes(
    site: Site, control_plane: ControlPlane, admin_user: dict[str, str]
) -> None:
    assert control_plane.ports is not None
    proxy = Proxy(("127.0.0.1", control_plane.ports.apiserver), drop=3)
    try:
        config = site.kubeconfig("flaky", admin_user, server=f"https://127.0.0.1:{proxy.port}")
        done = site.plumb("sync", site.app, kubeconfig=config)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "succeeded" in done.stdout
        assert proxy.accepted > 3  # the drops happened, and the client came back
    finally:
        proxy.close()
    with Cluster(kubeconfig=control_plane.kubeconfig) as cluster:
        live = cluster.request("GET", f"/api/v1/namespaces/{site.namespace}/configmaps/env")
    assert live["data"] == {"LOG_LEVEL": "info"}


def timed(
    site: Site, admin_user: dict[str, str], context: str, port: int, *args: str
) -> tuple[subprocess.CompletedProcess[str], float]:
    """``plumb args`` against the server on 127.0.0.1:``port`` as kubeconfig context ``context``, and
    how many seconds it took to give up."""
    config = site.kubeconfig(context, admin_user, server=f"https://127.0.0.1:{port}")
    started = time.monotonic()
    done = site.plumb(*args, kubeconfig=config)
    return done, time.monotonic() - started


def refused_port() -> int:
    """A local port that was just free and that nothing listens on: connecting is refused."""
    closed = socket.create_server(("127.0.0.1", 0))
    port: int = closed.getsockname()[1]
    closed.close()
    return port


def test_a_server_that_always_drops_fails_in_bounded_time(site: Site, admin_user: dict[str, str]) -> None:
    proxy = Proxy(("127.0.0.1", 1), drop=10**9)
    try:
        done, took = timed(site, admin_user, "down", proxy.port, "diff", site.app)
    finally:
        proxy.close()
    assert_error(
        done, server=f"https://127.0.0.1:{proxy.port}", context="down", says="cannot reach the API server"
    )
    assert "tried 5 times" in done.stderr
    assert took < 30, took


def test_a_server_that_never_answers_fails_in_bounded_time(site: Site, admin_user: dict[str, str]) -> None:
    silent = socket.create_server(("127.0.0.1", 0))  # accepts connections (backlog), never says a word
    port = silent.getsockname()[1]
    try:
        done, took = timed(site, admin_user, "silent", port, "sync", site.app)
    finally:
        silent.close()
    assert_error(
        done, server=f"https://127.0.0.1:{port}", context="silent", says="cannot reach the API server"
    )
    assert took < 30, took


def test_nothing_listening_fails_in_bounded_time(site: Site, admin_user: dict[str, str]) -> None:
    port = refused_port()
    done, took = timed(site, admin_user, "refused", port, "controller", "--once")
    assert_error(done, server=f"https://127.0.0.1:{port}", context="refused", says="Connection refused")
    assert took < 30, took


def test_plumb_status_of_an_unreachable_app_is_an_error_not_out_of_sync(
    site: Site, admin_user: dict[str, str]
) -> None:
    config = site.kubeconfig("refused", admin_user, server=f"https://127.0.0.1:{refused_port()}")
    done = site.plumb("status", "-o", "json", kubeconfig=config)
    assert done.returncode == 2, done.stdout + done.stderr
