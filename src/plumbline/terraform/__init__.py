"""Terraform/OpenTofu, read for the guards: a plan as ``tofu show -json PLANFILE`` (or ``terraform show
-json``) prints it, and each resource block's ``prevent_destroy`` from the ``*.tf`` files (which plan
JSON does not carry). Pure reading; the checks are :mod:`plumbline.guards.terraform`.

    plan = load_plan(Path("plan.json"))          # TerraformPlanError names the file and field
    config = read_config(Path("infra"))          # root module and its local modules
    [c.address for c in plan.managed if c.deletes]
"""

from plumbline.terraform._config import ResourceBlock, TerraformConfig, has_terraform, read_config
from plumbline.terraform._plan import (
    ResourceChange,
    ResourceMode,
    TerraformAction,
    TerraformPlan,
    load_plan,
    parse_plan,
)

__all__ = [
    "ResourceBlock",
    "ResourceChange",
    "ResourceMode",
    "TerraformAction",
    "TerraformConfig",
    "TerraformPlan",
    "has_terraform",
    "load_plan",
    "parse_plan",
    "read_config",
]
