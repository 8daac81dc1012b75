"""The controller's one recorder: each happening told once to every place it goes — the audit trail
(a real store), the log, the metrics, the webhooks (a real loopback receiver) and a Kubernetes Event
(the only stand-in: a cluster that keeps what is POSTed to it; the integration tests read real ones)."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast

import pytest

from plumbline.cluster import Cluster
from plumbline.config import App, Mode, OnFailure, VerificationOutcome, load_config
from plumbline.controller import Metrics, Notifier, Outcome, Result
from plumbline.controller import _record as said
from plumbline.controller._record import Recorder
from plumbline.controller._share import Shares, shares
from plumbline.controller.decide import Decision, HealMemory, Step
from plumbline.health import Health, HealthStatus
from plumbline.plan import Unscanned
from plumbline.store import AppState, AppStateKind, AuditAction, Store, SyncRecord, SyncResult
from plumbline.verify import Verification
from tests.support.config import REMOTE_APPS as CONFIG  # apps shop and blog
from tests.unit.test_controller_decide import EDITED  # a plan with one drift-revert change

OBJECTS = [
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}},
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "env", "namespace": "shop"}},
]
DRIFT = ["ConfigMap shop/env /data/A (drift-revert)"]
SHA = "c1" * 20


class Posted:
    """A cluster that keeps the Events POSTed to it."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def request(self, method: str, path: str, *, body: dict[str, Any]) -> dict[str, Any]:
        assert (method, path) == ("POST", "/api/v1/namespaces/shop/events")
        self.events.append(body)
        return body


class Receiver(ThreadingHTTPServer):
    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        received = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[Recorder, App, Posted, Receiver]]:
    (tmp_path / "plumbline.yaml").write_text(CONFIG)
    app = load_config(tmp_path / "plumbline.yaml").apps["shop"]
    receiver = Receiver()
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    with Store.open(tmp_path / "s.db") as store:
        recorder = Recorder(
            store=store,
            identity="replica-a",
            metrics=Metrics(),
            notifier=Notifier(webhooks=[f"http://127.0.0.1:{receiver.server_address[1]}/"]),
            objects=lambda name: OBJECTS if name == "shop" else [],
        )
        try:
            yield recorder, app, Posted(), receiver
        finally:
            receiver.shutdown()


def told(recorder: Recorder, receiver: Receiver) -> list[str]:
    recorder.notifier.close()
    return [body["kind"] for body in receiver.bodies]


def metric(recorder: Recorder, name: str) -> str:
    return next(line for line in recorder.metrics.render().decode().splitlines() if line.startswith(name))


def test_a_fight_is_told_everywhere_once(setup: Any, caplog: Any) -> None:
    recorder, app, cluster, receiver = setup
    memory = HealMemory(fighting=DRIFT[0])
    decision = Decision(
        Step.STOP_HEALING,
        Result.FIGHT,
        tuple(DRIFT),
        AppStateKind.ACTIVE,
        heal=memory,
        cause="came back 3 times",
    )
    with caplog.at_level(logging.INFO, logger="plumbline.controller"):
        recorder.record(said.fight("shop", SHA, decision), app, cast(Cluster, cluster))
    (audit,) = recorder.store.audit_log("shop")
    assert (audit.action, audit.actor, audit.revision, audit.reason, audit.outcome) == (
        AuditAction.FIGHT,
        "replica-a",
        SHA,
        "came back 3 times",
        "self-heal stopped",
    )
    assert audit.summary == {"drift": DRIFT}
    assert "another writer keeps changing what self-heal reverts" in caplog.text
    assert (
        metric(recorder, "plumbline_selfheal_fights_total")
        == 'plumbline_selfheal_fights_total{app="shop"} 1.0'
    )
    (event,) = cluster.events
    assert (event["reason"], event["type"]) == ("SelfHealFight", "Warning")
    assert event["involvedObject"] == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": "env",
        "namespace": "shop",
    }
    assert told(recorder, receiver) == ["self-heal-fight"]


def test_drift_is_told_when_it_changes(setup: Any) -> None:
    recorder, app, cluster, receiver = setup
    for drift in (DRIFT, DRIFT, [], DRIFT, [*DRIFT, "ConfigMap shop/env /data/B (conflict)"]):
        recorder.planned(app, cluster, EDITED, drift)
    counted = recorder.metrics.render().decode()
    assert 'plumbline_drift_changes{app="shop",attribution="drift-revert"} 1.0' in counted
    assert 'plumbline_drift_changes{app="shop",attribution="conflict"} 0.0' in counted
    records = recorder.store.audit_log("shop")
    assert [(r.action, len(r.summary["drift"])) for r in records] == [(AuditAction.DRIFT, 1)] * 2 + [
        (AuditAction.DRIFT, 2)
    ]
    assert [e["reason"] for e in cluster.events] == ["Drift"] * 3
    assert told(recorder, receiver) == ["drift"] * 3


def test_a_refused_sync_is_told_once_and_a_guard_block_counted(setup: Any) -> None:
    recorder, app, cluster, receiver = setup
    at = datetime(2026, 1, 1, tzinfo=UTC)
    blocked = SyncRecord(
        7, "shop", "main", SHA, at, at, "replica-a", SyncResult.BLOCKED, {"blockedBy": ["g"]}
    )
    recorder.record(said.synced("shop", blocked, Result.BLOCKED, "new commit", first=True), app, cluster)
    recorder.record(said.synced("shop", blocked, Result.BLOCKED, "new commit", first=False), app, cluster)
    ok = replace(blocked, result=SyncResult.SUCCEEDED, summary={}, message="applied")
    recorder.record(said.synced("shop", ok, Result.SYNCED, "new commit", first=False), app, cluster)
    assert [(e["reason"], e["type"]) for e in cluster.events] == [
        ("SyncFailed", "Warning"),
        ("Synced", "Normal"),
    ]
    assert metric(recorder, "plumbline_guard_blocks_total") == 'plumbline_guard_blocks_total{app="shop"} 2.0'
    assert told(recorder, receiver) == ["sync-blocked"]
    assert recorder.store.audit_log("shop") == []  # the write path audits syncs, not the recorder


def test_a_pause_expiry_is_counted_and_every_per_app_counter_starts_at_zero(setup: Any) -> None:
    recorder, app, cluster, _ = setup
    recorder.passed(Outcome("shop", Mode.SYNC, AppStateKind.PAUSED, Result.PAUSED), seconds=0.1)
    for counter in ("plumbline_pause_expiries_total", "plumbline_guard_blocks_total"):
        assert metric(recorder, counter) == f'{counter}{{app="shop"}} 0.0'  # a series, before it happens
    resumed = AppState("shop", AppStateKind.ACTIVE, detail={"paused_reason": "maintenance"})
    recorder.record(said.pause_expired("shop", SHA, resumed, []), app, cluster)
    assert (
        metric(recorder, "plumbline_pause_expiries_total") == 'plumbline_pause_expiries_total{app="shop"} 1.0'
    )


def test_the_configs_mode_is_audited_when_first_seen_and_when_it_changes(setup: Any) -> None:
    recorder, app, _, _ = setup
    recorder.config_mode(app, Mode.OBSERVE)
    recorder.config_mode(app, Mode.OBSERVE)
    changed = app.model_copy(update={"spec": app.spec.model_copy(update={"mode": Mode.SYNC})})
    recorder.config_mode(changed, Mode.SYNC)
    assert [(r.summary["from"], r.summary["to"]) for r in recorder.store.audit_log("shop")] == [
        (None, app.spec.mode.value),
        (app.spec.mode.value, "sync"),
    ]


def test_a_forbidden_list_is_told_not_skipped(setup: Any, caplog: Any) -> None:
    """A kind the plan's scans were not allowed to list: a warning line, a Warning Event and a gauge,
    said again only when the gaps change (decision 0016)."""
    recorder, app, cluster, _ = setup
    gap = Unscanned("", "Secret", "shop", "forbidden: secrets is forbidden", scan="prune")
    gapped = replace(EDITED, unscanned=[gap])
    with caplog.at_level(logging.WARNING, logger="plumbline.controller"):
        for plan in (gapped, gapped, EDITED):
            recorder.planned(app, cast(Cluster, cluster), plan, [])
    assert caplog.text.count("scan incomplete") == 1
    (event,) = cluster.events
    assert event["reason"] == "ScanIncomplete" and event["type"] == "Warning"
    assert "Secret in shop (prune): forbidden" in event["message"]
    assert metric(recorder, "plumbline_unscanned_kinds") == 'plumbline_unscanned_kinds{app="shop"} 0.0'


def test_a_verification_that_did_not_pass_is_counted_evented_and_notified(setup: Any) -> None:
    recorder, app, cluster, receiver = setup
    at = datetime(2026, 1, 1, tzinfo=UTC)
    record = SyncRecord(8, "shop", "main", SHA, at, at, "replica-a", SyncResult.SUCCEEDED, {})
    held = "healthy, and every check held, for 60s"
    window = Verification(VerificationOutcome.PASSED, held, None, (), 60, 60, OnFailure.ROLLBACK)
    recorder.verified(app, cluster, record, window)
    failed = replace(
        window,
        outcome=VerificationOutcome.FAILED,
        check="errors",
        reason="errors failed 1 time(s) (failure limit 0): 0.4 > 0.05",
        elapsed_s=12,
    )
    recorder.verified(app, cluster, replace(record, id=9), failed)
    text = recorder.metrics.render().decode()
    assert 'plumbline_app_verification{app="shop",outcome="Failed"} 1.0' in text
    assert 'plumbline_app_verification{app="shop",outcome="Passed"} 0.0' in text
    assert 'plumbline_verifications_total{app="shop",outcome="Passed"} 1.0' in text
    assert 'plumbline_verifications_total{app="shop",outcome="Failed"} 1.0' in text
    assert [(e["reason"], e["type"]) for e in cluster.events] == [
        ("Verified", "Normal"),
        ("VerificationFailed", "Warning"),
    ]
    assert told(recorder, receiver) == ["verification-failed"]  # a passed window is not news
    (body,) = receiver.bodies
    assert body["message"] == (
        "verification Failed: errors failed 1 time(s) (failure limit 0): 0.4 > 0.05 (onFailure: rollback)"
    )
    assert body["details"] == {"sync": 9, "outcome": "Failed", "check": "errors", "onFailure": "rollback"}
    assert recorder.store.audit_log("shop") == []  # engine.verify_app audits the window, not the recorder


def test_the_apps_health_is_a_gauge_per_health_word(setup: Any) -> None:
    recorder, app, cluster, _ = setup
    recorder.planned(app, cluster, EDITED, [], Health(HealthStatus.HEALTHY))
    recorder.planned(app, cluster, EDITED, [], Health(HealthStatus.DEGRADED, "Deployment/web: crashing"))
    text = recorder.metrics.render().decode()
    assert 'plumbline_app_health{app="shop",status="Degraded"} 1.0' in text
    for status in HealthStatus:
        if status is not HealthStatus.DEGRADED:
            assert f'plumbline_app_health{{app="shop",status="{status.value}"}} 0.0' in text


def test_the_share_is_over_the_apps_every_replica_sees() -> None:
    """Replicas with different app lists: each holds its own (no starvation); with the same list,
    the fair share is the apps over the replicas; a replica that publishes no list counts as before."""
    a, b = frozenset({"a1", "a2"}), frozenset({"b1", "b2"})
    assert shares("A", {"A": a, "B": b}, a) == Shares(limit=2, exclusive=a)
    both = a | b
    assert shares("A", {"A": both, "B": both}, both) == Shares(limit=2, exclusive=frozenset())
    assert shares("A", {"A": a, "B": None, "C": None}, a) == Shares(limit=1, exclusive=frozenset())
    assert shares("A", {"A": a | {"x"}, "B": b | {"x"}}, a | {"x"}) == Shares(limit=3, exclusive=a)
