"""plumbline's kinds as CustomResourceDefinitions on the real control plane: the YAML users write
today applies unchanged with kubectl (client-side and server-side), reads back into the same models,
a typo is refused by the API server's strict field validation, and ``kubectl get apps`` shows the
printer columns from the status subresource."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from plumbline.cluster import Cluster
from plumbline.config import KINDS, as_written
from plumbline.local import ControlPlane
from plumbline.yamlio import load_documents
from tests.support import cli
from tests.support.crd import EXAMPLE, user_files
from tests.support.kubectl import kubectl

pytestmark = pytest.mark.integration


def _stored(cluster: Cluster, kind: str, name: str, namespace: str) -> dict[str, Any]:
    info = cluster.discovery.lookup("plumbline.dev/v1alpha1", kind)
    assert info is not None and info.namespaced, f"{kind} is not served as a namespaced kind"
    live = cluster.get(info, name=name, namespace=namespace)
    assert live is not None, f"{kind}/{name} was not stored"
    return live


@pytest.mark.parametrize("server_side", [True, False], ids=["server-side", "client-side"])
def test_the_yaml_users_write_applies_unchanged_and_reads_back_as_the_same_models(
    control_plane: ControlPlane,
    cluster: Cluster,
    plumbline_crds: list[str],
    namespace: str,
    server_side: bool,
) -> None:
    for file in user_files():
        applied = kubectl(
            control_plane,
            "apply",
            "-n",
            namespace,
            *(["--server-side"] if server_side else []),
            "-f",
            str(file),
        )
        assert applied.returncode == 0, f"{file}: {applied.stderr}"
        for document in load_documents(file.read_text(), file=str(file)):
            written = document.data
            kind, name = written["kind"], written["metadata"]["name"]
            model = KINDS[kind]
            stored = as_written(_stored(cluster, kind, name, namespace))
            assert stored["metadata"].pop("namespace") == namespace
            assert model.model_validate(stored) == model.model_validate(written), f"{file}: {kind}/{name}"


def test_a_field_no_model_declares_is_refused_by_the_api_server(
    control_plane: ControlPlane, plumbline_crds: list[str], namespace: str
) -> None:
    text = EXAMPLE.read_text().replace("  sourceRepos:", "  sourceRepo: [typo]\n  sourceRepos:")
    applied = kubectl(control_plane, "apply", "-n", namespace, "--server-side", "-f", "-", stdin=text)
    assert applied.returncode != 0
    assert ".spec.sourceRepo: field not declared in schema" in applied.stderr


def test_kubectl_get_apps_shows_the_status_columns(
    control_plane: ControlPlane, cluster: Cluster, plumbline_crds: list[str], namespace: str
) -> None:
    assert kubectl(control_plane, "apply", "-n", namespace, "-f", str(EXAMPLE)).returncode == 0
    info = cluster.discovery.lookup("plumbline.dev/v1alpha1", "App")
    assert info is not None
    sha = "0123456789abcdef0123456789abcdef01234567"
    status = {
        "sync": {"status": "Synced", "revision": "HEAD", "sha": sha},
        "health": {"status": "Healthy"},
        "mode": "sync",
        "state": "active",
    }
    cluster.request(
        "PATCH",
        info.path(namespace=namespace, name="guestbook") + "/status",
        body={"status": status},
        content_type="application/merge-patch+json",
    )
    shown = kubectl(control_plane, "get", "apps", "-A")
    assert shown.returncode == 0, shown.stderr
    header, *rows = shown.stdout.splitlines()
    assert header.split() == ["NAMESPACE", "NAME", "SYNC", "HEALTH", "REVISION", "MODE", "STATE", "AGE"]
    (row,) = [r.split() for r in rows if r.split()[:2] == [namespace, "guestbook"]]
    assert row[2:7] == ["Synced", "Healthy", sha, "sync", "active"]


def test_plumb_reads_its_configuration_from_the_cluster(
    control_plane: ControlPlane, plumbline_crds: list[str], namespace: str, tmp_path: Path
) -> None:
    assert kubectl(control_plane, "apply", "-n", namespace, "-f", str(EXAMPLE)).returncode == 0
    env = cli.plumb_env(
        kubeconfig=control_plane.kubeconfig, config=Path(f"cluster:{namespace}"), store=tmp_path / "p.db"
    )
    listed = cli.plumb("apps", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "guestbook" in listed.stdout and "demo" in listed.stdout

    bad = EXAMPLE.read_text().replace("path: apps/guestbook", "path: ../other-team")
    assert kubectl(control_plane, "apply", "-n", namespace, "-f", "-", stdin=bad).returncode == 0
    refused = cli.plumb("apps", env=env)
    assert refused.returncode == 2
    assert f"cluster:{namespace}: App/guestbook: spec.source.path:" in refused.stderr
