"""Recall and false-positive rate of the secrets guard on a labelled set of public samples.

    .venv/bin/python bench/secrets_labelled.py            # the table, then every sample it gets wrong

Each sample of tests/data/guards/secrets-labelled/ (labels.tsv: secret / not-secret, with the
repository, path and licence it was copied from) is put alone in an app's source path and checked as
``plumb check`` checks a head revision: its objects (the YAML/JSON documents that parse as objects) in
an offline plan, and the raw text of the file. A sample counts as detected when the guard blocks.
Recall = secrets detected / secrets; false-positive rate = non-secrets blocked / non-secrets.
"""

from __future__ import annotations

import csv
import json
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from plumbline.config import App, Environment, Project
from plumbline.guards import CheckoutInfo, GuardContext, run_guards
from plumbline.guards.offline import offline_plan

ROOT = Path(__file__).resolve().parents[1]
LABELLED = ROOT / "tests" / "data" / "guards" / "secrets-labelled"
_API = "plumbline.dev/v1alpha1"
_SHA = "0" * 40


@dataclass(frozen=True)
class _Manifest:
    obj: dict[str, Any]
    file: str


@dataclass
class Result:
    secrets: int = 0
    detected: int = 0
    clean: int = 0
    blocked: int = 0
    missed: list[str] = field(default_factory=list)
    false_positives: list[str] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.detected / self.secrets

    @property
    def false_positive_rate(self) -> float:
        return self.blocked / self.clean


def _objects(path: Path) -> list[dict[str, Any]]:
    """The sample's documents that are objects; none if it does not parse (then only raw text counts,
    as a render of it would fail)."""
    text = path.read_text()
    try:
        docs = [json.loads(text)] if path.suffix == ".json" else list(yaml.safe_load_all(text))
    except (ValueError, yaml.YAMLError):
        return []
    return [
        d
        for d in docs
        if isinstance(d, dict)
        and d.get("kind")
        and isinstance(d.get("metadata"), dict)
        and d["metadata"].get("name")
    ]


def _context(root: Path) -> GuardContext:
    project = Project.model_validate({"apiVersion": _API, "kind": "Project", "metadata": {"name": "p"}})
    environment = Environment.model_validate(
        {"apiVersion": _API, "kind": "Environment", "metadata": {"name": "e"}}
    )
    app = App.model_validate(
        {
            "apiVersion": _API,
            "kind": "App",
            "metadata": {"name": "sample"},
            "spec": {
                "project": "p",
                "environment": "e",
                "source": {"repoURL": "/srv/git/sample", "path": "apps/sample"},
                "destination": {"namespace": "sample"},
            },
        }
    )
    checkout = CheckoutInfo(sha=_SHA, revision="main", branches=("main",), root=root)
    return GuardContext(app=app, project=project, environment=environment, checkout=checkout)


def blocks(sample: Path) -> bool:
    """Whether the secrets guard blocks ``sample`` alone in an app's source path."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        rel = f"apps/sample/{sample.name}"
        (root / "apps" / "sample").mkdir(parents=True)
        (root / rel).write_bytes(sample.read_bytes())
        head = [_Manifest(obj, rel) for obj in _objects(sample)]
        plan = offline_plan(app="sample", namespace="sample", base=[], head=head, revision="main", sha=_SHA)
        findings = run_guards(plan=plan, context=_context(root), only={"secrets"})
    return any(f.blocks for f in findings)


def measure(directory: Path = LABELLED) -> Result:
    result = Result()
    with (directory / "labels.tsv").open() as labels:
        for row in csv.DictReader(labels, delimiter="\t"):
            caught = blocks(directory / "samples" / row["sample"])
            if row["label"] == "secret":
                result.secrets += 1
                result.detected += caught
                if not caught:
                    result.missed.append(row["sample"])
            else:
                result.clean += 1
                result.blocked += caught
                if caught:
                    result.false_positives.append(row["sample"])
    return result


def main() -> int:
    result = measure()
    print("| samples | secrets | detected | recall | not secrets | blocked | false-positive rate |")
    print("|---|---|---|---|---|---|---|")
    print(
        f"| {result.secrets + result.clean} | {result.secrets} | {result.detected} | {result.recall:.1%} "
        f"| {result.clean} | {result.blocked} | {result.false_positive_rate:.1%} |"
    )
    for name in result.missed:
        print(f"missed: {name}")
    for name in result.false_positives:
        print(f"false positive: {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
