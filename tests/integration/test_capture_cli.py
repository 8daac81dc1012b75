"""`plumb capture` on the real control plane: live edits (a `kubectl edit` of DB_HOST, an env var
added live) become a commit on a new branch; syncing that branch then reverts nothing and the plan
shows no drift for the captured fields. Real Git repository, real API server, the CLI as a user runs
it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from plumbline.cluster import Cluster
from plumbline.local import ControlPlane
from tests.support import cli
from tests.support.config import app_yaml
from tests.support.git import git, init_repo
from tests.support.manifests import config_map_yaml, deployment_yaml, kustomize_files

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("users_services")]

DEPLOYMENT = "# users-api: the API and nothing else\n" + deployment_yaml(
    "users-api",
    container="api",
    image="nginx:1.27  # bumped by CI",
    more='          env:\n            - name: PORT\n              value: "8080"\n',
)
A = "pgbouncer.users.svc.cluster.local"
CONFIG_MAP = config_map_yaml(
    "users-api-env", {"DB_HOST": A}, comment="PgBouncer in front of the users database"
)
B = "pgbouncer-primary.users.svc.cluster.local"


def oncall(tmp_path: Path, plane: ControlPlane, cache: Path) -> dict[str, str]:
    """The on-call engineer's environment: the config and store in ``tmp_path``, the cache given."""
    env = cli.plumb_env(
        kubeconfig=plane.kubeconfig,
        config=tmp_path / "plumbline.yaml",
        store=tmp_path / "plumbline.db",
        actor="oncall@example.com",
    )
    return env | {"PLUMBLINE_CACHE_DIR": str(cache)}


def plumb(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return cli.plumb(*args, env=env)


def patch(cluster: Cluster, kind: str, api_version: str, name: str, namespace: str, **how: Any) -> None:
    info = cluster.discovery.lookup(api_version, kind)
    assert info is not None
    cluster.request("PATCH", info.path(namespace=namespace, name=name), **how)


def test_capture_writes_a_branch_that_syncs_without_reverting_the_live_edits(
    tmp_path: Path, control_plane: ControlPlane, namespace: str, isolated_cache: Path
) -> None:
    repo = tmp_path / "repo"
    (repo / "users-api").mkdir(parents=True)
    (repo / "users-api" / "deployment.yaml").write_text(DEPLOYMENT)
    (repo / "users-api" / "configmap.yaml").write_text(CONFIG_MAP)
    init_repo(repo, message="users-api")
    (tmp_path / "plumbline.yaml").write_text(app_yaml("users-api", namespace=namespace, path="users-api"))
    env = oncall(tmp_path, control_plane, isolated_cache)
    first = plumb(env, "sync", "users-api")
    assert first.returncode == 0, first.stdout + first.stderr

    with Cluster(kubeconfig=control_plane.kubeconfig) as cluster:
        patch(cluster, "ConfigMap", "v1", "users-api-env", namespace,
              query={"fieldManager": "kubectl-edit"}, body={"data": {"DB_HOST": B}},
              content_type="application/merge-patch+json")  # fmt: skip
        patch(cluster, "Deployment", "apps/v1", "users-api", namespace,
              query={"fieldManager": "kubectl-edit"},
              body={"spec": {"template": {"spec": {"containers": [
                  {"name": "api", "env": [{"name": "FEATURE_BULK_IMPORT", "value": "on"}]}]}}}},
              content_type="application/strategic-merge-patch+json")  # fmt: skip

    main_before = git(repo, "rev-parse", "main")
    shown = plumb(env, "capture", "users-api")
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert f"+  DB_HOST: {B}" in shown.stdout and "+            - name: FEATURE_BULK_IMPORT" in shown.stdout
    assert "--write" in shown.stdout
    assert git(repo, "branch", "--list", "plumbline/*") == ""  # nothing written without --write

    written = plumb(env, "capture", "users-api", "--write", "--branch", "capture-db-host", "-o", "json")
    assert written.returncode == 0, written.stdout + written.stderr
    result = json.loads(written.stdout)
    assert result["unmapped"] == []
    assert {(c["object"].split()[0], c["field"]) for c in result["captured"]} == {
        ("ConfigMap", "/data/DB_HOST"),
        ("Deployment.apps", "/spec/template/spec/containers/[name=api]/env/[name=FEATURE_BULK_IMPORT]"),
    }
    assert result["commit"]["branch"] == "capture-db-host"
    assert git(repo, "rev-parse", "main") == main_before
    assert git(repo, "rev-parse", "capture-db-host") == result["commit"]["sha"]
    assert "# PgBouncer in front of the users database" in git(
        repo, "show", "capture-db-host:users-api/configmap.yaml"
    )

    again = plumb(env, "capture", "users-api", "--write", "--branch", "capture-db-host")
    assert again.returncode == 2 and "already exists" in again.stderr

    # The captured branch: its plan has no drift left, and it syncs without --revert-drift.
    diff = plumb(env, "diff", "users-api", "--revision", "capture-db-host", "-o", "json")
    plan = json.loads(diff.stdout)
    left = [
        (o["kind"], c["pointer"], c["attribution"])
        for o in plan["objects"]
        for c in o["changes"]
        if c["attribution"] in ("drift-revert", "conflict", "unmanaged-addition")
    ]
    assert left == []
    synced = plumb(env, "sync", "users-api", "--revision", "capture-db-host")
    assert synced.returncode == 0, synced.stdout + synced.stderr
    with Cluster(kubeconfig=control_plane.kubeconfig) as cluster:
        info = cluster.discovery.lookup("v1", "ConfigMap")
        assert info is not None
        config_map = cluster.get(info, name="users-api-env", namespace=namespace)
        assert config_map is not None and config_map["data"]["DB_HOST"] == B


CHART = {
    "Chart.yaml": "apiVersion: v2\nname: users-api\nversion: 1.0.0\n",
    "values.yaml": "db:\n  host: localhost\n",
    "values-prod.yaml": f"# production\ndb:\n  host: {A}  # PgBouncer\n",
    "templates/config.yaml": CONFIG_MAP.replace(A, "{{ .Values.db.host }}").replace(
        "  # PgBouncer in front of the users database\n", ""
    ),
}
KUSTOMIZE = kustomize_files(
    {"configmap.yaml": CONFIG_MAP},
    "# prod overlay\nresources:\n- ../base\nnameSuffix: -prod\n",
    overlay_dir="prod",
)


@pytest.mark.parametrize(
    ("layout", "app", "extra", "config_map", "edited"),
    [
        ("helm", CHART, "    helm:\n      valueFiles: [users-api/values-prod.yaml]\n", "users-api-env",
         "users-api/values-prod.yaml"),
        ("kustomize", KUSTOMIZE, "", "users-api-env-prod",
         "users-api/prod/capture-configmap-users-api-env-prod.yaml"),
    ],
)  # fmt: skip
def test_capture_of_helm_and_kustomize_apps_syncs_clean(
    tmp_path: Path,
    isolated_cache: Path,
    control_plane: ControlPlane,
    namespace: str,
    layout: str,
    app: dict[str, str],
    extra: str,
    config_map: str,
    edited: str,
) -> None:
    repo = tmp_path / "repo"
    for file, content in app.items():
        (repo / "users-api" / file).parent.mkdir(parents=True, exist_ok=True)
        (repo / "users-api" / file).write_text(content)
    init_repo(repo, message=layout)
    path = "users-api/prod" if layout == "kustomize" else "users-api"
    name = f"users-api-{layout}"  # apps are found by name across namespaces: one per test
    config = app_yaml(name, namespace=namespace, path=path, source_extra=extra)
    (tmp_path / "plumbline.yaml").write_text(config)
    env = oncall(tmp_path, control_plane, isolated_cache)
    first = plumb(env, "sync", name)
    assert first.returncode == 0, first.stdout + first.stderr
    with Cluster(kubeconfig=control_plane.kubeconfig) as cluster:
        patch(cluster, "ConfigMap", "v1", config_map, namespace,
              query={"fieldManager": "kubectl-edit"}, body={"data": {"DB_HOST": B}},
              content_type="application/merge-patch+json")  # fmt: skip

    written = plumb(env, "capture", name, "--write", "-o", "json")
    assert written.returncode == 0, written.stdout + written.stderr
    result = json.loads(written.stdout)
    assert [(c["field"], c["value"]) for c in result["captured"]] == [("/data/DB_HOST", json.dumps(B))]
    assert edited in [e["path"] for e in result["edits"]]
    branch = result["commit"]["branch"]
    assert branch.startswith(f"plumbline/capture-{name}-")

    diff = plumb(env, "diff", name, "--revision", branch, "-o", "json")
    plan = json.loads(diff.stdout)
    assert [c for o in plan["objects"] for c in o["changes"] if c["attribution"] != "runtime"] == []
    synced = plumb(env, "sync", name, "--revision", branch)
    assert synced.returncode == 0, synced.stdout + synced.stderr
