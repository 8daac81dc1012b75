"""The guards over a Terraform/OpenTofu plan (``tofu show -json``): the environment and destructive guards'
rules, for infrastructure instead of manifests. Seed 01, incident 1: a Friday merge meant for test
reached production "and with it a Terraform script that wiped our live database".

* **environment binding** (guard ``environment``): the environment the plan is for — its workspace, a
  root variable or a resource tag named ``environment``/``env`` — must be one the revision's branch may
  reach (the Environment's ``branches``), and the app's own environment;
* **deletes and replacements** (guard ``destructive``): ``["delete"]``, ``["delete","create"]`` and
  ``["create","delete"]`` of a protected resource block without a recorded approval; a replacement of an
  unprotected one warns;
* **blast radius** (guard ``destructive``): more deletes than the Project's ``blastRadius`` allows;
* **prevent_destroy** (guard ``destructive``, a warning): a protected resource whose block does not set
  ``lifecycle { prevent_destroy = true }``.

Findings name ``Terraform/<address>`` (a resource) or ``TerraformPlan/<plan file>`` (the whole plan), so
``--allow destructive:Terraform/aws_db_instance.main``, ``Plumb-Allow:`` trailers and GuardExceptions
(``target: {kind: Terraform, name: aws_db_instance.main}``) work as for any other finding.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from plumbline.config import Environment, GuardName, Severity, TerraformProtection
from plumbline.guards._model import Finding, GuardContext, finding
from plumbline.guards.environment import ENVIRONMENT_KEYS
from plumbline.terraform import ResourceChange, TerraformAction, TerraformConfig, TerraformPlan

RESOURCE_KIND = "Terraform"
PLAN_KIND = "TerraformPlan"

# The resource types protected unless a Project sets terraform.defaultTypes: false. Globs over the
# type name, so one line covers every provider that spells it the same way.
DEFAULT_PROTECTED: Mapping[str, tuple[str, ...]] = {
    "database": (
        "*_db_instance",
        "*_db_cluster",
        "*_rds_cluster",
        "*_rds_cluster_instance",
        "*_rds_global_cluster",
        "*_dynamodb_table",
        "*_docdb_cluster",
        "*_neptune_cluster",
        "*_redshift_cluster",
        "*_elasticache_cluster",
        "*_elasticache_replication_group",
        "*_sql_database_instance",
        "*_database",
        "*_database_instance",
        "*_cosmosdb_account",
        "*_postgresql_server",
        "*_postgresql_flexible_server",
        "*_mysql_server",
        "*_mysql_flexible_server",
        "*_mssql_server",
        "*_spanner_instance",
        "*_bigtable_instance",
        "*_bigquery_dataset",
    ),
    "bucket": ("*_bucket", "*_storage_account", "*_storage_container"),
    "volume": (
        "*_volume",
        "*_ebs_volume",
        "*_efs_file_system",
        "*_fsx_*_file_system",
        "*_compute_disk",
        "*_compute_region_disk",
        "*_managed_disk",
        "*_filestore_instance",
    ),
    "KMS key": ("*_kms_key", "*_kms_crypto_key", "*_kms_key_ring", "*_key_vault", "*_key_vault_key"),
    "DNS zone": (
        "*_route53_zone",
        "*_dns_managed_zone",
        "*_dns_zone",
        "*_private_dns_zone",
        "cloudflare_zone",
    ),
}

# Where a resource's planned values keep tags (AWS, Azure: tags/tags_all; Google: labels).
TAG_KEYS = frozenset({"tags", "tags_all", "labels", "default_tags"})
_TAG_DEPTH = 3  # tags may sit in a nested block (terraform_data's input, a launch template's tag spec)

# Environment names that mean the same one (a plan tagged "production" is for Environment "prod").
_SYNONYMS = {
    "production": "prod",
    "prd": "prod",
    "staging": "stage",
    "stg": "stage",
    "testing": "test",
    "tst": "test",
    "development": "dev",
}

# Why Terraform plans a delete or replacement (plan JSON's action_reason), in words.
_REASONS = {
    "replace_because_cannot_update": "a change it cannot make in place",
    "replace_because_tainted": "it is tainted",
    "replace_by_request": "-replace asked for it",
    "replace_by_triggers": "replace_triggered_by",
    "delete_because_no_resource_config": "its block is gone from the configuration",
    "delete_because_no_module": "its module is gone from the configuration",
    "delete_because_wrong_repetition": "count/for_each was added or removed",
    "delete_because_count_index": "its count index is gone",
    "delete_because_each_key": "its for_each key is gone",
    "delete_because_no_move_target": "its moved target does not exist",
}


@dataclass(frozen=True)
class Named:
    """An environment the plan names, and where: ``workspace``, ``variable environment``, ``tag env of
    aws_db_instance.main``."""

    value: str
    source: str

    def __str__(self) -> str:
        return f"{self.source} = {self.value!r}"


def named_environments(plan: TerraformPlan, *, workspace: str | None) -> list[Named]:
    """Every environment name the plan carries: the workspace (not ``default``), root variables named
    like an environment key, and tag values under such keys (the first resource of each value)."""
    names: list[Named] = []
    if workspace and workspace != "default":
        names.append(Named(workspace, "workspace"))
    keys = {k.lower() for k in ENVIRONMENT_KEYS}
    for var, value in sorted(plan.variables.items()):
        if var.lower() in keys and isinstance(value, str) and value:
            names.append(Named(value, f"variable {var}"))
    seen: set[str] = set()
    for change in plan.managed:
        if change.actions == (TerraformAction.DELETE,):
            continue
        for key, value in _tags(change.after, _TAG_DEPTH):
            if key.lower() in keys and value not in seen:
                seen.add(value)
                names.append(Named(value, f"tag {key} of {change.address}"))
    return names


def _tags(values: Any, depth: int) -> Iterator[tuple[str, str]]:
    if depth < 0 or not isinstance(values, dict):
        return
    for key, value in values.items():
        if key in TAG_KEYS and isinstance(value, dict):
            yield from ((k, v) for k, v in value.items() if isinstance(v, str) and v)
        elif isinstance(value, dict):
            yield from _tags(value, depth - 1)
        elif isinstance(value, list):
            for item in value:
                yield from _tags(item, depth - 1)


def environment_named(value: str, environments: Mapping[str, Environment]) -> Environment | None:
    """The configured Environment ``value`` names (``production`` is ``prod``), else None."""
    wanted = _canonical(value)
    for env in environments.values():
        if _canonical(env.name) == wanted:
            return env
    return None


def _canonical(name: str) -> str:
    lowered = name.strip().lower()
    return _SYNONYMS.get(lowered, lowered)


def protected_why(change_type: str, address: str, spec: TerraformProtection) -> str | None:
    """Why a resource of ``change_type`` at ``address`` is protected (``a database``, ``protectedTypes
    aws_instance``), else None. Addresses match with and without their instance key."""
    block = _block_address(address)
    for pattern in spec.protected_addresses:
        if _glob(pattern).fullmatch(address) or _glob(pattern).fullmatch(block):
            return f"Project terraform.protectedAddresses {pattern}"
    for pattern in spec.protected_types:
        if _glob(pattern).fullmatch(change_type):
            return f"Project terraform.protectedTypes {pattern}"
    if spec.default_types:
        for what, patterns in DEFAULT_PROTECTED.items():
            if any(_glob(p).fullmatch(change_type) for p in patterns):
                return f"a {what}"
    return None


def _glob(pattern: str) -> re.Pattern[str]:
    """``*`` matches anything; every other character is itself (addresses hold ``[`` and ``"``)."""
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")))


_INDEX = re.compile(r"\[[^\]]*\]$")


def _block_address(address: str) -> str:
    """``module.db.aws_db_instance.main`` of ``module.db.aws_db_instance.main["a"]``."""
    return _INDEX.sub("", address)


def check_terraform(
    plan: TerraformPlan | None,
    *,
    context: GuardContext,
    config: TerraformConfig | None,
    config_label: str,
    workspace: str | None = None,
    bind_app_environment: bool = True,
) -> tuple[list[Finding], dict[str, str]]:
    """The findings for ``plan`` (None: only the configuration's ``prevent_destroy``), and the file each
    finding's subject comes from. ``bind_app_environment``: a plan that names no environment is checked
    against the app's (``plumb check --terraform``; in Git mode the environment guard already does)."""
    findings: list[Finding] = []
    sources: dict[str, str] = {}
    if plan is not None:
        subject = f"{PLAN_KIND}/{plan.label}"
        sources[subject] = plan.label
        findings += _binding(plan, context, subject, workspace, bind_app_environment)
        for change in plan.managed:
            if change.deletes:
                sources[f"{RESOURCE_KIND}/{change.address}"] = plan.label
                findings += _delete(change, context)
        findings += _blast_radius(plan, context, subject)
    found, lacking = _prevent_destroy(plan, context, config, config_label)
    findings += found
    for subject, file in lacking.items():  # a subject has one file: the plan's, when it is in the plan
        sources.setdefault(subject, file)
    return findings, sources


def _binding(
    plan: TerraformPlan, context: GuardContext, subject: str, workspace: str | None, fallback: bool
) -> list[Finding]:
    environments = context.environments
    configured: dict[str, list[Named]] = {}
    findings: list[Finding] = []
    for named in named_environments(plan, workspace=workspace):
        env = environment_named(named.value, environments)
        if env is not None:
            configured.setdefault(env.name, []).append(named)
        elif len(environments) > 1:
            message = (
                f"the plan names environment {named.value!r} ({named.source}), which no Environment is "
                f"configured for ({', '.join(sorted(environments))}); its branch binding is not checked"
            )
            fix = "name the Environment as the plan does, or correct the plan's workspace, variable or tag"
            findings.append(_warn(GuardName.ENVIRONMENT, subject, message, fix))
    if not configured and fallback:
        configured[context.environment.name] = [Named(context.environment.name, f"app {context.app.name}")]
    here = context.environment
    checkout = context.checkout
    branches = checkout.branches
    revision = f"{checkout.revision} ({checkout.sha[:12]})" if checkout.sha else checkout.revision
    for name, evidence in configured.items():
        env = environments[name]
        into = ", ".join(env.spec.branches)
        says = f"the plan is for environment {name!r} ({'; '.join(str(e) for e in evidence)})"
        problems, fixes = [], []
        if branches is None and not (env.spec.branches == ["*"] or env.allows_branch(checkout.revision)):
            problems.append(
                f"{name!r} takes revisions from {into} only, and which branch {revision} is on is not known"
            )
            fixes.append(f"give the plan's branch (--branch), or merge the change into {into} first")
        elif branches is not None and not any(env.allows_branch(b) for b in branches):
            reach = [e.name for e in environments.values() if any(e.allows_branch(b) for b in branches)]
            problems.append(
                f"{revision} is on {', '.join(branches) or 'no branch'}, which may reach only "
                f"{', '.join(reach) or 'no environment'}: {name!r} takes revisions from {into}"
            )
            fixes.append(
                f"merge the change into {into} first, or plan for the environment this branch is for"
            )
        if name != here.name:
            problems.append(f"app {context.app.name!r} deploys to {here.name!r}")
            fixes.append(
                f"plan with {here.name}'s workspace and variables, or check it as an app of {name}'s"
            )
        if problems:
            message = f"{says}, but {'; and '.join(problems)}"
            fix = "; ".join(fixes)
            findings.append(
                finding(GuardName.ENVIRONMENT, subject, message, fix, field="environment", overridable=True)
            )
    return findings


def _delete(change: ResourceChange, context: GuardContext) -> list[Finding]:
    why_protected = protected_why(change.type, change.address, context.project.spec.terraform)
    if why_protected is None and not change.replaces:
        return []  # an unprotected delete counts towards the blast radius only
    if change.actions == (TerraformAction.DELETE,):
        does = "destroys"
    elif change.actions[0] is TerraformAction.CREATE:
        does = "replaces (creates the new one, then destroys)"
    else:
        does = "replaces (destroys, then creates again)"
    why = _REASONS.get(change.reason, change.reason or "")
    if change.replace_paths:
        why = f"{why}: {', '.join(change.replace_paths)}" if why else ", ".join(change.replace_paths)
    because = f" because {why}" if why else ""
    subject = f"{RESOURCE_KIND}/{change.address}"
    field = "change.actions"
    if why_protected is None:
        actions = change.spelled_actions
        message = f"the plan {does} {change.address}{because} ({actions}); its ID and state start over"
        fix = "revert what forces the replacement if it was not meant"
        return [_warn(GuardName.DESTRUCTIVE, subject, message, fix, field=field)]
    message = (
        f"the plan {does} the protected {change.type} {change.address} ({why_protected}){because} "
        f"({change.spelled_actions}); its data goes with it"
    )
    fix = "keep it (restore its block, or revert what forces the replacement); if it must go, approve it"
    return [finding(GuardName.DESTRUCTIVE, subject, message, fix, field=field, overridable=True)]


def _blast_radius(plan: TerraformPlan, context: GuardContext, subject: str) -> list[Finding]:
    deleted = [c for c in plan.managed if c.deletes]
    existing = [c for c in plan.managed if c.existed]
    limits = context.project.spec.blast_radius
    share = 100 * len(deleted) / max(len(existing), 1)
    if not deleted or (len(deleted) <= limits.max_deletes and share <= limits.max_delete_percent):
        return []
    message = (
        f"the plan destroys {len(deleted)} of {len(existing)} existing resources ({share:.0f}%, replacements "
        f"included); Project {context.project.name!r} allows at most {limits.max_deletes} or "
        f"{limits.max_delete_percent}% (blastRadius)"
    )
    fix = "check the plan lost nothing by mistake (a renamed module or count), or apply it in smaller steps"
    return [finding(GuardName.DESTRUCTIVE, subject, message, fix, field="resource_changes", overridable=True)]


def _prevent_destroy(
    plan: TerraformPlan | None, context: GuardContext, config: TerraformConfig | None, config_label: str
) -> tuple[list[Finding], dict[str, str]]:
    spec = context.project.spec.terraform
    # (module, type.name) -> the protected block's address and why it is protected
    wanted: dict[tuple[str, str], tuple[str, str, str]] = {}
    if plan is not None:
        for change in plan.managed:
            why = protected_why(change.type, change.address, spec)
            if why and change.actions != (TerraformAction.DELETE,):
                wanted.setdefault(
                    (change.module, change.config_key), (_block_address(change.address), change.type, why)
                )
    elif config is not None:
        for block in config.blocks.values():
            why = protected_why(block.type, block.address, spec)
            if why:
                wanted[(block.module, f"{block.type}.{block.name}")] = (block.address, block.type, why)
    if not wanted:
        return [], {}
    if config is None:
        label = plan.label if plan is not None else config_label
        listed = ", ".join(address for address, _, _ in wanted.values())
        message = (
            f"{len(wanted)} protected resource(s) in the plan ({listed}): whether they set lifecycle "
            f"prevent_destroy is not known: no *.tf files in {config_label}"
        )
        fix = "run plumb check where the configuration is (the App's spec.terraform.path)"
        return [_warn(GuardName.DESTRUCTIVE, f"{PLAN_KIND}/{label}", message, fix)], {}
    findings: list[Finding] = []
    sources: dict[str, str] = {}
    for (module, key), (address, rtype, why) in wanted.items():
        if not config.known(module):
            continue  # a module from a registry or Git: its blocks are not at hand
        found = config.block(module, key)
        if found is None or found.prevent_destroy:
            continue
        subject = f"{RESOURCE_KIND}/{address}"
        sources[subject] = found.file
        message = (
            f"the protected {rtype} {address} ({why}) does not set lifecycle {{ prevent_destroy = true }} "
            f"in {found.file}: only this guard stands between it and a plan that destroys it"
        )
        name = key.partition(".")[2]
        fix = f"add lifecycle {{ prevent_destroy = true }} to resource {rtype!r} {name!r} in {found.file}"
        findings.append(
            _warn(GuardName.DESTRUCTIVE, subject, message, fix, field="lifecycle.prevent_destroy")
        )
    return findings, sources


def _warn(guard: GuardName, subject: str, message: str, fix: str, *, field: str | None = None) -> Finding:
    return finding(guard, subject, message, fix, field=field, severity=Severity.WARN)
