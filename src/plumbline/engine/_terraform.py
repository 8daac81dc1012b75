"""Terraform/OpenTofu plans in ``plumb check`` (docs/terraform.md): which plans and which ``*.tf`` folder
belong to an app, and the guards over them (:mod:`plumbline.guards.terraform`), decided like every other
finding (``--allow``, ``Plumb-Allow`` trailers, GuardExceptions).

* Git mode (``plumb check --base --head``): an App with ``spec.terraform`` has its ``*.tf`` read at the
  head revision, and its plan from ``spec.terraform.plan`` there and/or ``--terraform PLAN.json``.
* Plan mode (``plumb check --terraform PLAN.json``): no render; the branch is ``--branch`` or the one
  checked out where plumb runs, and the ``*.tf`` are the App's ``spec.terraform.path`` in that checkout,
  else those beside the plan.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dulwich.errors import NotGitRepository
from dulwich.refs import Ref
from dulwich.repo import Repo

from plumbline.config import App
from plumbline.errors import PlumbError, TerraformPlanError
from plumbline.guards import CheckoutInfo, Finding, GuardContext, GuardName, Severity, finding
from plumbline.guards.terraform import PLAN_KIND, check_terraform
from plumbline.terraform import TerraformConfig, TerraformPlan, has_terraform, load_plan, read_config

WORKSPACE_FILE = Path(".terraform") / "environment"  # what `tofu workspace select` writes


@dataclass
class TerraformInputs:
    """What ``plumb check`` checks of one app's Terraform: its plans, its configuration (None: not at
    hand, looked for in ``config_label``), and the workspace. Called with a guard context, it returns
    the findings and records in ``sources`` the file each finding's subject comes from."""

    plans: list[TerraformPlan]
    config: TerraformConfig | None
    config_label: str
    workspace: str | None
    bind_app_environment: bool
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def labels(self) -> list[str]:
        return [plan.label for plan in self.plans]

    def __call__(self, context: GuardContext) -> list[Finding]:
        findings: list[Finding] = []
        if not self.plans:
            message = (
                f"no plan for the Terraform in {self.config_label} (spec.terraform.plan, or plumb check "
                "--terraform PLAN.json): its deletes and environment were not checked, only prevent_destroy"
            )
            fix = "pass the plan (`tofu show -json PLANFILE`) with --terraform, or set spec.terraform.plan"
            subject = f"{PLAN_KIND}/{self.config_label}"
            findings.append(finding(GuardName.DESTRUCTIVE, subject, message, fix, severity=Severity.WARN))
        targets: list[TerraformPlan | None] = [*self.plans] or [None]
        for plan in targets:
            found, sources = check_terraform(
                plan,
                context=context,
                config=self.config,
                config_label=self.config_label,
                workspace=self.workspace,
                bind_app_environment=self.bind_app_environment,
            )
            findings += found
            self.sources.update(sources)
        return list(dict.fromkeys(findings))  # one resource in two plans is one finding


def in_checkout(
    app: App, root: Path, *, plans: Sequence[Path], workspace: str | None
) -> TerraformInputs | None:
    """Git mode: the app's Terraform at a checked-out revision (``root``), plus plans given by hand.
    None if the app has no ``spec.terraform`` and no plan was given."""
    spec = app.spec.terraform
    loaded = [load_plan(path) for path in plans]
    if spec is None:
        if not loaded:
            return None
        beside = plans[0].parent
        folder = beside if has_terraform(beside) else None
        return _inputs(loaded, folder, f"{beside} (and the App has no spec.terraform)", workspace, bind=False)
    folder = root / spec.path
    if not has_terraform(folder):
        raise TerraformPlanError(
            f"App {app.name}: spec.terraform.path {spec.path!r}: no *.tf files there at this revision"
        )
    if spec.plan is not None:
        committed = root / spec.plan
        if not committed.is_file():
            raise TerraformPlanError(
                f"App {app.name}: spec.terraform.plan {spec.plan!r}: no such file at this revision"
            )
        loaded.insert(0, load_plan(committed, label=spec.plan))
    return TerraformInputs(
        loaded,
        read_config(folder, label=spec.path),
        spec.path,
        workspace or _selected_workspace(folder) or _workspace_here(spec.path),
        bind_app_environment=False,
    )


def _workspace_here(path: str) -> str | None:
    """The workspace selected in ``path`` of the checkout plumb runs in (where CI ran ``tofu plan``);
    a workspace is local state, never in Git."""
    root = local_checkout(Path.cwd()).root
    return _selected_workspace(root / path) if root is not None else None


@dataclass(frozen=True)
class LocalCheckout:
    """The Git checkout plumb runs in (plan mode), as far as it can be read."""

    root: Path | None = None
    sha: str = ""
    branch: str | None = None
    message: str = ""


def local_checkout(start: Path) -> LocalCheckout:
    try:
        repo = Repo.discover(str(start))
    except NotGitRepository:
        return LocalCheckout()
    with repo:
        root = Path(repo.path)
        try:
            head = repo.refs.read_ref(Ref(b"HEAD")) or b""
            branch = (
                head.removeprefix(b"ref: refs/heads/").decode()
                if head.startswith(b"ref: refs/heads/")
                else None
            )
            commit = repo[repo.head()]
        except KeyError:  # no commit yet
            return LocalCheckout(root=root)
        message = commit.message.decode("utf-8", "replace")  # type: ignore[attr-defined]
        return LocalCheckout(root, commit.id.decode(), branch, message)


def in_working_tree(
    app: App, *, plans: Sequence[Path], branch: str | None, workspace: str | None, cwd: Path | None = None
) -> tuple[TerraformInputs, CheckoutInfo]:
    """Plan mode (see the module docstring): ``plans`` for ``app``, and the revision they are checked as
    (``branch``, else the branch checked out in ``cwd``; its commit message's trailers count)."""
    if not plans:
        raise PlumbError("plumb check --terraform needs at least one plan file")
    here = local_checkout(cwd or Path.cwd())
    on = branch or here.branch
    info = CheckoutInfo(
        sha=here.sha,
        revision=on or here.sha[:12] or "(no Git checkout here)",
        message=here.message,
        branches=(on,) if on else None,
        root=here.root,
    )
    loaded = [load_plan(path) for path in plans]
    folder = _config_folder(app, here.root, plans[0])
    missing = f"{plans[0].parent} (nor in the App's spec.terraform.path)"
    return _inputs(loaded, folder, missing, workspace, bind=True), info


def _inputs(
    plans: list[TerraformPlan], folder: Path | None, missing: str, workspace: str | None, *, bind: bool
) -> TerraformInputs:
    """The inputs for ``plans`` with the configuration in ``folder`` (None: not at hand, ``missing``
    says where it was looked for)."""
    if folder is None:
        return TerraformInputs(plans, None, missing, workspace, bind_app_environment=bind)
    label = _relative(folder)
    chosen = workspace or _selected_workspace(folder)
    return TerraformInputs(plans, read_config(folder, label=label), label, chosen, bind_app_environment=bind)


def _config_folder(app: App, root: Path | None, plan: Path) -> Path | None:
    if app.spec.terraform is not None and root is not None and has_terraform(root / app.spec.terraform.path):
        return root / app.spec.terraform.path
    return plan.parent if has_terraform(plan.parent) else None


def _relative(folder: Path) -> str:
    try:
        return os.path.relpath(folder)
    except ValueError:
        return str(folder)


def _selected_workspace(folder: Path) -> str | None:
    try:
        return (folder / WORKSPACE_FILE).read_text().strip() or None
    except OSError:
        return None
