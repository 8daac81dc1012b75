"""``plumb rollback`` on the real control plane: a whole revision back (config, Secret and image
together), the failed commit never applied again, the hold, the revert branch, and the new commit
that ends the hold."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest

from plumbline.cluster import Cluster
from plumbline.local import ControlPlane
from tests.support.git import git, write_files
from tests.support.json_keys import not_camel_case
from tests.support.seed04 import PRIMARY, STALE, release
from tests.support.seed04 import live as read_live
from tests.support.sites import Workspace, unique

pytestmark = pytest.mark.integration


GOOD = release(PRIMARY, "registry.invalid/users-api:1.4", password="hunter2")
BAD = release(STALE, "registry.invalid/users-api:1.5", password="correct-horse")


SECRET_ALLOWED = """---
apiVersion: plumbline.dev/v1alpha1
kind: GuardException
metadata: {{name: users-api-db}}
spec:
  app: {app}
  guard: secrets
  target: {{kind: Secret, name: users-api-db}}
  reason: a test database's password, rolled back with the rest
  owner: team-users
  expires: "{expires}"
"""


def live(cluster: Cluster, namespace: str) -> tuple[str, ...]:
    return read_live(cluster, namespace, secret=True)


@pytest.fixture
def world(tmp_path: Path, control_plane: ControlPlane) -> tuple[Workspace, str, str, Cluster]:
    ws = Workspace(tmp_path, control_plane)
    app, namespace = unique("users"), unique("users")
    ws.add_app(app, "app", namespace)
    with ws.config.open("a") as config:  # a Secret in Git: here on purpose, to roll its value back too
        expires = (date.today() + timedelta(days=30)).isoformat()
        config.write(SECRET_ALLOWED.format(app=app, expires=expires))
    cluster = Cluster(kubeconfig=control_plane.kubeconfig)
    return ws, app, namespace, cluster


def test_rollback_applies_the_good_revision_whole_and_holds_the_app_there(
    world: tuple[Workspace, str, str, Cluster],
) -> None:
    ws, app, namespace, cluster = world
    nothing = ws.plumb("rollback", app)
    assert nothing.returncode == 2, nothing.stdout + nothing.stderr
    assert "no successful sync in the history: nothing to roll back from" in nothing.stderr

    write_files(ws.repo, GOOD)
    good = ws.commit("users-api 1.4")
    assert ws.plumb("sync", app).returncode == 0
    write_files(ws.repo, BAD)
    bad = ws.commit("users-api 1.5, and the chart's DB_HOST")
    assert ws.plumb("sync", app).returncode == 0
    assert live(cluster, namespace) == (
        STALE,
        "registry.invalid/users-api:1.5",
        "correct-horse",
    )

    # The dry run shows every field the rollback changes — config, Secret and image — and writes nothing.
    dry = ws.plumb("rollback", app, "--dry-run")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert f"rolling back from {bad[:12]} (history #2, main) to {good[:12]} (history #1, main" in dry.stdout
    changes = dry.stdout.split("this rollback changes (3):")[1].splitlines()[1:4]
    assert sorted(line.strip().split(" ", 1)[0] for line in changes) == [
        "ConfigMap",
        "Deployment.apps",
        "Secret",
    ]
    assert f"ConfigMap {namespace}/users-api-env /data/DB_HOST" in dry.stdout
    assert (
        f"Deployment.apps {namespace}/users-api /spec/template/spec/containers/[name=api]/image" in dry.stdout
    )
    assert f"Secret {namespace}/users-api-db /data/password" in dry.stdout
    assert "hunter2" not in dry.stdout and "correct-horse" not in dry.stdout  # fingerprints only
    assert "dry-run" in dry.stdout
    assert live(cluster, namespace)[1] == "registry.invalid/users-api:1.5"

    done = ws.plumb(
        "rollback",
        app,
        "--reason",
        "5xx after the release",
        "--write-revert-branch",
        "revert/users",
        "-o",
        "json",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert not_camel_case(result) == []
    assert result["to"] == {"sync": 1, "revision": "main", "sha": good}
    assert result["from"]["sha"] == bad
    assert result["record"]["result"] == "succeeded"
    assert result["record"]["flags"]["rollback"] == {"to": good, "history": 1, "from": bad}
    assert live(cluster, namespace) == (
        PRIMARY,
        "registry.invalid/users-api:1.4",
        "hunter2",
    )

    # The revert commit: the good revision's files, on top of the failed commit, for review.
    commit = result["revertCommit"]
    assert commit["branch"] == "revert/users" and commit["base"] == bad
    assert sorted(commit["files"]) == ["app/db.yaml", "app/deployment.yaml", "app/env.yaml"]
    assert git(ws.repo, "rev-parse", "revert/users^") == bad
    assert git(ws.repo, "diff", "--stat", good, "revert/users") == ""
    assert git(ws.repo, "rev-parse", "main") == bad  # main itself is left for people to merge into

    status = ws.plumb("status", app, "-o", "json")
    (row,) = json.loads(status.stdout)
    assert not_camel_case(row) == []
    assert row["state"] == "held" and row["lastSyncedSha"] == good
    assert row["held"]["revision"] == good and row["held"]["failed"] == bad
    assert row["held"]["reason"] == "5xx after the release"
    table = ws.plumb("status", app)
    assert f"{app} is held at {good[:12]} (rolled back from {bad[:12]}" in table.stdout

    # The failed commit is not applied again, not even by hand: Git must change first.
    again = ws.plumb("sync", app)
    assert again.returncode == 1, again.stdout + again.stderr
    assert f"{bad[:12]} was rolled back to {good[:12]} by tester@ci" in again.stdout
    assert "never applied again by itself" in again.stdout
    assert live(cluster, namespace)[1] == "registry.invalid/users-api:1.4"

    audit = ws.plumb("audit", app).stdout
    actions = [line.split()[5:8:2] for line in audit.splitlines() if line[:1].isdigit()]
    assert ["rollback", "started"] in actions and ["rollback", "held"] in actions

    # The fix: a new commit keeps the right DB_HOST and ships 1.5; its sync ends the hold.
    write_files(ws.repo, {**BAD, "app/env.yaml": GOOD["app/env.yaml"]})
    fixed = ws.commit("users-api 1.5 with pgbouncer-primary")
    synced = ws.plumb("sync", app)
    assert synced.returncode == 0, synced.stdout + synced.stderr
    assert live(cluster, namespace) == (
        PRIMARY,
        "registry.invalid/users-api:1.5",
        "correct-horse",
    )
    (row,) = json.loads(ws.plumb("status", app, "-o", "json").stdout)
    assert row["state"] == "active" and row["held"] is None and row["lastSyncedSha"] == fixed
    assert "resume" in ws.plumb("audit", app).stdout.splitlines()[-1]


def test_rollback_to_a_named_revision_and_the_usage_errors(
    world: tuple[Workspace, str, str, Cluster],
) -> None:
    ws, app, namespace, cluster = world
    write_files(ws.repo, GOOD)
    good = ws.commit("1.4")
    assert ws.plumb("sync", app).returncode == 0
    write_files(ws.repo, BAD)
    ws.commit("1.5")
    assert ws.plumb("sync", app).returncode == 0

    both = ws.plumb("rollback", app, "--to", good[:8], "--to-history", "1")
    assert both.returncode == 2 and "give --to or --to-history, not both" in " ".join(both.stderr.split())
    unknown = ws.plumb("rollback", app, "--to", "0badc0de")
    assert unknown.returncode == 2
    assert "no successful sync of '0badc0de' in the history (recent: #2" in unknown.stderr
    done = ws.plumb("rollback", app, "--to", good[:8])
    assert done.returncode == 0, done.stdout + done.stderr
    assert live(cluster, namespace)[0] == PRIMARY
    already = ws.plumb("rollback", app, "--to-history", "1")
    assert already.returncode == 2 and f"is at {good[:12]} already" in already.stderr
