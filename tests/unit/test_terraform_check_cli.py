"""``plumb check --terraform PLAN.json`` as CI runs it (a subprocess, no cluster), on real Terraform plans
(tests/data/terraform-plans) — seed 01's Friday merge: a plan for prod from a branch meant for test,
replacing the database — and the same guards in Git mode for an App with ``spec.terraform``."""

from __future__ import annotations

import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support import cli
from tests.support.config import seed01_infra_config
from tests.support.data import TERRAFORM_PLANS
from tests.support.git import commit_all, git
from tests.support.guards import GUESTBOOK

REPLACE = TERRAFORM_PLANS / "show-json" / "requires-replace" / "output.json"  # test_instance.test -/+

CONFIG = seed01_infra_config(
    name="orders-infra",
    repo="./repo",
    path="apps/guestbook",
    namespace="guestbook",
    protect="{protectedTypes: [test_instance]}",
    project_extra="  blastRadius: {maxDeletePercent: 100}\n",
    terraform="{path: infra}",
)
MAIN_TF = """\
resource "test_instance" "test" {
  ami = "force-replace"
}
"""
EXCEPTION = """\
---
apiVersion: plumbline.dev/v1alpha1
kind: GuardException
metadata: {name: rebuild-test-instance}
spec:
  app: orders-infra
  guard: destructive
  target: {kind: Terraform, name: test_instance.test}
  reason: the test instance is rebuilt every release (INFRA-7)
  owner: team-infra
  expires: {expires}
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """The team's repository, on branch feature/friday: the guestbook app and infra/ with a plan for prod
    (variable environment = prod) that replaces the protected test_instance."""
    if shutil.which("git") is None:
        pytest.skip("needs git to make the test repository")
    repo = tmp_path / "repo"
    (repo / "apps" / "guestbook").mkdir(parents=True)
    (repo / "infra").mkdir()
    git(repo, "init", "-q", "-b", "main")
    for f in GUESTBOOK.glob("*.yaml"):
        shutil.copy(f, repo / "apps" / "guestbook" / f.name)
    (repo / "infra" / "main.tf").write_text(MAIN_TF)
    commit_all(repo, "guestbook and infra")
    git(repo, "checkout", "-q", "-b", "feature/friday")
    plan = json.loads(REPLACE.read_text())
    plan["variables"] = {"environment": {"value": "prod"}}
    (repo / "infra" / "plan.json").write_text(json.dumps(plan))
    commit_all(repo, "the friday change")
    (tmp_path / "plumbline.yaml").write_text(CONFIG)
    return repo


def plumb(tmp_path: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = cli.offline_env(tmp_path, tmp_path / "plumbline.yaml")
    return cli.plumb(*args, env=env, cwd=cwd or tmp_path, timeout=120)


def report(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    [one] = json.loads(result.stdout)["apps"]
    assert isinstance(one, dict)
    return one


def test_seed_01_the_friday_plan_for_prod_is_blocked_with_every_reason(tmp_path: Path, repo: Path) -> None:
    junit, sarif = tmp_path / "junit.xml", tmp_path / "check.sarif"
    args = ("check", "--terraform", "infra/plan.json", "--junit", str(junit), "--sarif", str(sarif))
    result = plumb(tmp_path, *args, cwd=repo)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "[environment] TerraformPlan/infra/plan.json environment" in result.stdout
    assert (
        "is on feature/friday, which may reach only test: 'prod' takes revisions from main" in result.stdout
    )
    assert "[destructive] Terraform/test_instance.test change.actions" in result.stdout
    # infra/main.tf is at hand (the App's spec.terraform.path here): no prevent_destroy on the block.
    assert "[destructive] Terraform/test_instance.test lifecycle.prevent_destroy" in result.stdout

    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("name") == "orders-infra" and suite.get("failures") == "2"
    results = json.loads(sarif.read_text())["runs"][0]["results"]
    errors = {
        (r["ruleId"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"])
        for r in results
        if r["level"] == "error"
    }
    assert errors == {("environment", "infra/plan.json"), ("destructive", "infra/plan.json")}
    warning = next(r for r in results if r["level"] == "warning")
    assert "in infra/main.tf" in warning["message"]["text"]

    as_json = report(plumb(tmp_path, "check", "--terraform", "infra/plan.json", "-o", "json", cwd=repo))
    assert as_json["terraformPlans"] == ["infra/plan.json"] and as_json["blocked"] and as_json["base"] is None
    assert as_json["head"] == git(repo, "rev-parse", "HEAD")
    assert {(f["guard"], f["subject"]) for f in as_json["findings"] if f["severity"] == "block"} == {
        ("environment", "TerraformPlan/infra/plan.json"),
        ("destructive", "Terraform/test_instance.test"),
    }


def test_from_main_the_prod_plan_is_still_not_the_test_apps(tmp_path: Path, repo: Path) -> None:
    result = plumb(
        tmp_path, "check", "--terraform", "infra/plan.json", "--branch", "main", "-o", "json", cwd=repo
    )
    messages = [f["message"] for f in report(result)["findings"] if f["guard"] == "environment"]
    assert messages == [
        "the plan is for environment 'prod' (variable environment = 'prod'), "
        "but app 'orders-infra' deploys to 'test'"
    ]


def test_recorded_approvals_let_each_block_through(tmp_path: Path, repo: Path) -> None:
    plan = "infra/plan.json"
    allowed = plumb(
        tmp_path,
        "check",
        "--terraform",
        plan,
        "--allow",
        "environment:TerraformPlan/infra/plan.json",
        "--allow",
        "destructive:Terraform/test_instance.test",
        "--reason",
        "rebuilding test on purpose (CHG-9)",
        "-o",
        "json",
        cwd=repo,
    )
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    assert {(o["subject"], o["via"], o["reason"]) for o in report(allowed)["overridden"]} == {
        ("TerraformPlan/infra/plan.json", "--allow", "rebuilding test on purpose (CHG-9)"),
        ("Terraform/test_instance.test", "--allow", "rebuilding test on purpose (CHG-9)"),
    }

    no_reason = plumb(
        tmp_path,
        "check",
        "--terraform",
        plan,
        "--allow",
        "destructive:Terraform/test_instance.test",
        cwd=repo,
    )
    assert no_reason.returncode == 2 and "needs --reason" in no_reason.stderr

    # A standing exception covers the replacement; a commit trailer the environment.
    expires = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    (tmp_path / "plumbline.yaml").write_text(CONFIG + EXCEPTION.replace("{expires}", expires))
    git(
        repo,
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "go\n\nPlumb-Allow: environment TerraformPlan/infra/plan.json",
    )
    standing = plumb(tmp_path, "check", "--terraform", plan, "-o", "json", cwd=repo)
    assert standing.returncode == 0, standing.stdout + standing.stderr
    vias = {o["subject"]: o["via"] for o in report(standing)["overridden"]}
    assert vias == {"TerraformPlan/infra/plan.json": "trailer", "Terraform/test_instance.test": "exception"}
    [use] = report(standing)["exceptions"]
    assert use["name"] == "rebuild-test-instance" and use["covers"] == [
        {"subject": "Terraform/test_instance.test", "field": "change.actions"}
    ]


def test_a_malformed_plan_is_an_error_naming_file_and_field(tmp_path: Path, repo: Path) -> None:
    bad = json.loads(REPLACE.read_text())
    bad["resource_changes"][0]["change"]["actions"] = "replace"
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    result = plumb(tmp_path, "check", "--terraform", str(tmp_path / "bad.json"), "orders-infra")
    assert result.returncode == 2
    assert "bad.json: resource_changes[0].change.actions: expected a list, got a string" in result.stderr
    assert "Traceback" not in result.stderr

    missing = plumb(tmp_path, "check")
    assert missing.returncode == 2 and "--terraform PLAN.json" in missing.stderr


def test_git_mode_checks_the_apps_terraform_at_head(tmp_path: Path, repo: Path) -> None:
    config = CONFIG.replace("terraform: {path: infra}", "terraform: {path: infra, plan: infra/plan.json}")
    (tmp_path / "plumbline.yaml").write_text(config)
    result = plumb(tmp_path, "check", "--base", "main", "--head", "feature/friday", "-o", "json")
    assert result.returncode == 1, result.stdout + result.stderr
    found = report(result)
    assert found["terraformPlans"] == ["infra/plan.json"]
    blocks = {(f["guard"], f["subject"], f["file"]) for f in found["findings"] if f["severity"] == "block"}
    assert blocks == {
        ("environment", "TerraformPlan/infra/plan.json", "infra/plan.json"),
        ("destructive", "Terraform/test_instance.test", "infra/plan.json"),
    }

    # An App without spec.terraform: the plan given by hand goes with it, its *.tf read beside it.
    (tmp_path / "plumbline.yaml").write_text(CONFIG.replace("  terraform: {path: infra}\n", ""))
    args = (
        "check",
        "--base",
        "main",
        "--head",
        "feature/friday",
        "--terraform",
        "infra/plan.json",
        "-o",
        "json",
    )
    by_hand = report(plumb(tmp_path, *args, cwd=repo))
    assert by_hand["terraformPlans"] == ["infra/plan.json"]
    warned = {(f["subject"], f["field"]) for f in by_hand["findings"] if f["severity"] == "warn"}
    assert ("Terraform/test_instance.test", "lifecycle.prevent_destroy") in warned

    # On main there is no plan yet: the configuration alone is read, and that says so.
    (tmp_path / "plumbline.yaml").write_text(CONFIG)
    static = report(plumb(tmp_path, "check", "--base", "main", "--head", "main", "-o", "json"))
    assert not static["blocked"] and static["terraformPlans"] == []
    assert {(f["subject"], f["field"]) for f in static["findings"]} == {
        ("TerraformPlan/infra", None),
        ("Terraform/test_instance.test", "lifecycle.prevent_destroy"),
    }
