"""The Terraform plan guard on plans real OpenTofu made (the opentofu kit's ``tofu init/apply/plan/show
-json`` on ``terraform_data`` configurations, tests/support/tofu.py): seed 01's Friday merge — a plan for
prod from a branch meant for test that replaces the database — blocked for every reason, and a careful
change in test let through. No cluster is needed; ``plumb check`` runs as CI runs it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from plumbline.terraform import load_plan
from plumbline.toolchain import KITS
from tests.support import cli
from tests.support.config import seed01_infra_config
from tests.support.tofu import RealPlans

pytestmark = pytest.mark.integration

CONFIG = seed01_infra_config(
    name="orders",
    repo="REPO",
    path="apps/orders",
    namespace="orders",
    protect="{protectedAddresses: [terraform_data.db]}",
    terraform="{path: infra, plan: infra/plan.json}",
)
FRIDAY_BLOCKS = {
    ("environment", "TerraformPlan/infra/plan.json"),
    ("destructive", "Terraform/terraform_data.db"),  # ["delete","create"]
    ("destructive", "TerraformPlan/infra/plan.json"),  # 3 of 3 destroyed: over the 30% budget
}


def plumb(repo: Path, *args: str, config_text: str = CONFIG) -> tuple[int, dict[str, Any], str]:
    config = repo.parent / f"{repo.name}-plumbline.yaml"
    config.write_text(config_text.replace("REPO", str(repo)))
    env = cli.offline_env(repo.parent / f"{repo.name}-state", config)
    env["PLUMBLINE_CACHE_DIR"] = str(repo.parent / f"{repo.name}-cache")
    done: subprocess.CompletedProcess[str] = cli.plumb(*args, "-o", "json", env=env, cwd=repo, timeout=120)
    assert done.returncode in (0, 1), done.stdout + done.stderr
    [report] = json.loads(done.stdout)["apps"]
    return done.returncode, report, done.stderr


def by_severity(report: dict[str, Any], severity: str) -> set[tuple[str, str]]:
    return {(f["guard"], f["subject"]) for f in report["findings"] if f["severity"] == severity}


def test_tofu_plans_every_kind_of_destroy_and_they_read_as_planned(tofu_plans: RealPlans) -> None:
    assert tofu_plans.version == f"OpenTofu {KITS['opentofu'].version}"
    plan = load_plan(tofu_plans.friday / "infra" / "plan.json")
    assert {c.address: ([a.value for a in c.actions], c.reason) for c in plan.changes} == {
        "terraform_data.db": (["delete", "create"], "replace_because_cannot_update"),
        "terraform_data.cache": (["delete"], "delete_because_no_resource_config"),
        "terraform_data.web": (["create", "delete"], "replace_because_cannot_update"),
    }
    assert (
        plan.variables == {"environment": "prod"} and plan.terraform_version == KITS["opentofu"].version[1:]
    )
    careful = load_plan(tofu_plans.careful / "infra" / "plan.json")
    assert {c.address: [a.value for a in c.actions] for c in careful.changes} == {
        "terraform_data.db": ["no-op"],
        "terraform_data.cache": ["update"],
        "terraform_data.web": ["no-op"],
    }


def test_seed_01_the_friday_plan_is_blocked_for_every_reason(tofu_plans: RealPlans) -> None:
    code, report, _ = plumb(tofu_plans.friday, "check", "--terraform", "infra/plan.json")
    assert code == 1 and report["terraformPlans"] == ["infra/plan.json"]
    assert by_severity(report, "block") == FRIDAY_BLOCKS
    binding = next(f for f in report["findings"] if f["guard"] == "environment")
    for evidence in (
        "workspace = 'prod'",  # infra/.terraform/environment, as `tofu workspace new` left it
        "variable environment = 'prod'",
        "tag environment of terraform_data.db = 'prod'",
        "is on feature/friday, which may reach only test",
        "app 'orders' deploys to 'test'",
    ):
        assert evidence in binding["message"]
    assert by_severity(report, "warn") == {
        ("destructive", "Terraform/terraform_data.web"),  # an unprotected ["create","delete"]
        ("destructive", "Terraform/terraform_data.db"),  # no prevent_destroy in infra/main.tf
    }


def test_the_same_plan_in_git_mode_and_approved_by_name(tofu_plans: RealPlans) -> None:
    code, report, _ = plumb(tofu_plans.friday, "check", "--base", "main", "--head", "feature/friday")
    assert code == 1 and by_severity(report, "block") == FRIDAY_BLOCKS
    binding = next(f for f in report["findings"] if f["guard"] == "environment")
    assert "workspace = 'prod'" in binding["message"]  # where CI ran tofu: infra/.terraform/environment

    approvals = [a for key in sorted(f"{g}:{s}" for g, s in FRIDAY_BLOCKS) for a in ("--allow", key)]
    code, approved, _ = plumb(
        tofu_plans.friday,
        "check",
        "--terraform",
        "infra/plan.json",
        *approvals,
        "--reason",
        "DB-42 upgrade window",
    )
    assert code == 0 and {(o["guard"], o["subject"]) for o in approved["overridden"]} == FRIDAY_BLOCKS


def test_a_careful_change_in_test_passes_clean(tofu_plans: RealPlans) -> None:
    code, report, _ = plumb(tofu_plans.careful, "check", "--terraform", "infra/plan.json")
    assert code == 0 and report["findings"] == [], report["findings"]


def test_every_kind_of_destroy_of_a_protected_resource_blocks(tofu_plans: RealPlans) -> None:
    protect_all = CONFIG.replace(
        "protectedAddresses: [terraform_data.db]", "protectedTypes: [terraform_data]"
    )
    code, report, _ = plumb(
        tofu_plans.friday, "check", "--terraform", "infra/plan.json", config_text=protect_all
    )
    destroys = [f for f in report["findings"] if f["field"] == "change.actions"]
    assert code == 1 and {(f["subject"], f["severity"]) for f in destroys} == {
        ("Terraform/terraform_data.db", "block"),
        ("Terraform/terraform_data.cache", "block"),
        ("Terraform/terraform_data.web", "block"),
    }
    messages = {f["subject"]: f["message"] for f in destroys}
    assert '(["delete","create"])' in messages["Terraform/terraform_data.db"]
    assert '(["delete"])' in messages["Terraform/terraform_data.cache"]
    assert "creates the new one, then destroys" in messages["Terraform/terraform_data.web"]
