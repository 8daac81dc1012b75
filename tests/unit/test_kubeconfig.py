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
