"""Kubeconfig loading: the plain-data fast path, and its errors."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from plumbline.cluster.kubeconfig import load
from plumbline.errors import ClusterError
from plumbline.local.pki import write_pki


def kubeconfig(tmp_path: Path, *, user: str, context: str = "dev") -> Path:
    pki = write_pki(tmp_path, service_ip="10.96.0.1")
    ca = base64.b64encode(pki.ca_cert.read_bytes()).decode()
    path = tmp_path / "config"
    path.write_text(
        f"""apiVersion: v1
kind: Config
current-context: {context}
clusters:
- name: c
  cluster: {{server: "https://127.0.0.1:6443/", certificate-authority-data: {ca}}}
contexts:
- name: dev
  context: {{cluster: c, user: u}}
users:
- name: u
  user: {user}
"""
    )
    return path


def test_client_certificate_files_relative_to_the_kubeconfig(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path, user="{client-certificate: admin.crt, client-key: admin.key}")
    credentials = load(path, None)
    assert credentials.server == "https://127.0.0.1:6443"
    assert credentials.authorization() is None


def test_token_becomes_a_bearer_header(tmp_path: Path) -> None:
    credentials = load(kubeconfig(tmp_path, user="{token: abc123}"), "dev")
    assert credentials.authorization() == "Bearer abc123"


def test_unknown_context_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ClusterError, match=r"no context named 'prod' \(known: dev\)"):
        load(kubeconfig(tmp_path, user="{token: x}"), "prod")


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ClusterError, match="no kubeconfig file found"):
        load(tmp_path / "nope", None)


def test_exec_plugins_go_through_the_official_loader(tmp_path: Path) -> None:
    plugin = tmp_path / "plugin.sh"
    plugin.write_text(
        "#!/bin/sh\n"
        'echo \'{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential",'
        '"status":{"token":"from-plugin"}}\'\n'
    )
    plugin.chmod(0o755)
    user = (
        "{exec: {apiVersion: client.authentication.k8s.io/v1, command: "
        + str(plugin)
        + ", interactiveMode: Never}}"
    )
    credentials = load(kubeconfig(tmp_path, user=user), None)
    assert credentials.authorization() == "Bearer from-plugin"


def in_pod(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, host: str = "10.96.0.1") -> Path:
    """A Pod's environment: no kubeconfig anywhere, the service account's files in ``tmp_path``."""
    (tmp_path / "pki").mkdir()
    pki = write_pki(tmp_path / "pki", service_ip="10.96.0.1")
    folder = tmp_path / "serviceaccount"
    folder.mkdir()
    (folder / "token").write_text("first-token\n")
    (folder / "ca.crt").write_bytes(pki.ca_cert.read_bytes())
    (folder / "namespace").write_text("plumbline-system")
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", host)
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    monkeypatch.setenv("PLUMBLINE_SERVICE_ACCOUNT_DIR", str(folder))
    return folder


def test_in_a_pod_without_a_kubeconfig_the_service_account_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from plumbline.cluster import kubeconfig as module

    folder = in_pod(tmp_path, monkeypatch)
    credentials = load(None, None)
    assert (credentials.server, credentials.context) == ("https://10.96.0.1:443", "in-cluster")
    assert credentials.authorization() == "Bearer first-token"
    assert module.in_cluster_namespace() == "plumbline-system"
    (folder / "token").write_text("rotated-token\n")  # the kubelet rotates it; read again a minute on
    monkeypatch.setattr(module, "TOKEN_REREAD_S", 0.0)
    assert credentials.authorization() == "Bearer rotated-token"


def test_a_kubeconfig_given_or_found_wins_over_the_pod(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    in_pod(tmp_path, monkeypatch)
    path = kubeconfig(tmp_path, user="{token: abc123}")
    assert load(path, None).server == "https://127.0.0.1:6443"
    monkeypatch.setenv("KUBECONFIG", str(path))
    assert load(None, None).server == "https://127.0.0.1:6443"


def test_an_ipv6_service_host_is_bracketed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    in_pod(tmp_path, monkeypatch, host="fd00::1")
    assert load(None, None).server == "https://[fd00::1]:443"


def test_missing_service_account_files_are_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = in_pod(tmp_path, monkeypatch)
    (folder / "token").unlink()
    with pytest.raises(ClusterError, match="cannot read the service account's token and CA in"):
        load(None, None)
