"""Terraform plans as Terraform wrote them (tests/data/terraform-plans, hashicorp/terraform v1.5.7): read
exactly as the corpus says, and what the Terraform guards make of each. Pure logic, no binary."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from plumbline.errors import TerraformPlanError
from plumbline.guards import Finding, Severity
from plumbline.guards.terraform import check_terraform, environment_named, named_environments, protected_why
from plumbline.terraform import TerraformConfig, TerraformPlan, load_plan, parse_plan, read_config
from tests.support.data import TERRAFORM_PLANS
from tests.support.guards import context, environment, project

SHOW = TERRAFORM_PLANS / "show-json"
EQUIV = TERRAFORM_PLANS / "equivalence-tests"

# The corpus README's table: each file's resource_changes[].change.actions, by address.
EXPECTED_ACTIONS: dict[Path, dict[str, list[str]]] = {
    SHOW / "basic-create/output.json": {f"test_instance.test[{i}]": ["create"] for i in range(3)},
    SHOW / "basic-delete/output.json": {
        "test_instance.test": ["update"],
        "test_instance.test-delete": ["delete"],
    },
    SHOW / "requires-replace/output.json": {"test_instance.test": ["delete", "create"]},
    SHOW / "drift/output.json": {
        "test_instance.no_refresh": ["update"],
        "test_instance.should_refresh": ["update"],
    },
    SHOW / "moved/output.json": {"test_instance.baz": ["update"]},
    SHOW / "multi-resource-update/output.json": {
        "test_instance.test[0]": ["no-op"],
        "test_instance.test[1]": ["create"],
    },
    SHOW / "modules/output.json": {
        "module.module_test_bar.test_instance.test": ["create"],
        **{f"module.module_test_foo.test_instance.test[{i}]": ["create"] for i in range(3)},
    },
    EQUIV / "local_provider_update/plan.json": {"local_file.local_file": ["delete", "create"]},
    EQUIV / "local_provider_delete/plan.json": {"local_file.local_file": ["delete"]},
    EQUIV / "replace_within_list/plan.json": {"tfcoremock_list.list": ["delete", "create"]},
    EQUIV / "simple_object_update/plan.json": {"tfcoremock_object.object": ["update"]},
    EQUIV / "drift_relevant_attributes/plan.json": {
        "tfcoremock_simple_resource.base": ["update"],
        "tfcoremock_simple_resource.dependent": ["update"],
    },
    EQUIV / "data_read/plan.json": {
        "data.tfcoremock_simple_resource.read": ["read"],
        "tfcoremock_simple_resource.create": ["create"],
        "module.create.local_file.data_file": ["create"],
        "module.create.random_integer.random": ["create"],
    },
}
# What each destroys or replaces (the rest only create, read, update or do nothing).
DESTROYS = {
    SHOW / "basic-delete/output.json": "test_instance.test-delete",
    SHOW / "requires-replace/output.json": "test_instance.test",
    EQUIV / "local_provider_update/plan.json": "local_file.local_file",
    EQUIV / "local_provider_delete/plan.json": "local_file.local_file",
    EQUIV / "replace_within_list/plan.json": "tfcoremock_list.list",
}
EVERYTHING = project(terraform={"protectedTypes": ["test_instance", "local_file", "tfcoremock_*"]})


def _check(plan: TerraformPlan | None, **kw: Any) -> list[Finding]:
    config: TerraformConfig | None = kw.pop("config", None)
    found, _ = check_terraform(plan, context=context(**kw), config=config, config_label="infra")
    return found


def _blocks(findings: list[Finding]) -> set[str]:
    return {f"{f.guard}:{f.subject}" for f in findings if f.blocks}


def test_the_corpus_is_complete() -> None:
    assert sorted(EXPECTED_ACTIONS) == sorted(TERRAFORM_PLANS.glob("*/*/*.json"))


@pytest.mark.parametrize(
    "path", sorted(EXPECTED_ACTIONS), ids=lambda p: f"{p.parent.parent.name}/{p.parent.name}"
)
def test_each_plan_reads_as_terraform_wrote_it(path: Path) -> None:
    plan = load_plan(path)
    assert {c.address: [a.value for a in c.actions] for c in plan.changes} == EXPECTED_ACTIONS[path]


def test_why_a_change_replaces_is_kept() -> None:
    [change] = load_plan(SHOW / "requires-replace/output.json").changes
    assert (change.reason, change.replace_paths, change.replaces) == (
        "replace_because_cannot_update",
        ("ami",),
        True,
    )
    [listed] = load_plan(EQUIV / "replace_within_list/plan.json").changes
    assert listed.replace_paths == ("list[1].id",)
    data = load_plan(EQUIV / "data_read/plan.json")
    module = {c.address: c.module for c in data.changes}
    assert module["module.create.local_file.data_file"] == "module.create"
    assert not any(c.deletes for c in data.changes)


@pytest.mark.parametrize(
    "path", sorted(EXPECTED_ACTIONS), ids=lambda p: f"{p.parent.parent.name}/{p.parent.name}"
)
def test_a_protected_resource_destroyed_blocks_and_nothing_else_does(path: Path) -> None:
    budget = project(
        terraform=EVERYTHING.spec.terraform.model_dump(by_alias=True), blastRadius={"maxDeletePercent": 100}
    )
    findings = _check(load_plan(path), the_project=budget)
    destroyed = DESTROYS.get(path)
    assert _blocks(findings) == ({f"destructive:Terraform/{destroyed}"} if destroyed else set())


def test_an_unprotected_replacement_warns_and_an_unprotected_delete_is_only_counted() -> None:
    relaxed = project(blastRadius={"maxDeletePercent": 100})
    replaced = _check(load_plan(SHOW / "requires-replace/output.json"), the_project=relaxed)
    assert [(f.severity, f.subject) for f in replaced] == [(Severity.WARN, "Terraform/test_instance.test")]
    assert "cannot make in place: ami" in replaced[0].message
    assert _check(load_plan(SHOW / "basic-delete/output.json"), the_project=relaxed) == []


def test_the_blast_radius_counts_deletes_and_replacements_of_what_exists() -> None:
    plan = load_plan(SHOW / "basic-delete/output.json")  # 1 delete of 2 existing: 50%
    assert _blocks(_check(plan)) == {f"destructive:TerraformPlan/{plan.label}"}  # default 30%
    assert _blocks(_check(plan, the_project=project(blastRadius={"maxDeletePercent": 50}))) == set()
    message = next(f.message for f in _check(plan) if f.field == "resource_changes")
    assert "destroys 1 of 2 existing resources (50%" in message


def test_protected_by_default_and_by_project() -> None:
    defaults = project().spec.terraform
    assert protected_why("aws_db_instance", "aws_db_instance.main", defaults) == "a database"
    assert protected_why("aws_s3_bucket", "module.logs.aws_s3_bucket.b", defaults) == "a bucket"
    assert protected_why("aws_s3_bucket_policy", "aws_s3_bucket_policy.b", defaults) is None
    assert protected_why("aws_ebs_volume", "aws_ebs_volume.v", defaults) == "a volume"
    assert protected_why("aws_kms_key", "aws_kms_key.k", defaults) == "a KMS key"
    assert protected_why("google_dns_managed_zone", "google_dns_managed_zone.z", defaults) == "a DNS zone"
    assert protected_why("aws_instance", "aws_instance.web", defaults) is None
    own = project(
        terraform={"protectedAddresses": ['aws_instance.web["a"]', "module.core.*"], "defaultTypes": False}
    )
    spec = own.spec.terraform
    assert protected_why("aws_instance", 'aws_instance.web["a"]', spec) is not None  # [ and " are themselves
    assert protected_why("aws_instance", 'aws_instance.web["b"]', spec) is None
    assert protected_why("aws_vpc", "module.core.aws_vpc.main", spec) is not None
    assert protected_why("aws_db_instance", "aws_db_instance.main", spec) is None


def _with(path: Path, **top: Any) -> str:
    data = json.loads(path.read_text())
    data.update(top)
    return json.dumps(data)


def test_seed_01_a_plan_for_prod_from_a_branch_that_reaches_only_test_is_blocked(tmp_path: Path) -> None:
    text = _with(SHOW / "basic-create/output.json", variables={"environment": {"value": "production"}})
    plan = parse_plan(text, path=tmp_path / "plan.json", label="plan.json")
    test = environment("test", branches=["test", "feature/*"])
    prod = environment("prod", branches=["main"])
    envs = {"test": test, "prod": prod}
    assert environment_named("production", envs) is prod
    assert [str(n) for n in named_environments(plan, workspace=None)] == [
        "variable environment = 'production'"
    ]

    findings = _check(
        plan, the_env=test, environments=envs, branches=("feature/friday",), revision="feature/friday"
    )
    [binding] = [f for f in findings if f.guard == "environment"]
    assert binding.blocks and binding.subject == "TerraformPlan/plan.json"
    assert "environment 'prod' (variable environment = 'production')" in binding.message
    assert (
        "is on feature/friday, which may reach only test: 'prod' takes revisions from main" in binding.message
    )
    assert binding.message.endswith("and app 'orders' deploys to 'test'")

    # From main it may reach prod, but the app deploys to test: still the wrong plan for this app.
    from_main = _check(plan, the_env=test, environments=envs, branches=("main",))
    assert [f.message for f in from_main if f.blocks] == [
        "the plan is for environment 'prod' (variable environment = 'production'), "
        "but app 'orders' deploys to 'test'"
    ]
    # The prod app, from main: bound right.
    assert _blocks(_check(plan, the_env=prod, environments=envs, branches=("main",))) == set()


def test_workspace_and_tags_name_the_environment_too(tmp_path: Path) -> None:
    data = json.loads((SHOW / "basic-create/output.json").read_text())
    data["resource_changes"][0]["change"]["after"]["tags"] = {"Environment": "prod"}
    plan = parse_plan(json.dumps(data), path=tmp_path / "p.json", label="p.json")
    named = [str(n) for n in named_environments(plan, workspace="staging")]
    assert named == ["workspace = 'staging'", "tag Environment of test_instance.test[0] = 'prod'"]
    assert named_environments(plan, workspace="default")[0].source.startswith("tag")


def test_an_unknown_environment_name_warns(tmp_path: Path) -> None:
    text = _with(SHOW / "basic-create/output.json", variables={"env": {"value": "qa"}})
    plan = parse_plan(text, path=tmp_path / "plan.json", label="plan.json")
    envs = {"test": environment("test"), "prod": environment("prod", branches=["main"])}
    [warning] = _check(plan, environments=envs)
    assert warning.severity is Severity.WARN and "'qa' (variable env)" in warning.message


def test_prevent_destroy_is_read_from_the_configuration_and_its_local_modules(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(
        'resource "aws_db_instance" "main" {\n  lifecycle {\n    prevent_destroy = true\n  }\n}\n'
        'resource "aws_s3_bucket" "logs" {\n  bucket = "logs"\n}\n'
        'module "data" {\n  source = "./modules/data"\n}\n'
        'module "remote" {\n  source = "terraform-aws-modules/vpc/aws"\n}\n'
    )
    (tmp_path / "modules" / "data").mkdir(parents=True)
    (tmp_path / "modules" / "data" / "disk.tf").write_text(
        'resource "aws_ebs_volume" "disk" {\n  size = 1\n}\n'
    )
    config = read_config(tmp_path, label="infra")
    assert {b.address: b.prevent_destroy for b in config.blocks.values()} == {
        "aws_db_instance.main": True,
        "aws_s3_bucket.logs": False,
        "module.data.aws_ebs_volume.disk": False,
    }
    assert not config.known("module.remote.module.inner") and config.known("module.data")
    found = _check(None, config=config)
    assert {(f.subject, f.field, f.severity) for f in found} == {
        ("Terraform/aws_s3_bucket.logs", "lifecycle.prevent_destroy", Severity.WARN),
        ("Terraform/module.data.aws_ebs_volume.disk", "lifecycle.prevent_destroy", Severity.WARN),
    }
    assert "infra/modules/data/disk.tf" in next(f.fix for f in found if "disk" in f.subject)


def test_invalid_hcl_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text('resource "aws_db_instance" "main" {\n  lifecycle {\n')
    with pytest.raises(TerraformPlanError, match=r"^infra/main\.tf: not valid HCL"):
        read_config(tmp_path, label="infra")


def _one_change(change: str) -> str:
    resource = f'{{"address": "a.b", "mode": "managed", "type": "a", "name": "b", {change}}}'
    return f'{{"format_version": "1.2", "resource_changes": [{resource}]}}'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{not json", r"^plan\.json: line 1 column 2: not JSON"),
        ("[]", r"^plan\.json: \(top level\): expected an object, got a list"),
        ('{"format_version": "1.0", "values": {}}', r"a state \(`show -json` without a plan file\)"),
        ('{"planned_values": {}}', r"^plan\.json: format_version: expected a non-empty string"),
        (
            '{"format_version": "1.2", "planned_values": {}, "errored": true}',
            r"^plan\.json: errored: true: the plan did not complete",
        ),
        (
            _one_change('"change": {"actions": "delete"}'),
            r"^plan\.json: resource_changes\[0\]\.change\.actions: expected a list, got a string",
        ),
        (
            _one_change('"change": {"actions": ["destroy"]}'),
            r"^plan\.json: resource_changes\[0\]\.change\.actions: 'destroy' is not an action",
        ),
        (
            '{"format_version": "1.2", "resource_changes": [{"mode": "managed", "change": {"actions": []}}]}',
            r"^plan\.json: resource_changes\[0\]\.address: expected a non-empty string, got nothing",
        ),
    ],
)
def test_a_malformed_plan_names_the_file_and_the_field(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(TerraformPlanError, match=expected):
        parse_plan(text, path=tmp_path / "plan.json", label="plan.json")


def test_values_the_plan_marks_sensitive_are_never_read(tmp_path: Path) -> None:
    data = json.loads((SHOW / "basic-create/output.json").read_text())
    data["variables"] = {"environment": {"value": "prod"}}
    data["configuration"]["root_module"]["variables"] = {"environment": {"sensitive": True}}
    change = data["resource_changes"][0]["change"]
    change["after"]["tags"] = {"env": "prod", "owner": "db-team"}
    change["after_sensitive"] = {"tags": {"env": True}}
    plan = parse_plan(json.dumps(data), path=tmp_path / "p.json", label="p.json")
    assert plan.variables == {"environment": None}
    assert plan.changes[0].after["tags"] == {"env": None, "owner": "db-team"}
    assert named_environments(plan, workspace=None) == []
