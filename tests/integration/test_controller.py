"""The controller on the real control plane: each mode, break-glass pause/expiry/pending, self-heal
fights, watches, leases (in process and two controller processes), and the CLI around them."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from datetime import timedelta
from typing import Any

import pytest

from plumbline.controller import Notifier, Result
from plumbline.engine.lease import LeaseHeldError, acquire, app_lease, owner_lease_name, read_lease
from plumbline.engine.pause import pause
from plumbline.store import AppStateKind, AuditAction, Store
from tests.support import cli
from tests.support.sites import Receiver, Site, one

pytestmark = pytest.mark.integration


def test_observe_plans_and_never_writes(make_site: Any) -> None:
    site = make_site("observe")
    outcome = one(site.controller())
    assert outcome.result is Result.OBSERVED and outcome.status == "OutOfSync", outcome
    assert site.live() is None
    assert site.store.last_sync(site.app) is None


def test_sync_applies_new_commits_and_leaves_drift_alone(make_site: Any) -> None:
    site = make_site("sync")
    controller = site.controller()
    first = one(controller)
    assert first.result is Result.SYNCED, first
    assert site.live()["data"] == {"LOG_LEVEL": "info"}
    assert one(controller).result is Result.IN_SYNC

    site.edit("LOG_LEVEL", "debug")
    drifted = one(controller)
    assert drifted.result is Result.OBSERVED and drifted.drift, drifted
    assert site.live()["data"]["LOG_LEVEL"] == "debug"  # left alone
    assert [r.action for r in site.store.audit_log(site.app)][-1] == AuditAction.DRIFT

    site.write_config_map("LOG_LEVEL", "debug")  # captured into Git
    sha = site.commit("capture the hotfix")
    synced = one(controller)
    assert synced.result is Result.SYNCED and synced.sha == sha, synced
    assert one(controller).result is Result.IN_SYNC


def test_self_heal_reverts_drift(make_site: Any) -> None:
    site = make_site("self-heal")
    controller = site.controller()
    assert one(controller).result is Result.SYNCED
    site.edit("LOG_LEVEL", "edited-live")
    healed = one(controller)
    assert healed.result is Result.HEALED, healed
    assert site.live()["data"]["LOG_LEVEL"] == "info"
    sync_audit = [r for r in site.store.audit_log(site.app) if r.action == AuditAction.SYNC]
    assert sync_audit[-1].reason.startswith("self-heal") and sync_audit[-1].summary["drift"]
    events = site.cluster.request("GET", f"/api/v1/namespaces/{site.namespace}/events")["items"]
    ours = {
        (e["reason"], e["involvedObject"]["name"])
        for e in events
        if e["source"].get("component") == "plumbline-controller"
    }
    assert {("Synced", "env"), ("Drift", "env"), ("SelfHealed", "env")} <= ours, ours


def test_self_heal_detects_a_fight_and_stops(make_site: Any) -> None:
    site = make_site("self-heal")
    controller = site.controller(fight_limit=2, fight_window_s=600)
    assert one(controller).result is Result.SYNCED
    results = []
    for _ in range(3):
        site.edit("LOG_LEVEL", "the-other-writer")  # the same field, the same value, again and again
        results.append(one(controller).result)
    assert results == [Result.HEALED, Result.HEALED, Result.FIGHT]
    assert site.live()["data"]["LOG_LEVEL"] == "the-other-writer"  # stopped, not looping
    assert any(r.action == AuditAction.FIGHT for r in site.store.audit_log(site.app))


def test_self_heal_backs_off(make_site: Any) -> None:
    site = make_site("self-heal")
    controller = site.controller(backoff_base_s=60.0)
    assert one(controller).result is Result.SYNCED
    site.edit("LOG_LEVEL", "one")
    assert one(controller).result is Result.HEALED
    site.edit("LOG_LEVEL", "two")
    waiting = one(controller)
    assert waiting.result is Result.BACKOFF, waiting
    assert site.live()["data"]["LOG_LEVEL"] == "two"


def test_pause_expiry_with_drift_goes_pending_until_captured(make_site: Any) -> None:
    site = make_site("self-heal")
    receiver = Receiver()
    controller = site.controller()
    controller.notifier = Notifier(webhooks=[receiver.url + "/hook"], slack=[receiver.url + "/slack"])
    assert one(controller).result is Result.SYNCED
    pause(site.store, site.app, reason="incident 42", duration=timedelta(seconds=2), actor="oncall")
    site.edit("LOG_LEVEL", "hotfix")
    during = one(controller)
    assert during.result is Result.PAUSED, during
    assert site.live()["data"]["LOG_LEVEL"] == "hotfix"  # no writes while paused

    time.sleep(2.1)
    after = one(controller)
    assert after.result is Result.PENDING and after.state is AppStateKind.PAUSED_PENDING, after
    assert site.live()["data"]["LOG_LEVEL"] == "hotfix"  # never a silent revert at expiry
    assert one(controller).result is Result.PENDING  # and it stays there
    actions = [(r.action, r.outcome) for r in site.store.audit_log(site.app)]
    assert (AuditAction.PAUSE, "paused") in actions and (AuditAction.EXPIRE, "paused-pending") in actions

    site.write_config_map("LOG_LEVEL", "hotfix")  # what `plumb capture` does: the hotfix into Git
    site.commit("capture hotfix")
    captured = one(controller)
    assert captured.state is AppStateKind.ACTIVE and captured.result is Result.SYNCED, captured
    assert site.store.app_state(site.app).state is AppStateKind.ACTIVE
    assert site.live()["data"]["LOG_LEVEL"] == "hotfix"

    controller.notifier.close()
    receiver.server.shutdown()
    kinds = [body["kind"] for path, body in receiver.received if path == "/hook"]
    assert kinds == ["drift", "pause-expired-pending"], receiver.received
    slack = [body["text"] for path, body in receiver.received if path == "/slack"]
    assert any("pause-expired-pending" in text and site.app in text for text in slack), slack
    assert not any("hotfix" in json.dumps(body) for _, body in receiver.received)  # no values


def test_pause_expiry_without_drift_resumes(make_site: Any) -> None:
    site = make_site("sync")
    controller = site.controller()
    assert one(controller).result is Result.SYNCED
    pause(site.store, site.app, reason="maintenance", duration=timedelta(seconds=1), actor="oncall")
    time.sleep(1.1)
    outcome = one(controller)
    assert outcome.state is AppStateKind.ACTIVE and outcome.result is Result.IN_SYNC, outcome


def test_cli_pause_resume_revert_and_audit(make_site: Any) -> None:
    site = make_site("self-heal")
    assert one(site.controller()).result is Result.SYNCED
    missing = site.plumb("pause", site.app, "--for", "30m")
    assert missing.returncode == 2 and "--reason" in missing.stderr + missing.stdout
    bad = site.plumb("pause", site.app, "--reason", "x", "--for", "soon")
    assert bad.returncode == 2 and "duration" in bad.stderr
    paused = site.plumb("pause", site.app, "--reason", "incident 7", "--for", "30m")
    assert paused.returncode == 0, paused.stderr
    site.edit("LOG_LEVEL", "hotfix")
    assert one(site.controller()).result is Result.PAUSED

    pending = site.plumb("resume", site.app)
    assert pending.returncode == 1, pending.stdout + pending.stderr
    assert "paused-pending" in pending.stdout and "ConfigMap" in pending.stdout
    assert site.live()["data"]["LOG_LEVEL"] == "hotfix"

    reverted = site.plumb("resume", site.app, "--revert", "--reason", "hotfix not needed")
    assert reverted.returncode == 0, reverted.stdout + reverted.stderr
    assert site.live()["data"]["LOG_LEVEL"] == "info"
    with Store.open(site.store_path) as store:
        assert store.app_state(site.app).state is AppStateKind.ACTIVE

    audit = site.plumb("audit", site.app, "-o", "json")
    actions = [
        (r["action"], r["outcome"])
        for r in json.loads(audit.stdout)
        if r["action"] in {"pause", "resume", "sync"}
    ]
    assert actions[-5:] == [
        ("pause", "paused"),
        ("resume", "paused-pending"),
        ("sync", "started"),  # the write path's intent, then its outcome
        ("sync", "succeeded"),
        ("resume", "active"),
    ], actions
    verify = site.plumb("audit", "verify")
    assert verify.returncode == 0 and "intact" in verify.stdout


def test_mode_override_is_recorded_and_used(make_site: Any) -> None:
    site = make_site("observe")
    changed = site.plumb("mode", site.app, "sync", "--reason", "observed for two weeks")
    assert changed.returncode == 0, changed.stderr
    assert "observe → sync" in changed.stdout
    bad = site.plumb("mode", site.app, "yolo")
    assert bad.returncode == 2
    outcome = one(site.controller())
    assert outcome.result is Result.SYNCED and outcome.mode.value == "sync", outcome
    modes = [r.summary for r in site.store.audit_log(site.app) if r.action == AuditAction.MODE]
    assert modes == [
        {"from": "observe", "to": "sync", "override": True},
        {"from": None, "to": "observe", "source": "config", "override": False},
    ]


def test_config_mode_change_is_audited_when_seen(make_site: Any) -> None:
    site = make_site("observe")
    controller = site.controller()
    one(controller)
    one(controller)
    site.config.write_text(site.config.read_text().replace("mode: observe", "mode: sync"))
    assert one(controller).result is Result.SYNCED
    modes = [
        (r.summary["from"], r.summary["to"]) for r in site.store.audit_log(site.app) if r.action == "mode"
    ]
    assert modes == [(None, "observe"), ("observe", "sync")]


def test_readiness_says_why(make_site: Any) -> None:
    site = make_site("sync")
    assert one(site.controller()).result is Result.SYNCED
    ready = site.plumb("readiness", site.app, "--min-days", "0", "-o", "json")
    assert ready.returncode == 0, ready.stdout + ready.stderr
    report = json.loads(ready.stdout)
    assert report["next"] == "self-heal" and report["facts"]["lastSyncs"] == ["succeeded"]
    site.edit("LOG_LEVEL", "hotfix")
    not_ready = site.plumb("readiness", site.app, "--min-days", "0")
    assert not_ready.returncode == 1 and "1 unclassified drift" in not_ready.stdout, not_ready.stdout
    too_soon = site.plumb("readiness", site.app, "--min-days", "7")
    assert too_soon.returncode == 1 and "days on sync (need 7)" in too_soon.stdout


def test_watch_queues_a_reconcile_on_a_live_edit(make_site: Any) -> None:
    """With the Git poll an hour away, only the watch can notice the edit."""
    site = make_site("sync")
    controller = site.controller(watch=True, interval_s=3600)
    thread = threading.Thread(target=controller.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while site.store.last_sync(site.app) is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert site.store.last_sync(site.app) is not None
        while not controller.watching(timeout=1.0):  # the watches start after the first pass
            assert time.monotonic() < deadline, "the controller's watches never started"
        site.edit("LOG_LEVEL", "edited")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if any(r.action == AuditAction.DRIFT for r in site.store.audit_log(site.app)):
                break
            time.sleep(0.1)
        else:
            pytest.fail("the live edit was not noticed within 15 s")
    finally:
        controller.stop()
        thread.join(timeout=30)
        controller.close()


def owner(site: Site, app: str) -> Any:
    """The app's owner Lease: which controller replica reconciles it."""
    return read_lease(site.cluster, app, namespace=site.lease_namespace, name=owner_lease_name(app))


def test_app_lease_one_writer(make_site: Any) -> None:
    site = make_site("sync")
    ns = site.lease_namespace
    with app_lease(site.cluster, site.app, "cli-a", namespace=ns, duration_s=5):
        lease = read_lease(site.cluster, site.app, namespace=ns)
        assert lease is not None and lease.holder == "cli-a"
        with (
            pytest.raises(LeaseHeldError, match="cli-a"),
            app_lease(site.cluster, site.app, "cli-b", namespace=ns, duration_s=5),
        ):
            pass
        outcome = one(site.controller(identity="replica-x"))
        # The controller owns the app, but its write waits for the CLI's to end (here: never).
        assert outcome.result is Result.ERROR and "cli-a" in outcome.message, outcome
        assert site.live() is None
        assert owner(site, site.app).holder == "replica-x"
    assert acquire(site.cluster, site.app, "cli-b", namespace=ns, duration_s=2).held  # released
    time.sleep(2.2)
    assert acquire(site.cluster, site.app, "cli-c", namespace=ns, duration_s=2).held  # lapsed


def test_two_controller_processes_hand_over_on_kill(make_site: Any) -> None:
    site = make_site("sync")
    env = {**site.env(), "PLUMBLINE_STORE": str(site.root / "shared.db")}
    duration = 4

    def start(identity: str) -> subprocess.Popen[str]:
        return cli.start(
            "controller", "--identity", identity, "--interval", "1", "--lease-duration", str(duration),
            "--lease-namespace", site.lease_namespace, "--no-watch", env=env,
        )  # fmt: skip

    replicas = {"replica-a": start("replica-a"), "replica-b": start("replica-b")}
    try:
        deadline = time.monotonic() + 60
        holder = None
        while time.monotonic() < deadline:
            info = owner(site, site.app)
            if info and info.holder and site.live() is not None:
                holder = info.holder
                break
            time.sleep(0.2)
        assert holder in replicas, "no replica took the app and synced it"
        replicas[holder].send_signal(signal.SIGKILL)
        replicas[holder].wait()
        killed_at = time.monotonic()
        other = next(name for name in replicas if name != holder)
        while time.monotonic() < killed_at + duration + 10:
            info = owner(site, site.app)
            if info and info.holder == other:
                break
            time.sleep(0.2)
        taken = time.monotonic() - killed_at
        assert info is not None and info.holder == other, f"{other} did not take over"
        assert taken <= duration + 3, f"hand-over took {taken:.1f}s, lease is {duration}s"
        # and the survivor really writes: a new commit reaches the cluster
        site.write_config_map("LOG_LEVEL", "after-handover")
        site.commit("after hand-over")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and site.live()["data"]["LOG_LEVEL"] != "after-handover":
            time.sleep(0.2)
        assert site.live()["data"]["LOG_LEVEL"] == "after-handover"
    finally:
        for process in replicas.values():
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=30)


def write_many(site: Site, n: int) -> None:
    (site.repo / "app" / "env.yaml").unlink(missing_ok=True)
    docs = [
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\ndata:\n  K: v{i}\n" for i in range(n)
    ]
    (site.repo / "app" / "many.yaml").write_text("---\n".join(docs))


def config_maps(site: Site) -> set[str]:
    listed = site.cluster.request(
        "GET",
        f"/api/v1/namespaces/{site.namespace}/configmaps",
        query={"labelSelector": f"plumbline.dev/app={site.app}"},
    )
    return {item["metadata"]["name"] for item in listed["items"]}


def test_prune_mode_deletes_what_left_git_and_sync_mode_does_not(make_site: Any) -> None:
    site = make_site("sync")
    write_many(site, 4)
    site.commit("four")
    controller = site.controller()
    assert one(controller).result is Result.SYNCED
    assert config_maps(site) == {"cm-0", "cm-1", "cm-2", "cm-3"}
    write_many(site, 3)
    site.commit("three")
    assert one(controller).result is Result.SYNCED
    assert "cm-3" in config_maps(site)  # sync mode: left in place, a prune candidate
    assert site.plumb("mode", site.app, "prune", "--reason", "cleanup").returncode == 0
    pruned = one(controller)
    assert pruned.result is Result.SYNCED, pruned
    assert config_maps(site) == {"cm-0", "cm-1", "cm-2"}


def test_controller_killed_mid_sync_is_reported_and_finished(make_site: Any) -> None:
    site = make_site("sync")
    write_many(site, 400)
    site.commit("many")
    process = cli.start(
        "controller", "--identity", "doomed", "--interval", "3600", "--lease-duration", "3",
        "--lease-namespace", site.lease_namespace, "--no-watch", env=site.env(),
    )  # fmt: skip
    cli.kill_when(process, lambda: bool(config_maps(site)))
    written = len(config_maps(site))
    assert 0 < written < 400, f"not killed mid-sync ({written} of 400 written); the test needs more objects"
    assert site.store.last_sync(site.app) is None  # the dead writer recorded no outcome
    time.sleep(3.2)  # its lease lapses
    outcome = one(site.controller(identity="survivor"))
    assert outcome.result is Result.SYNCED, outcome
    assert len(config_maps(site)) == 400
    syncs = [(r.outcome, r.actor) for r in site.store.audit_log(site.app) if r.action == AuditAction.SYNC]
    assert syncs == [
        ("started", "doomed"),
        ("interrupted", "survivor"),
        ("started", "survivor"),
        ("succeeded", "survivor"),
    ], syncs


def test_write_refusal_while_paused(make_site: Any) -> None:
    from plumbline.engine.pause import write_refusal

    site = make_site("sync")
    assert write_refusal(site.store, site.app) is None
    pause(site.store, site.app, reason="incident 9", duration=timedelta(minutes=5), actor="oncall")
    refusal = write_refusal(site.store, site.app)
    assert refusal is not None and "incident 9" in refusal


def test_self_heal_removes_unmanaged_additions(make_site: Any) -> None:
    site = make_site("self-heal")
    controller = site.controller()
    assert one(controller).result is Result.SYNCED
    site.edit("DEBUG", "true")  # a key Git never had
    healed = one(controller)
    assert healed.result is Result.HEALED, healed
    assert any("unmanaged-addition" in line for line in healed.drift), healed.drift
    assert site.live()["data"] == {"LOG_LEVEL": "info"}


def test_controller_process_serves_metrics_logs_json_and_stops_on_sigterm(make_site: Any) -> None:
    import urllib.request

    site = make_site("sync")
    port = cli.free_port()
    process = cli.start(
        "controller", "--identity", "solo", "--interval", "1", "--lease-namespace", site.lease_namespace,
        "--listen", f"127.0.0.1:{port}", "--json-logs", env=site.env(), stderr=subprocess.PIPE,
    )  # fmt: skip
    wanted = f'plumbline_app_sync_status{{app="{site.app}",status="Synced"}} 1.0'
    # The health of a pass's plan: a ConfigMap app has nothing unhealthy once its ConfigMap is live.
    healthy = f'plumbline_app_health{{app="{site.app}",status="Healthy"}} 1.0'
    text = ""
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (wanted not in text or healthy not in text):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
                    text = response.read().decode()
            except OSError:
                pass
            time.sleep(0.2)
        assert wanted in text and healthy in text, text[-2000:]
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr[-2000:]
    lines = [json.loads(line) for line in stderr.splitlines() if line.strip()]
    assert lines and all({"time", "level", "msg", "app", "revision"} <= set(line) for line in lines)
    assert any(line["app"] == site.app and line["revision"] for line in lines)
    info = owner(site, site.app)
    assert info is not None and info.holder is None  # released on a clean stop


def test_git_outage_leaves_the_last_good_state_with_the_error_visible(make_site: Any) -> None:
    site = make_site("prune")
    controller = site.controller()
    assert one(controller).result is Result.SYNCED
    site.repo.rename(site.root / "repo-gone")  # the Git server is down
    failed = one(controller)
    assert failed.result is Result.ERROR and "repo" in failed.message, failed
    assert site.live()["data"] == {"LOG_LEVEL": "info"}  # nothing pruned or changed
    assert 'result="error"' in controller.metrics.render().decode()


def test_guard_block_stops_an_automated_sync_and_is_counted(make_site: Any, users_services: None) -> None:
    site = make_site("sync")
    # No such Service in `users`, which exists (seed 01's deprecated address, seed 04's shape): a
    # namespace that existed nowhere would only warn (docs/guards.md).
    site.write_config_map("DB_HOST", "pgbouncer-legacy.users.svc.cluster.local")
    site.commit("a stale service address")
    receiver = Receiver()
    controller = site.controller()
    controller.notifier = Notifier(webhooks=[receiver.url])
    blocked = one(controller)
    assert blocked.result is Result.BLOCKED and "references" in blocked.message, blocked
    assert site.live() is None
    assert f'plumbline_guard_blocks_total{{app="{site.app}"}} 1.0' in controller.metrics.render().decode()
    controller.notifier.close()
    receiver.server.shutdown()
    assert [body["kind"] for _, body in receiver.received] == ["sync-blocked"]


def test_two_replicas_share_the_apps_out(make_site: Any) -> None:
    site = make_site("observe")
    one_app = site.config.read_text()
    apps = [f"{site.app}-{i}" for i in range(4)]
    site.config.write_text("---\n".join(one_app.replace(f"name: {site.app}", f"name: {a}") for a in apps))

    def start(identity: str) -> subprocess.Popen[str]:
        return cli.start(
            "controller", "--identity", identity, "--interval", "1", "--lease-duration", "3",
            "--lease-namespace", site.lease_namespace, "--no-watch", env=site.env(),
        )  # fmt: skip

    first = start("replica-a")
    holders: dict[str, str | None] = {}
    second = None
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # alone, replica-a takes every app
            holders = {a: (i.holder if (i := owner(site, a)) else None) for a in apps}
            if all(h == "replica-a" for h in holders.values()):
                break
            time.sleep(0.2)
        assert all(h == "replica-a" for h in holders.values()), holders
        second = start("replica-b")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # a second replica joins: two apps each
            holders = {a: (i.holder if (i := owner(site, a)) else None) for a in apps}
            counts = sorted(list(holders.values()).count(r) for r in ("replica-a", "replica-b"))
            if counts == [2, 2]:
                break
            time.sleep(0.2)
        assert sorted(list(holders.values()).count(r) for r in ("replica-a", "replica-b")) == [2, 2], holders
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(timeout=30)
