"""One vocabulary per concept: the words users see come from the enum that defines them, and every
``-o json`` uses camelCase keys (docs/plan-schema.md). A word respelled beside its enum, or a key
written in another style, fails here without a cluster."""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TypedDict

import pytest

from plumbline import engine
from plumbline.config import Mode, StoreBackend
from plumbline.controller import Metrics, Outcome, Result
from plumbline.engine import AppStatus, Unfinished
from plumbline.plan import Plan, SyncStatus
from plumbline.store import AppStateKind, AuditOutcome, Migrated, SyncIntent, SyncRecord, SyncResult
from plumbline.sync import Outcome as ObjectOutcome
from tests.support.json_keys import not_camel_case

SRC = Path(__file__).resolve().parents[2] / "src" / "plumbline"
WHEN = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_audit_outcomes_are_the_words_of_sync_results_app_states_and_modes() -> None:
    outcomes = {o.value for o in AuditOutcome}
    for enum in (SyncResult, AppStateKind, Mode):
        assert {m.value for m in enum} <= outcomes, enum


def test_a_kept_prune_candidate_is_kept_in_the_plan_and_in_the_sync() -> None:
    plan = Plan(app="a", revision="main", sha="0" * 40, namespace="a")
    assert ObjectOutcome.KEPT.value == "kept" and ObjectOutcome.KEPT.value in plan.counts


def test_metrics_label_every_sync_status_and_app_state_by_its_word() -> None:
    metrics = Metrics()
    outcome = Outcome(app="shop", mode=Mode.SYNC, state=AppStateKind.PAUSED_PENDING, result=Result.PENDING)
    metrics.observe(outcome, seconds=0.1)
    text = metrics.render().decode()
    for status in SyncStatus:
        value = 1.0 if status is SyncStatus.UNKNOWN else 0.0
        assert f'plumbline_app_sync_status{{app="shop",status="{status.value}"}} {value}' in text
    for state in AppStateKind:
        value = 1.0 if state is AppStateKind.PAUSED_PENDING else 0.0
        assert f'plumbline_app_state{{app="shop",state="{state.value}"}} {value}' in text


class OneSync(TypedDict):
    app: str
    revision: str
    sha: str
    actor: str
    started_at: datetime


# The sync whose intent and record the JSON tests show: the record is how that intent finished.
SYNC = OneSync(app="shop", revision="main", sha="a" * 40, actor="alice@laptop", started_at=WHEN)


def intent() -> SyncIntent:
    return SyncIntent(
        id=3,
        **SYNC,
        holder="alice-1",
        lease_namespace="plumbline-system",
        planned={"create": 1, "update": 0, "prune": 0, "objects": ["/ConfigMap/shop/x"]},
    )


def record() -> SyncRecord:
    return SyncRecord(
        id=7,
        **SYNC,
        finished_at=WHEN,
        result=SyncResult.SUCCEEDED,
        summary={"plan": {"create": 1}, "outcome": {"applied": 1, "not-reached": 0}, "durationSeconds": 0.2},
        desired=[{"apiVersion": "v1", "kind": "ConfigMap", "data": {"DB_HOST": "db"}}],
        flags={"prune": False, "forceConflicts": False, "revertDrift": False, "dryRun": False},
        intent=3,
    )


def test_status_json_has_camel_case_keys_and_enum_words() -> None:
    row = AppStatus(
        app="shop",
        mode=Mode.SYNC,
        status=SyncStatus.OUT_OF_SYNC,
        last_synced_sha="a" * 40,
        last_result=SyncResult.SUCCEEDED,
        last_at=WHEN,
        unfinished=[Unfinished(intent(), running=False)],
    )
    data = row.to_dict()
    assert not_camel_case(data) == []
    assert {"lastSyncedSha", "lastResult", "lastAt", "healthMessage"} <= set(data)
    assert data["status"] in {s.value for s in SyncStatus}
    assert data["lastResult"] in {r.value for r in SyncResult}
    assert data["unfinished"][0]["state"] == SyncResult.INTERRUPTED.value
    assert data["store"] == {"backend": StoreBackend.SQLITE.value, "where": ""}


def test_store_migrate_json_has_camel_case_keys() -> None:
    assert not_camel_case(Migrated(syncs=1, already=2).to_dict()) == []


def test_history_json_has_camel_case_keys_desired_objects_kept_as_they_are() -> None:
    data = engine.record_to_dict(record(), desired=True)
    assert not_camel_case(data) == []
    assert data["desired"][0]["data"] == {"DB_HOST": "db"}
    assert data["result"] in {r.value for r in SyncResult}


def test_the_camel_case_check_finds_a_snake_case_key() -> None:
    assert not_camel_case({"flags": {"revert_drift": True}}) == ["$.flags.revert_drift"]


# Words users see that only their enum may spell, per package that shows them.
DISTINCT: dict[type[StrEnum], set[str]] = {
    SyncStatus: {s.value for s in SyncStatus} - {"Unknown"},  # Unknown is also a health status
    SyncResult: {"succeeded", "dry-run"},
    AppStateKind: {"paused-pending"},
    AuditOutcome: {"started", "self-heal stopped"},
}
# Where the same word means something else (named, with why).
ELSEWHERE = {
    ("controller/_record.py", "Synced"),  # a Kubernetes Event reason, CamelCase by Kubernetes' convention
    ("local/controlplane.py", "started"),  # a process log line
    ("local/user.py", "started"),
}


@pytest.mark.parametrize("enum", list(DISTINCT), ids=lambda e: e.__name__)
def test_no_word_is_spelled_outside_its_enum(enum: type[StrEnum]) -> None:
    home = SRC.parent / (enum.__module__.replace(".", "/") + ".py")
    found = []
    for path in sorted(SRC.rglob("*.py")):
        if path == home:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value in DISTINCT[enum]:
                where = str(path.relative_to(SRC))
                if (where, node.value) not in ELSEWHERE:
                    found.append(f"{where}:{node.lineno}: {node.value!r}")
    assert found == [], f"spell these as {enum.__name__} members"
