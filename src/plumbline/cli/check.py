"""``plumb check --base REV --head REV [APP...]``: the guards on a merge request, with no cluster at all;
``plumb check --terraform PLAN.json [APP]``: the same guards over a Terraform/OpenTofu plan
(docs/terraform.md), alone or with a merge request.

Each app is rendered at both revisions from its own source; the base render stands in for live state
(:mod:`plumbline.guards.offline`), and every guard that needs no cluster runs over the result. Sync
windows are skipped (a merge request is not a sync). ``Plumb-Allow:`` trailers in the head commit
and the app's standing GuardExceptions count, as they would at sync time; every exception of a
checked app is listed (active or expired, and what it covers). No kubeconfig is read: CI needs no
cluster credentials.

Exit codes: 0 nothing blocks, 1 something blocks, 2 errors (a head revision that does not render, a
plan that cannot be read).
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.markup import escape

from plumbline import __version__, engine
from plumbline.cli.gitops import ALLOW, OUTPUT, REASON, Output

if TYPE_CHECKING:  # the rest is imported where it is used: `plumb --help` loads none of it
    from plumbline.config import Config
    from plumbline.engine import AppCheck
    from plumbline.guards import Finding

out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def _people(results: list[AppCheck]) -> None:
    for result in results:
        base = result.base_sha[:12] if result.base_sha else "(nothing)"
        state = "[bold red]blocked[/]" if result.blocking else "[green]ok[/]"
        plans = f" (Terraform: {', '.join(result.terraform)})" if result.terraform else ""
        head = result.head_sha[:12] or "(no commit)"
        out.print(f"[bold]{escape(result.app)}[/] {base} → {head}{escape(plans)}: {state}")
        for finding in result.findings:
            overridden = finding.blocks and finding not in result.blocking
            colour = "yellow" if not finding.blocks else ("dim" if overridden else "red")
            label = "overridden" if overridden else finding.severity.value
            where = str(finding.ref) if finding.ref else finding.subject
            if finding.field:
                where += f" {finding.field}"
            source = result.sources.get(finding.subject)
            out.print(f"  [{colour}]{label:<10}[/] {escape(f'[{finding.guard}]')} {escape(where)}")
            if source:
                out.print(f"             [dim]{escape(source)}[/]")
            out.print(f"             why: {escape(finding.message)}")
            if overridden:
                out.print(f"             let through: {escape(_let_through_by(result, finding))}")
            else:
                out.print(f"             fix: {escape(finding.fix)}")
        for use in result.exceptions:
            colour = "red" if use.expired else "dim"
            out.print(f"  [{colour}]exception[/]  {escape(str(use))}")
    blocked = sum(len(r.blocking) for r in results)
    out.print(f"{blocked} blocking finding(s) in {len(results)} app(s)" if blocked else "nothing blocks")


def _let_through_by(result: AppCheck, finding: Finding) -> str:
    for o in result.overridden:
        if o.finding == finding:
            a = o.allow
            if a.name:
                return f"exception {a.name} (owner {a.owner}): {a.reason}"
            return f"{a.via}: {a.reason}"
    return ""


def junit_xml(results: list[AppCheck]) -> str:
    """One test suite per app, one test case per guard; each blocking finding a failure."""
    from plumbline.engine import OFFLINE_GUARDS

    suites = ET.Element("testsuites", name="plumb check")
    for result in results:
        suite = ET.SubElement(suites, "testsuite", name=result.app, tests=str(len(OFFLINE_GUARDS)))
        failures = 0
        for guard in sorted(OFFLINE_GUARDS):
            case = ET.SubElement(suite, "testcase", classname=f"plumbline.{result.app}", name=guard)
            for finding in (f for f in result.blocking if f.guard == guard):
                failures += 1
                failure = ET.SubElement(case, "failure", message=f"{finding.subject}: {finding.message}")
                failure.text = f"{finding}\nfile: {result.sources.get(finding.subject, '-')}"
        suite.set("failures", str(failures))
    return ET.tostring(suites, encoding="unicode", xml_declaration=True)


def sarif(results: list[AppCheck]) -> dict[str, Any]:
    """SARIF 2.1.0: one rule per guard, one result per finding (blocks as errors, warnings as warnings);
    a block let through carries a suppression whose justification is the override's reason."""
    from plumbline.engine import OFFLINE_GUARDS

    entries = []
    for result in results:
        let_through = {o.finding: o.allow for o in result.overridden}
        for finding in result.findings:
            entry: dict[str, Any] = {
                "ruleId": finding.guard,
                "level": "error" if finding.blocks else "warning",
                "message": {
                    "text": f"{result.app}: {finding.subject}: {finding.message}. Fix: {finding.fix}"
                },
            }
            source = result.sources.get(finding.subject)
            if source and not source.startswith("("):
                entry["locations"] = [{"physicalLocation": {"artifactLocation": {"uri": source}}}]
            allow = let_through.get(finding)
            if allow is not None:
                entry["suppressions"] = [
                    {"kind": "external", "justification": f"{allow.via}: {allow.reason}"}
                ]
            entries.append(entry)
    rules = [
        {"id": name, "shortDescription": {"text": f"plumbline {name} guard"}}
        for name in sorted(OFFLINE_GUARDS)
    ]
    return {
        "version": "2.1.0",
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "runs": [
            {
                "tool": {"driver": {"name": "plumbline", "version": __version__, "rules": rules}},
                "results": entries,
            }
        ],
    }


def _config(ctx: typer.Context) -> Config:
    from plumbline.config import Config, find_config, load_config

    obj = ctx.find_root().obj
    loaded = getattr(obj, "config", None)
    if isinstance(loaded, Config):
        return loaded
    return load_config(find_config(None))


APPS = typer.Argument(None, help="apps to check (default: every app)")
BASE = typer.Option(None, "--base", help="the merge request's target: branch, tag or commit")
HEAD = typer.Option(None, "--head", help="the merge request's revision: branch, tag or commit")
TERRAFORM = typer.Option(
    [],
    "--terraform",
    help="a Terraform/OpenTofu plan, as `tofu show -json PLANFILE` prints it (repeatable): alone, checked "
    "as APP's; with --base/--head, checked with APP (default: the App with spec.terraform)",
)
BRANCH = typer.Option(
    None, "--branch", help="with --terraform alone: the plan's branch (default: the one checked out here)"
)
WORKSPACE = typer.Option(
    None, "--workspace", envvar="TF_WORKSPACE", help="the Terraform workspace the plan was made in"
)
JUNIT = typer.Option(None, "--junit", help="also write JUnit XML here")
SARIF = typer.Option(None, "--sarif", help="also write SARIF 2.1.0 here")


def check(
    ctx: typer.Context,
    apps: list[str] = APPS,
    base: str | None = BASE,
    head: str | None = HEAD,
    terraform: list[Path] = TERRAFORM,
    branch: str | None = BRANCH,
    workspace: str | None = WORKSPACE,
    allow: list[str] = ALLOW,
    reason: str | None = REASON,
    output: Output = OUTPUT,
    junit: Path | None = JUNIT,
    sarif_file: Path | None = SARIF,
) -> None:
    """Run every guard that needs no cluster on a merge request (base → head), offline, or on a
    Terraform/OpenTofu plan (--terraform PLAN.json).

    Exit 0 if nothing blocks, 1 if anything blocks (after --allow, Plumb-Allow trailers in the head
    commit and the apps' GuardExceptions; an expired exception lets nothing through), 2 on errors.
    """
    if (base is None) != (head is None):
        err.print("plumb check: give both --base and --head (a merge request's target and revision)")
        raise typer.Exit(2)
    if base is None and not terraform:
        err.print("plumb check: give --base and --head (a merge request), or --terraform PLAN.json")
        raise typer.Exit(2)
    config = _config(ctx)
    if base is None or head is None:
        owner = engine.terraform_app(config, apps or [])
        results = [
            engine.check_plans(
                owner, config, plans=terraform, branch=branch, workspace=workspace, allow=allow, reason=reason
            )
        ]
    else:
        names = apps or list(config.apps)
        owner_name = engine.terraform_app(config, apps or []).name if terraform else None
        results = [
            engine.check_app(
                config.app(name),
                config,
                base=base,
                head=head,
                terraform=terraform if name == owner_name else (),
                workspace=workspace,
                allow=allow,
                reason=reason,
            )
            for name in names
        ]
    if junit:
        junit.write_text(junit_xml(results))
    if sarif_file:
        sarif_file.write_text(json.dumps(sarif(results), indent=2))
    if output is Output.JSON:
        sys.stdout.write(json.dumps({"apps": [r.to_dict() for r in results]}, indent=2) + "\n")
    else:
        _people(results)
    if any(r.blocking for r in results):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``plumb check`` to the root command."""
    app.command("check")(check)
