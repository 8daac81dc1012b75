"""Real OpenTofu plans, made by the ``tofu`` the opentofu kit builds (docs/decisions/0020).

The configurations use only ``terraform_data`` (OpenTofu's built-in provider), so ``tofu init`` fetches
nothing; a CLI configuration of the fixture's own points provider installation at an empty folder,
so a provider that is not built in fails instead of being downloaded. State stays in local files.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.support.git import commit_all, git

CLI_CONFIG = """\
disable_checkpoint = true
provider_installation {{
  filesystem_mirror {{
    path    = "{mirror}"
    include = ["*/*/*"]
  }}
}}
"""
GITIGNORE = ".terraform/\nterraform.tfstate*\n*.tfstate*\nplan.out\n"
# The app's Kubernetes side, beside its infrastructure (plumb check's Git mode renders it too).
CONFIG_MAP = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: orders}\ndata: {DB: orders-db}\n"

# Seed 01's stack, as applied in production: the database, a cache, the web tier.
BEFORE = """\
variable "environment" {
  type = string
}

resource "terraform_data" "db" {
  input = { engine = "postgres", tags = { environment = var.environment } }
}

resource "terraform_data" "cache" {
  input = "redis"
}

resource "terraform_data" "web" {
  input = "v1"
  lifecycle {
    create_before_destroy = true
  }
}
"""
# The Friday change: a version bump that replaces the database, the cache removed, the web tier rebuilt.
FRIDAY = """\
variable "environment" {
  type = string
}

resource "terraform_data" "db" {
  input            = { engine = "postgres", tags = { environment = var.environment } }
  triggers_replace = ["postgres-16"]
}

resource "terraform_data" "web" {
  input            = "v1"
  triggers_replace = ["v2"]
  lifecycle {
    create_before_destroy = true
  }
}
"""
# A careful change in test: the database kept (and guarded by prevent_destroy), the cache updated in place.
CAREFUL_BEFORE = BEFORE.replace(
    'input = { engine = "postgres", tags = { environment = var.environment } }',
    'input = { engine = "postgres", tags = { environment = var.environment } }\n'
    "  lifecycle {\n    prevent_destroy = true\n  }",
)
CAREFUL = CAREFUL_BEFORE.replace('input = "redis"', 'input = "redis-7"')


@dataclass(frozen=True)
class RealPlans:
    """Two Git checkouts, each with ``infra/`` planned by real ``tofu`` on branch ``feature/<name>``:

    * ``friday``: workspace ``prod``, ``-var environment=prod``; ``terraform_data.db`` is
      ``["delete","create"]``, ``.cache`` ``["delete"]``, ``.web`` ``["create","delete"]``;
    * ``careful``: workspace ``test``, ``-var environment=test``; ``.cache`` ``["update"]`` only.

    Each has ``infra/plan.json`` (``tofu show -json``) committed, and ``infra/.terraform/environment``
    (the selected workspace) left untracked, as a CI job that just ran ``tofu plan`` would.
    """

    friday: Path
    careful: Path
    version: str


def make_real_plans(tofu: Path, where: Path) -> RealPlans:
    mirror = where / "no-providers"
    mirror.mkdir(parents=True)
    rc = where / "tofurc"
    rc.write_text(CLI_CONFIG.format(mirror=mirror))
    env = {
        **os.environ,
        "TF_CLI_CONFIG_FILE": str(rc),
        "TF_IN_AUTOMATION": "1",
        "CHECKPOINT_DISABLE": "1",
        "TF_INPUT": "0",
        "NO_COLOR": "1",
    }
    env.pop("TF_WORKSPACE", None)
    env.pop("TF_DATA_DIR", None)
    friday = _planned(tofu, env, where / "friday", "prod", BEFORE, FRIDAY, branch="feature/friday")
    careful = _planned(
        tofu, env, where / "careful", "test", CAREFUL_BEFORE, CAREFUL, branch="feature/careful"
    )
    version = _run(tofu, env, where, "version").splitlines()[0]
    return RealPlans(friday, careful, version)


def _planned(
    tofu: Path, env: dict[str, str], repo: Path, workspace: str, before: str, after: str, *, branch: str
) -> Path:
    infra = repo / "infra"
    infra.mkdir(parents=True)
    (repo / ".gitignore").write_text(GITIGNORE)
    (repo / "apps" / "orders").mkdir(parents=True)
    (repo / "apps" / "orders" / "configmap.yaml").write_text(CONFIG_MAP)
    (infra / "main.tf").write_text(before)
    git(repo, "init", "-q", "-b", "main")
    commit_all(repo, "infra as applied")
    var = f"-var=environment={workspace}"
    _run(tofu, env, infra, "init", "-no-color")
    _run(tofu, env, infra, "workspace", "new", "-no-color", workspace)
    _run(tofu, env, infra, "apply", "-auto-approve", "-no-color", var)
    git(repo, "checkout", "-q", "-b", branch)
    (infra / "main.tf").write_text(after)
    _run(tofu, env, infra, "plan", "-no-color", var, "-out=plan.out")
    (infra / "plan.json").write_text(_run(tofu, env, infra, "show", "-json", "plan.out"))
    commit_all(repo, f"{branch}: the change, and its plan")
    return repo


def _run(tofu: Path, env: dict[str, str], cwd: Path, *args: str) -> str:
    done = subprocess.run([str(tofu), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise AssertionError(
            f"tofu {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
        )
    return done.stdout
