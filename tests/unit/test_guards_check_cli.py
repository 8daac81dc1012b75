"""``plumb check`` as CI runs it: a subprocess with KUBECONFIG pointing nowhere and no control plane."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.support import cli
from tests.support.git import commit_all, git
from tests.support.guards import GUESTBOOK

CONFIG = """\
apiVersion: plumbline.dev/v1alpha1
kind: Project
metadata: {name: shop}
spec:
  destinations: [{namespace: guestbook}]
---
apiVersion: plumbline.dev/v1alpha1
kind: Environment
metadata: {name: test}
---
apiVersion: plumbline.dev/v1alpha1
kind: Environment
metadata: {name: prod}
spec: {branches: [main], protected: true}
---
apiVersion: plumbline.dev/v1alpha1
kind: App
metadata: {name: guestbook}
spec:
  project: shop
  environment: prod
  mode: prune
  source: {repoURL: ./repo, targetRevision: main, path: apps/guestbook}
  destination: {namespace: guestbook}
"""
PVC = """\
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
"""
SECRET = """\
apiVersion: v1
kind: Secret
metadata: {name: db}
stringData: {password: correct-horse-battery-staple}
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    if shutil.which("git") is None:
        pytest.skip("needs git to make the test repository")
    repo = tmp_path / "repo"
    app = repo / "apps" / "guestbook"
    app.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    for f in GUESTBOOK.glob("*.yaml"):
        shutil.copy(f, app / f.name)
    (app / "pvc.yaml").write_text(PVC)
    commit_all(repo, "guestbook")
    (tmp_path / "plumbline.yaml").write_text(CONFIG)
    return repo


def plumb(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "KUBECONFIG": str(tmp_path / "no-such-kubeconfig"),
        "PLUMBLINE_STATE_DIR": str(tmp_path / "state"),  # no local control plane to find
        "PLUMBLINE_CONFIG": str(tmp_path / "plumbline.yaml"),
        "NO_COLOR": "1",
    }
    return cli.plumb(*args, env=env, cwd=tmp_path, timeout=120)


def test_a_friday_merge_request_is_blocked_offline_with_every_reason(tmp_path: Path, repo: Path) -> None:
    git(repo, "checkout", "-q", "-b", "friday")
    app = repo / "apps" / "guestbook"
    (app / "pvc.yaml").unlink()
    (app / "secret.yaml").write_text(SECRET)
    cm = (app / "configmap.yaml").read_text()
    (app / "configmap.yaml").write_text(
        cm.replace("guestbook.guestbook.svc.cluster.local:80", "old-guestbook.svc.cluster.local")
    )
    commit_all(repo, "friday changes")

    junit, sarif = tmp_path / "junit.xml", tmp_path / "check.sarif"
    result = plumb(
        tmp_path, "check", "--base", "main", "--head", "friday", "--junit", str(junit), "--sarif", str(sarif)
    )
    assert result.returncode == 1, result.stderr
    text = result.stdout
    for expected in (
        "[environment] App/guestbook",
        "[destructive] PersistentVolumeClaim guestbook/data",
        "[secrets] Secret guestbook/db",
        "[references] ConfigMap guestbook/guestbook-env data.INVENTORY_SERVICE_URL",
    ):
        assert expected in text, text
    assert "correct-horse" not in text + junit.read_text() + sarif.read_text()
    suites = ET.parse(junit).getroot()
    assert int(suites.find("testsuite").get("failures")) == 4  # type: ignore[union-attr, arg-type]
    results = json.loads(sarif.read_text())["runs"][0]["results"]
    assert {r["ruleId"] for r in results if r["level"] == "error"} == {
        "environment",
        "destructive",
        "secrets",
        "references",
    }

    as_json = json.loads(plumb(tmp_path, "check", "--base", "main", "--head", "friday", "-o", "json").stdout)
    [report] = as_json["apps"]
    assert report["blocked"] and {f["guard"] for f in report["findings"] if f["severity"] == "block"} == {
        "environment",
        "destructive",
        "secrets",
        "references",
    }


def test_a_clean_change_on_main_passes(tmp_path: Path, repo: Path) -> None:
    base = git(repo, "rev-parse", "HEAD")
    cm = repo / "apps" / "guestbook" / "configmap.yaml"
    cm.write_text(cm.read_text().replace("LOG_LEVEL: info", "LOG_LEVEL: debug"))
    git(repo, "commit", "-qam", "debug logs")
    result = plumb(tmp_path, "check", "--base", base, "--head", "main")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "nothing blocks" in result.stdout


def test_a_commit_trailer_approves_the_named_deletion(tmp_path: Path, repo: Path) -> None:
    base = git(repo, "rev-parse", "HEAD")
    (repo / "apps" / "guestbook" / "pvc.yaml").unlink()
    git(
        repo,
        "commit",
        "-qam",
        "drop the scratch volume\n\nPlumb-Allow: destructive PersistentVolumeClaim/data",
    )
    result = plumb(tmp_path, "check", "--base", base, "--head", "main", "-o", "json")
    assert result.returncode == 0, result.stdout + result.stderr
    [report] = json.loads(result.stdout)["apps"]
    assert [o["subject"] for o in report["overridden"]] == ["PersistentVolumeClaim/data"]
    assert report["overridden"][0]["via"] == "trailer"


def exception_doc(expires: str) -> str:
    return f"""---
apiVersion: plumbline.dev/v1alpha1
kind: GuardException
metadata: {{name: inventory-url}}
spec:
  app: guestbook
  guard: references
  target: {{kind: ConfigMap, name: guestbook-env, field: data.INVENTORY_SERVICE_URL}}
  reason: the inventory service moves next sprint (INV-42); its old address answers until then
  owner: team-guestbook
  expires: "{expires}"
"""


def test_a_standing_exception_lets_its_finding_through_and_is_listed(tmp_path: Path, repo: Path) -> None:
    from datetime import UTC, datetime, timedelta

    base = git(repo, "rev-parse", "HEAD")
    cm = repo / "apps" / "guestbook" / "configmap.yaml"
    cm.write_text(
        cm.read_text().replace("guestbook.guestbook.svc.cluster.local:80", "old-guestbook.svc.cluster.local")
    )
    git(repo, "commit", "-qam", "inventory through the old address")
    blocked = plumb(tmp_path, "check", "--base", base, "--head", "main")
    assert blocked.returncode == 1, blocked.stdout + blocked.stderr

    soon = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    config = tmp_path / "plumbline.yaml"
    config.write_text(CONFIG + exception_doc(soon))
    sarif_file = tmp_path / "check.sarif"
    result = plumb(
        tmp_path, "check", "--base", base, "--head", "main", "-o", "json", "--sarif", str(sarif_file)
    )
    assert result.returncode == 0, result.stdout + result.stderr
    [report] = json.loads(result.stdout)["apps"]
    [override] = report["overridden"]
    assert (override["via"], override["exception"], override["owner"]) == (
        "exception",
        "inventory-url",
        "team-guestbook",
    )
    [listed] = report["exceptions"]
    assert listed["state"] == "active" and listed["covers"] == [
        {"subject": "ConfigMap/guestbook-env", "field": "data.INVENTORY_SERVICE_URL"}
    ]
    [entry] = [
        r for r in json.loads(sarif_file.read_text())["runs"][0]["results"] if r["ruleId"] == "references"
    ]
    assert entry["suppressions"][0]["justification"].startswith("exception: the inventory service moves")
    table = plumb(tmp_path, "check", "--base", base, "--head", "main").stdout
    assert "overridden" in table and "let through: exception inventory-url (owner team-guestbook)" in table
    active = "exception  active inventory-url: references ConfigMap/guestbook-env data.INVENTORY_SERVICE_URL"
    assert active in table

    config.write_text(CONFIG + exception_doc("2026-01-01"))
    junit = tmp_path / "junit.xml"
    expired = plumb(tmp_path, "check", "--base", base, "--head", "main", "--junit", str(junit))
    assert expired.returncode == 1, expired.stdout + expired.stderr
    assert "standing exception 'inventory-url' (owner team-guestbook) expired 2026-01-01" in expired.stdout
    assert "exception  expired inventory-url" in expired.stdout
    assert "expired 2026-01-01" in junit.read_text()


def test_an_exception_beyond_a_year_is_a_configuration_error(tmp_path: Path, repo: Path) -> None:
    (tmp_path / "plumbline.yaml").write_text(CONFIG + exception_doc("2099-01-01"))
    result = plumb(tmp_path, "check", "--base", "main", "--head", "main")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "GuardException/inventory-url: spec.expires: an exception lasts at most 366 days" in result.stderr


def test_status_lists_each_apps_exceptions_even_without_a_cluster(tmp_path: Path, repo: Path) -> None:
    (tmp_path / "plumbline.yaml").write_text(CONFIG + exception_doc("2026-01-01"))
    result = plumb(tmp_path, "status", "-o", "json")
    assert result.returncode == 2, result.stdout + result.stderr  # no cluster here: an error, not 1
    [row] = json.loads(result.stdout)
    [listed] = row["exceptions"]
    assert (listed["name"], listed["state"], listed["owner"]) == (
        "inventory-url",
        "expired",
        "team-guestbook",
    )
    table = plumb(tmp_path, "status").stdout
    assert "guestbook: expired exception inventory-url (references ConfigMap/guestbook-env" in table


def test_a_misspelled_secret_kind_and_a_token_in_a_readme_block(tmp_path: Path, repo: Path) -> None:
    """Issue 9 item 4: ``kind: secret`` with base64 data and a token in a README are leaks all the same."""
    base = git(repo, "rev-parse", "HEAD")
    app = repo / "apps" / "guestbook"
    (app / "secret.yaml").write_text(
        "apiVersion: v1\nkind: secret\nmetadata: {name: db}\n"
        "data:\n  password: c3VwZXJzZWNyZXQtZGItcGFzc3dvcmQ=\n"
    )
    token = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
    (app / "README.md").write_text(f"# guestbook\n\nCI pushes with `GITHUB_TOKEN={token}`.\n")
    commit_all(repo, "db secret, notes")
    sarif_file = tmp_path / "check.sarif"
    result = plumb(tmp_path, "check", "--base", base, "--head", "main", "--sarif", str(sarif_file))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "[secrets] secret guestbook/db" in result.stdout, result.stdout
    assert "[secrets] File/apps/guestbook/README.md line 3 GITHUB_TOKEN" in result.stdout, result.stdout
    assert "GitHub Token" in result.stdout
    assert token not in result.stdout and "c3VwZXJzZWNyZXQ" not in result.stdout
    locations = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for r in json.loads(sarif_file.read_text())["runs"][0]["results"]
        if r["ruleId"] == "secrets"
    }
    assert locations == {"apps/guestbook/README.md", "apps/guestbook/secret.yaml"}
    assert token not in sarif_file.read_text()


def test_a_commit_sha_and_a_secret_name_are_not_secrets(tmp_path: Path, repo: Path) -> None:
    base = git(repo, "rev-parse", "HEAD")
    cm = repo / "apps" / "guestbook" / "configmap.yaml"
    cm.write_text(
        cm.read_text().rstrip("\n")
        + "\n  GIT_SHA: 3f786850e387550fdab836ed7e6dc881de23001b\n  SECRET_NAME: db-credentials\n"
    )
    git(repo, "commit", "-qam", "build info")
    result = plumb(tmp_path, "check", "--base", base, "--head", "main")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "nothing blocks" in result.stdout
