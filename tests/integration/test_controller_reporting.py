"""What the controller tells people, told once: a blocked commit notified and evented once per
commit and reason (and once when resolved), "lease acquired" only when the lease changed hands, an
API server outage logged once when it begins and once when it ends, and /healthz saying so."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

from plumbline.cluster import Cluster
from plumbline.controller import Notifier, Result
from plumbline.controller._health import TTL_S
from plumbline.local import ControlPlane
from plumbline.local.controlplane import recorded_pids
from plumbline.store import AuditAction
from tests.support import cli
from tests.support.sites import Receiver, Site, one

pytestmark = pytest.mark.integration


def our_events(site: Site, reason: str) -> int:
    events = site.cluster.request("GET", f"/api/v1/namespaces/{site.namespace}/events")["items"]
    return sum(
        1
        for e in events
        if e["source"].get("component") == "plumbline-controller"
        and e["reason"] == reason
        and e["metadata"]["name"].startswith(f"plumbline-{site.app}-")
    )


def test_a_commit_blocked_by_drift_is_notified_once_then_once_resolved(make_site: Any) -> None:
    site = make_site("sync")
    receiver = Receiver()
    controller = site.controller()
    controller.notifier = Notifier(webhooks=[receiver.url])
    assert one(controller).result is Result.SYNCED
    site.edit("LOG_LEVEL", "hotfix")  # live drift
    site.write_config_map("LOG_LEVEL", "info\n  FEATURE: 'on'")  # a routine commit next to it
    site.commit("routine change")
    results = [one(controller).result for _ in range(4)]  # four polls of the same blocked commit
    assert results == [Result.BLOCKED] * 4, results
    assert our_events(site, "SyncFailed") == 1

    site.write_config_map("LOG_LEVEL", "hotfix\n  FEATURE: 'on'")  # the hotfix captured into Git
    site.commit("capture the hotfix")
    assert one(controller).result is Result.SYNCED
    assert one(controller).result is Result.IN_SYNC
    controller.notifier.close()
    receiver.server.shutdown()
    kinds = [body["kind"] for _, body in receiver.received]
    assert kinds == ["drift", "sync-blocked", "resolved"], kinds


def test_a_blocked_commit_is_not_retried_every_poll_while_nothing_changed(make_site: Any) -> None:
    site = make_site("sync")
    controller = site.controller(backoff_base_s=600.0)
    assert one(controller).result is Result.SYNCED
    site.edit("LOG_LEVEL", "hotfix")
    site.write_config_map("LOG_LEVEL", "info\n  FEATURE: 'on'")
    site.commit("routine change")
    outcomes = [one(controller) for _ in range(3)]
    assert [o.result for o in outcomes] == [Result.BLOCKED] * 3, outcomes
    assert "retried later" in outcomes[-1].message
    assert len(site.store.history(site.app, limit=None)) == 2  # the first sync and one blocked try
    site.edit("LOG_LEVEL", "info")  # the drift went away: tried again at once
    assert one(controller).result is Result.SYNCED


def test_lease_acquired_is_recorded_once_while_the_renewer_races_the_loop(make_site: Any) -> None:
    site = make_site("observe")
    controller = site.controller(lease_duration_s=3)  # the renewer writes every second
    app = controller.config.apps[site.app]
    cluster = controller.cluster_for(app)
    held = 0
    deadline = time.monotonic() + 6
    try:
        while time.monotonic() < deadline:  # the loop takes the lease as fast as it can meanwhile
            held += controller.holds(app, cluster)
    finally:
        controller.close()
    acquired = [r for r in site.store.audit_log(site.app) if r.action == AuditAction.LEASE]
    assert len(acquired) == 1, [(r.time, r.outcome) for r in acquired]
    assert held > 20


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_an_etcd_outage_is_logged_once_and_healthz_says_so(tmp_path: Path) -> None:
    """On a control plane of its own: the shared one must not lose its etcd."""
    with ControlPlane.temporary(controller_manager=False) as plane:
        namespace = f"t-{uuid.uuid4().hex[:8]}"
        with Cluster(kubeconfig=plane.kubeconfig) as cluster:
            body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
            cluster.request("POST", "/api/v1/namespaces", body=body)
        site = Site(tmp_path, plane, namespace, "observe")
        port = cli.free_port()
        process = cli.start(
            "controller", "--identity", "outage", "--interval", "30", "--lease-namespace",
            site.lease_namespace, "--no-watch", "--listen", f"127.0.0.1:{port}", "--json-logs",
            env=site.env(), stderr=subprocess.PIPE,
        )  # fmt: skip
        etcd = recorded_pids(plane.directory)["etcd"]
        try:
            deadline = time.monotonic() + 60
            while True:
                with contextlib.suppress(OSError):
                    if get(port, "/healthz")[0] == 200:
                        break
                assert time.monotonic() < deadline, "the controller never became healthy"
                time.sleep(0.3)
            os.kill(etcd, signal.SIGSTOP)  # etcd hangs: the API server is up, its storage is not
            stopped = time.monotonic()
            try:
                status = 200
                while status == 200 and time.monotonic() - stopped < 20:
                    status, text = get(port, "/healthz")
                    time.sleep(0.5)
                assert status == 503 and "not ready" in text, (status, text)
                noticed = time.monotonic() - stopped
                time.sleep(3 * TTL_S)  # the outage goes on over three more of the monitor's probes
            finally:
                os.kill(etcd, signal.SIGCONT)
            deadline = time.monotonic() + 30
            # The probe that answers 200 here is the one that logged the recovery (ApiHealth._note).
            while get(port, "/healthz")[0] != 200:
                assert time.monotonic() < deadline, "/healthz did not recover"
                time.sleep(0.5)
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                _, stderr = process.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                _, stderr = process.communicate()
            site.close()
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    down = [line for line in lines if line["level"] == "error" and "API server" in line["msg"]]
    up = [line for line in lines if "ready again" in line["msg"]]
    assert noticed < 10, f"/healthz took {noticed:.1f}s to notice"
    assert len(down) == 1, down
    assert len(up) == 1, up


def test_a_rollback_of_store_and_anchor_file_together_is_found_by_the_cluster_anchor(make_site: Any) -> None:
    """Whoever owns the store can roll the database and the anchor file beside it back together; the
    anchor the controller filed in the cluster still knows the newest records."""
    site = make_site("sync")
    controller = site.controller()
    assert one(controller).result is Result.SYNCED  # each pass files the anchor in the cluster
    snapshot = site.root / "snapshot.db"
    with sqlite3.connect(site.store_path) as live, sqlite3.connect(snapshot) as copy:
        live.backup(copy)
    anchor_file = site.store_path.with_name(site.store_path.name + ".audit-anchor")
    old_anchor = anchor_file.read_bytes()
    site.edit("LOG_LEVEL", "hotfix")
    assert one(controller).result is Result.OBSERVED  # a drift record, anchored again
    verify = ("audit", "verify", "--cluster", "--lease-namespace", site.lease_namespace)
    intact = site.plumb(*verify)
    assert intact.returncode == 0, intact.stdout + intact.stderr

    with sqlite3.connect(snapshot) as copy, sqlite3.connect(site.store_path) as live:
        copy.backup(live)  # the drift record is gone from the store …
    anchor_file.write_bytes(old_anchor)  # … and from the anchor beside it
    local = site.plumb("audit", "verify")
    assert local.returncode == 0, local.stdout + local.stderr  # what the file anchor alone cannot see
    found = site.plumb(*verify)
    assert found.returncode == 1, found.stdout + found.stderr
    assert "newest rows were removed" in found.stderr and "ConfigMap" in found.stderr, found.stderr
