"""``plumb check`` as CI runs it: a subprocess with KUBECONFIG pointing nowhere and no control plane."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from _guards_support import GUESTBOOK

PLUMB = (
    "import sys; from plumbline.cli.app import app; from plumbline.cli.check import register; "
    "register(app); sys.argv[0] = 'plumb'; app()"
)
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


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=T", "-c", "user.email=t@example.com", *args],
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout.strip()


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
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "guestbook")
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
    return subprocess.run(
        [sys.executable, "-c", PLUMB, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )


def test_a_friday_merge_request_is_blocked_offline_with_every_reason(tmp_path: Path, repo: Path) -> None:
    git(repo, "checkout", "-q", "-b", "friday")
    app = repo / "apps" / "guestbook"
    (app / "pvc.yaml").unlink()
    (app / "secret.yaml").write_text(SECRET)
    cm = (app / "configmap.yaml").read_text()
    (app / "configmap.yaml").write_text(
        cm.replace("guestbook.guestbook.svc.cluster.local:80", "old-guestbook.svc.cluster.local")
    )
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "friday changes")

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
