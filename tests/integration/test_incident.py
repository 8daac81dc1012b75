"""The incident of seeds/04-drift-postmortem.txt, end to end through `plumb`, on the real control plane:
a six-month-old `kubectl edit` of DB_HOST must not be reverted silently by a deploy that only changed
the image. Real Git repository, real API server, the CLI as a user runs it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from plumbline.cluster import Cluster
from plumbline.local import ControlPlane
from tests.support import cli
from tests.support.cluster import create
from tests.support.config import app_yaml
from tests.support.git import commit_all, git
from tests.support.manifests import config_map_yaml, deployment_yaml, manifest

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("users_services")]


ENV_FROM = "          envFrom:\n            - configMapRef: {name: users-api-env}\n"
A = "pgbouncer.users.svc.cluster.local"
CONFIG_MAP = config_map_yaml("users-api-env", {"DB_HOST": A})
B = "pgbouncer-primary.users.svc.cluster.local"


class Repo:
    def __init__(self, root: Path, plane: ControlPlane, namespace: str) -> None:
        self.repo = root / "repo"
        (self.repo / "users-api").mkdir(parents=True)
        git(self.repo, "init", "-q", "-b", "main")
        config = root / "plumbline.yaml"
        config.write_text(app_yaml("users-api", namespace=namespace, path="users-api"))
        self.env = cli.plumb_env(
            kubeconfig=plane.kubeconfig, config=config, store=root / "plumbline.db", actor="oncall@example"
        )

    def commit(self, image: str, message: str) -> None:
        (self.repo / "users-api" / "deployment.yaml").write_text(
            deployment_yaml("users-api", container="api", image=image, more=ENV_FROM)
        )
        (self.repo / "users-api" / "configmap.yaml").write_text(CONFIG_MAP)
        commit_all(self.repo, message)

    def plumb(self, *args: str) -> subprocess.CompletedProcess[str]:
        return cli.plumb(*args, env=self.env)


def live(cluster: Cluster, api_version: str, kind: str, name: str, namespace: str) -> dict[str, Any]:
    info = cluster.discovery.lookup(api_version, kind)
    assert info is not None
    obj = cluster.get(info, name=name, namespace=namespace)
    assert obj is not None
    return obj


def patch(cluster: Cluster, kind: str, api_version: str, name: str, namespace: str, **how: Any) -> None:
    info = cluster.discovery.lookup(api_version, kind)
    assert info is not None
    cluster.request("PATCH", info.path(namespace=namespace, name=name), **how)


def image_of(cluster: Cluster, namespace: str) -> str:
    deployment = live(cluster, "apps/v1", "Deployment", "users-api", namespace)
    return str(deployment["spec"]["template"]["spec"]["containers"][0]["image"])


def db_host(cluster: Cluster, namespace: str) -> str:
    return str(live(cluster, "v1", "ConfigMap", "users-api-env", namespace)["data"]["DB_HOST"])


def test_a_deploy_does_not_silently_revert_a_live_edit(
    tmp_path: Path, control_plane: ControlPlane, namespace: str
) -> None:
    repo = Repo(tmp_path, control_plane, namespace)
    repo.commit("nginx:1.27", "revision 1")
    first = repo.plumb("sync", "users-api")
    assert first.returncode == 0, first.stdout + first.stderr

    with Cluster(kubeconfig=control_plane.kubeconfig) as cluster:
        # The incident: someone fixes DB_HOST live, the way `kubectl edit` does (an Update).
        patch(
            cluster,
            "ConfigMap",
            "v1",
            "users-api-env",
            namespace,
            query={"fieldManager": "kubectl-edit"},
            body={"data": {"DB_HOST": B}},
            content_type="application/merge-patch+json",
        )
        repo.commit("nginx:1.28", "revision 2: only the image")

        diff = repo.plumb("diff", "users-api", "-o", "json")
        assert diff.returncode == 1, diff.stderr
        plan = json.loads(diff.stdout)
        changes = {
            (o["kind"], c["pointer"]): c
            for o in plan["objects"]
            for c in o["changes"]
            if c["attribution"] != "runtime"
        }
        assert set(changes) == {
            ("Deployment", "/spec/template/spec/containers/[name=api]/image"),
            ("ConfigMap", "/data/DB_HOST"),
        }
        image = changes[("Deployment", "/spec/template/spec/containers/[name=api]/image")]
        assert image["attribution"] == "commit"
        assert (image["live"], image["git"], image["lastSynced"]) == (
            "nginx:1.27",
            "nginx:1.28",
            "nginx:1.27",
        )
        drift = changes[("ConfigMap", "/data/DB_HOST")]
        assert drift["attribution"] == "drift-revert"
        assert (drift["live"], drift["git"], drift["lastSynced"]) == (B, A, A)
        assert drift["editor"]["manager"] == "kubectl-edit" and drift["editor"]["operation"] == "Update"
        assert drift["editor"]["time"]

        people = repo.plumb("diff", "users-api")
        assert people.returncode == 1
        assert "a live edit owns these fields: sync refuses unless --revert-drift" in people.stdout
        (line,) = [ln for ln in people.stdout.splitlines() if "/data/DB_HOST" in ln]
        assert "drift-revert" in line and f'"{B}" → "{A}"' in line
        assert "kubectl-edit, Update, " in line and ("ago" in line or "just now" in line)
        (line,) = [ln for ln in people.stdout.splitlines() if ln.strip().startswith("commit ")]
        assert '"nginx:1.27" → "nginx:1.28"' in line

        refused = repo.plumb("sync", "users-api")
        assert refused.returncode == 1, refused.stdout + refused.stderr
        assert (
            "blocked" in refused.stdout
            and "/data/DB_HOST" in refused.stdout
            and "kubectl-edit" in refused.stdout
        )
        assert "--revert-drift" in refused.stdout
        assert (
            db_host(cluster, namespace) == B and image_of(cluster, namespace) == "nginx:1.27"
        )  # nothing written

        report = repo.plumb("drift", "users-api")
        assert report.returncode == 1, report.stdout + report.stderr
        assert "/data/DB_HOST" in report.stdout and report.stdout.rstrip().endswith(
            "rebuildable from Git: no"
        )

        reverted = repo.plumb("sync", "users-api", "--revert-drift")
        assert reverted.returncode == 0, reverted.stdout + reverted.stderr
        assert db_host(cluster, namespace) == A and image_of(cluster, namespace) == "nginx:1.28"

        history = json.loads(repo.plumb("history", "users-api", "-o", "json").stdout)
        assert [r["result"] for r in history] == ["succeeded", "blocked", "succeeded"]
        newest, blocked = history[0], history[1]
        assert newest["flags"]["revertDrift"] is True and newest["actor"] == "oncall@example"
        assert newest["flags"]["reverted"] == [
            {
                "object": f"ConfigMap {namespace}/users-api-env",
                "pointer": "/data/DB_HOST",
                "attribution": "drift-revert",
            }
        ]
        assert "/data/DB_HOST" in blocked["message"]

        clean = repo.plumb("drift", "users-api", "-o", "json")
        assert clean.returncode == 0, clean.stdout + clean.stderr
        assert json.loads(clean.stdout)["rebuildable"] is True


def test_unmanaged_additions_are_shown_then_removed_only_on_request(
    tmp_path: Path, control_plane: ControlPlane, namespace: str
) -> None:
    repo = Repo(tmp_path, control_plane, namespace)
    repo.commit("nginx:1.27", "revision 1")
    assert repo.plumb("sync", "users-api").returncode == 0

    with Cluster(kubeconfig=control_plane.kubeconfig) as cluster:
        # A person adds an env var Git never had, and a ConfigMap no app owns.
        patch(
            cluster,
            "Deployment",
            "apps/v1",
            "users-api",
            namespace,
            query={"fieldManager": "kubectl-patch"},
            body={
                "spec": {
                    "template": {
                        "spec": {"containers": [{"name": "api", "env": [{"name": "DEBUG", "value": "1"}]}]}
                    }
                }
            },
            content_type="application/strategic-merge-patch+json",
        )
        create(cluster, manifest("v1", "ConfigMap", "hand-made", data={"x": "1"}), namespace)

        report = repo.plumb("drift", "users-api", "-o", "json")
        assert report.returncode == 1, report.stdout + report.stderr
        data = json.loads(report.stdout)
        (added,) = data["drifted"]
        assert added["attribution"] == "unmanaged-addition"
        assert added["pointer"] == "/spec/template/spec/containers/[name=api]/env/[name=DEBUG]"
        assert (
            added["live"] == {"name": "DEBUG", "value": "1"} and added["editor"]["manager"] == "kubectl-patch"
        )
        assert [(o["kind"], o["name"]) for o in data["unowned"]] == [("ConfigMap", "hand-made")]
        assert data["rebuildable"] is False

        # A plain sync keeps the addition (server-side apply never removes another manager's field).
        assert repo.plumb("sync", "users-api").returncode == 0
        env = live(cluster, "apps/v1", "Deployment", "users-api", namespace)["spec"]["template"]["spec"][
            "containers"
        ][0]
        assert env.get("env") == [{"name": "DEBUG", "value": "1"}]

        removed = repo.plumb("sync", "users-api", "--revert-drift")
        assert removed.returncode == 0, removed.stdout + removed.stderr
        container = live(cluster, "apps/v1", "Deployment", "users-api", namespace)["spec"]["template"][
            "spec"
        ]["containers"][0]
        assert "env" not in container
        after = json.loads(repo.plumb("drift", "users-api", "-o", "json").stdout)
        assert after["drifted"] == [] and [o["name"] for o in after["unowned"]] == ["hand-made"]

        # An object Git tracks, deleted live: reported missing (Git can rebuild it, so not the verdict).
        info = cluster.discovery.lookup("v1", "ConfigMap")
        assert info is not None
        cluster.delete(info, name="users-api-env", namespace=namespace)
        gone = json.loads(repo.plumb("drift", "users-api", "-o", "json").stdout)
        assert [(o["kind"], o["name"]) for o in gone["missing"]] == [("ConfigMap", "users-api-env")]
        assert gone["drifted"] == [] and gone["rebuildable"] is False  # still: hand-made
        cluster.delete(info, name="hand-made", namespace=namespace)
        rebuilt = repo.plumb("drift", "users-api")
        assert rebuilt.returncode == 0, rebuilt.stdout
        assert rebuilt.stdout.rstrip().endswith("rebuildable from Git: yes")
