"""`plumb diff -o json` matches docs/plan-schema.md: every documented key is emitted with its type, and
nothing undocumented is. The plan is built by hand (pure data); the CLI integration tests read the
same shape from a real cluster."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from plumbline.plan import Action, Keep, ObjectRef, Plan, PlanItem, Unscanned
from plumbline.plan.attribution import Attribution, Editor, FieldChange
from plumbline.plan.report import SCHEMA, plan_to_dict

DOC = Path(__file__).resolve().parents[2] / "docs" / "plan-schema.md"


def documented() -> dict[str, dict[str, str]]:
    """Section title → {key: type} from the doc's tables."""
    sections: dict[str, dict[str, str]] = {}
    current = ""
    for line in DOC.read_text().splitlines():
        if line.startswith("#"):
            current = line.lstrip("#").strip().split(" ")[0]
            continue
        match = re.match(r"\| `(\w+)` \| ([^|]+) \|", line)
        if match and current in ("Plan", "Object", "Change", "Editor", "Unscanned"):
            sections.setdefault(current, {})[match.group(1)] = match.group(2).strip()
    return sections


def check(value: Any, kind: str, sections: dict[str, dict[str, str]], where: str) -> None:
    nullable = kind.endswith(" or null")
    kind = kind.removesuffix(" or null")
    if value is None:
        assert nullable or kind == "any", f"{where}: null, documented as {kind}"
        return
    if kind.startswith("array of "):
        assert isinstance(value, list), where
        for i, entry in enumerate(value):
            check(entry, kind.removeprefix("array of "), sections, f"{where}[{i}]")
    elif kind in sections:
        assert isinstance(value, dict), where
        assert set(value) == set(sections[kind]), f"{where}: keys {sorted(value)} vs {sorted(sections[kind])}"
        for key, sub in sections[kind].items():
            check(value[key], sub, sections, f"{where}.{key}")
    else:
        expected = {"string": str, "boolean": bool, "object": dict, "array": list, "any": object}[kind]
        assert isinstance(value, expected), f"{where}: {value!r} is not {kind}"


def sample_plan() -> Plan:
    cm = ObjectRef(group="", kind="ConfigMap", namespace="shop", name="env")
    web = ObjectRef(group="apps", kind="Deployment", namespace="shop", name="web")
    theirs = ObjectRef(group="apps", kind="Deployment", namespace="other-team", name="web")
    edit = Editor(manager="kubectl-edit", operation="Update", time=datetime(2025, 5, 1, tzinfo=UTC))
    live_cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "env"}, "data": {"DB_HOST": "B"}}
    return Plan(
        app="shop",
        revision="main",
        sha="a" * 40,
        namespace="shop",
        unscanned=[Unscanned("", "Secret", "shop", 'forbidden: secrets is forbidden: User "ci" cannot list')],
        items=[
            PlanItem(
                ref=cm,
                action=Action.UPDATE,
                source="cm.yaml",
                desired={**live_cm, "data": {"DB_HOST": "A"}},
                live=live_cm,
                predicted={**live_cm, "data": {"DB_HOST": "A"}},
                api_version="v1",
                conflict='conflict with "kubectl-edit": .data.DB_HOST',
                changes=[
                    FieldChange(
                        ref=cm,
                        path=("data", "DB_HOST"),
                        attribution=Attribution.DRIFT_REVERT,
                        live="B",
                        git="A",
                        last_synced="A",
                        editor=edit,
                    )
                ],
            ),
            PlanItem(
                ref=web,
                action=Action.CREATE,
                source="web.yaml",
                desired={"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}},
                live=None,
                predicted=None,
                api_version="apps/v1",
                changes=[
                    FieldChange(ref=web, path=(), attribution=Attribution.CREATE),
                    FieldChange(
                        ref=web,
                        path=("spec", "replicas"),
                        attribution=Attribution.RUNTIME,
                        live=5,
                        git=2,
                        rule="spec.replicas is set by a HorizontalPodAutoscaler",
                        editor=Editor(manager="kube-controller-manager", operation="Update", time=None),
                    ),
                ],
            ),
            PlanItem(
                ref=theirs,
                action=Action.PRUNE,
                source="",
                desired=None,
                live={"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}},
                predicted=None,
                api_version="apps/v1",
                note="carries this app's tracking, but namespace other-team is outside the app's destination",
                kept=Keep.OUTSIDE_DESTINATION,
            ),
        ],
    )


def test_plan_json_matches_the_documented_schema() -> None:
    sections = documented()
    assert {"Plan", "Object", "Change", "Editor", "Unscanned"} <= set(sections)
    data = json.loads(json.dumps(plan_to_dict(sample_plan())))  # JSON-clean, as the CLI prints it
    check(data, "Plan", sections, "plan")
    assert data["schema"] == SCHEMA
    assert data["attributions"] == {"drift-revert": 1, "create": 1, "runtime": 1}
    assert data["summary"] == {"create": 1, "update": 1, "unchanged": 0, "prune": 0, "kept": 1}
    kept = data["objects"][2]
    assert kept["action"] == "prune" and kept["kept"] == "outside-destination" and kept["diff"] == ""
    assert [o["proven"] for o in data["objects"]] == [False, False, False]
    change = data["objects"][0]["changes"][0]
    assert change == {
        "path": ["data", "DB_HOST"],
        "pointer": "/data/DB_HOST",
        "attribution": "drift-revert",
        "live": "B",
        "git": "A",
        "lastSynced": "A",
        "editor": {"manager": "kubectl-edit", "operation": "Update", "time": "2025-05-01T00:00:00+00:00"},
        "rule": None,
    }


def test_every_attribution_is_documented() -> None:
    text = DOC.read_text()
    for attribution in Attribution:
        assert f"`{attribution.value}`" in text


def test_every_keep_reason_is_documented() -> None:
    text = DOC.read_text()
    for reason in Keep:
        assert f"| `{reason.value}` |" in text
