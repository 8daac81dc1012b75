"""The store kept in the Kubernetes API (decision 0015), against the session's real kube-apiserver:
records as labelled, compressed, immutable Secrets; desired objects chunked past a Secret's 1 MiB;
a history limit; the hash-chained audit trail with its key elsewhere; two writers at once."""

from __future__ import annotations

import base64
import contextlib
import gzip
import json
import os
import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from plumbline.cluster import Cluster
from plumbline.cluster.throttle import Limits
from plumbline.config import Mode
from plumbline.errors import ApiFailure, StoreError
from plumbline.local import ControlPlane
from plumbline.redact import Redactor
from plumbline.store import (
    AppState,
    AppStateKind,
    AuditAction,
    AuditOutcome,
    KubernetesStore,
    NoSuchSyncError,
    SqliteStore,
    SyncIntent,
    SyncResult,
)
from tests.support import cli
from tests.support.config import app_yaml, instance_yaml
from tests.support.store import T0, sync_record

pytestmark = pytest.mark.integration


def config_map(name: str, value: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"v": value}}


def intent(app: str = "guestbook", **changes: Any) -> SyncIntent:
    fields: dict[str, Any] = {
        "id": None,
        "app": app,
        "revision": "main",
        "sha": "a" * 40,
        "actor": "alice@laptop",
        "holder": "replica-1",
        "lease_namespace": "plumbline-system",
        "started_at": T0,
        "planned": {"create": 1},
        "desired": [config_map("env", "one")],
        "cause": "commit",
    }
    return SyncIntent(**(fields | changes))


@contextlib.contextmanager
def opened(
    control_plane: ControlPlane, namespace: str, keys: str, limit: int = 10
) -> Iterator[KubernetesStore]:
    """A store of its own (its own API connection, as another process would have) on ``namespace``."""
    with KubernetesStore.connect(
        namespace=namespace,
        history_limit=limit,
        key_secret=f"{keys}/store-keys",
        kubeconfig=control_plane.kubeconfig,
    ) as store:
        yield store


@pytest.fixture
def keys(cluster: Cluster) -> Iterator[str]:
    """The namespace of the store's key Secret (made by the store on first need), deleted afterwards."""
    name = f"k-{uuid.uuid4().hex[:10]}"
    yield name
    with contextlib.suppress(ApiFailure):
        cluster.request("DELETE", f"/api/v1/namespaces/{name}")


@pytest.fixture
def store(control_plane: ControlPlane, namespace: str, keys: str) -> Iterator[KubernetesStore]:
    with opened(control_plane, namespace, keys, limit=2) as opened_store:
        yield opened_store


def secrets_of(cluster: Cluster, namespace: str, record: str) -> list[dict[str, Any]]:
    answer = cluster.request(
        "GET",
        f"/api/v1/namespaces/{namespace}/secrets",
        query={"labelSelector": f"plumbline.dev/record={record}"},
    )
    items: list[dict[str, Any]] = answer["items"]
    return items


def test_history_intents_audit_and_state_round_trip(
    store: KubernetesStore, cluster: Cluster, namespace: str
) -> None:
    intent_id = store.record_intent(intent())
    assert store.unfinished("guestbook") == []  # not yet writing
    store.mark_writing(intent_id)
    store.mark_writing(intent_id)  # a second stamp changes nothing
    (open_intent,) = store.unfinished("guestbook")
    assert open_intent.id == intent_id and open_intent.desired == [config_map("env", "one")]
    stamped = open_intent.writing_at

    failed = store.record_sync(sync_record(result=SyncResult.FAILED, at=T0))
    synced = store.record_sync(
        sync_record(intent=intent_id, at=T0 + timedelta(minutes=1), desired=[config_map("env", "one")])
    )
    store.record_sync(sync_record("other", at=T0 + timedelta(minutes=2)))
    assert store.unfinished("guestbook") == []
    still = store.intent_at(intent_id)
    assert still is not None and still.writing_at == stamped

    last = store.last_sync("guestbook")
    assert last is not None and last.id == synced and last.intent == intent_id
    assert last.desired == [config_map("env", "one")]
    last_any = store.last_sync("guestbook", result=None)
    assert last_any is not None and last_any.id == synced
    assert [r.id for r in store.history("guestbook", with_desired=False)] == [synced, failed]
    assert store.get(failed).result is SyncResult.FAILED
    with pytest.raises(NoSuchSyncError, match="no sync #99"):
        store.get(99)

    store.audit(
        actor="alice",
        app="guestbook",
        action=AuditAction.PAUSE,
        reason="incident 42",
        outcome=AuditOutcome.PAUSED,
    )
    store.audit(
        actor="bob", app="", action=AuditAction.LEASE, outcome=AuditOutcome.ACQUIRED, summary={"n": 1}
    )
    assert [(r.id, r.actor) for r in store.audit_log()] == [(1, "alice"), (2, "bob")]
    assert [r.reason for r in store.audit_log("guestbook")] == ["incident 42"]

    assert store.app_state("guestbook") == AppState(app="guestbook")
    paused = AppState(
        app="guestbook",
        state=AppStateKind.PAUSED,
        reason="incident",
        actor="alice",
        since=T0,
        until=T0 + timedelta(hours=1),
    )
    store.set_app_state(paused)
    store.set_app_state(replace(paused, mode=Mode.OBSERVE))
    assert store.app_state("guestbook") == replace(paused, mode=Mode.OBSERVE)
    assert [s.app for s in store.app_states()] == ["guestbook"]
    assert store.verify_audit() == (2 + 3 + 1, None)

    # labelled, typed, compressed, immutable
    (record,) = [
        s
        for s in secrets_of(cluster, namespace, "sync")
        if s["metadata"]["name"] == f"plumbline.sync.{synced}"
    ]
    assert record["type"] == "plumbline.dev/history.v1" and record["immutable"] is True
    labels = record["metadata"]["labels"]
    assert labels["plumbline.dev/app"] == "guestbook" and labels["plumbline.dev/seq"] == str(synced)
    assert labels["plumbline.dev/result"] == "succeeded" and labels["plumbline.dev/intent"] == str(intent_id)
    body = json.loads(gzip.decompress(base64.b64decode(record["data"]["record"])))
    assert body["row"][0] == "guestbook" and len(body["mac"]) == 64
    record["data"]["record"] = base64.b64encode(b"rewritten").decode()
    with pytest.raises(ApiFailure, match="immutable"):
        cluster.request(
            "PUT", f"/api/v1/namespaces/{namespace}/secrets/{record['metadata']['name']}", body=record
        )
    # the key is not beside the records
    assert not [
        s
        for s in cluster.request("GET", f"/api/v1/namespaces/{namespace}/secrets")["items"]
        if "audit" in (s.get("data") or {})
    ]


def test_a_render_larger_than_a_secret_is_chunked(
    store: KubernetesStore, cluster: Cluster, namespace: str
) -> None:
    # 1.6 MB of incompressible data: more than a Secret (1 MiB) holds even compressed
    big = [config_map(f"blob-{i}", base64.b64encode(os.urandom(200_000)).decode()) for i in range(6)]
    assert len(json.dumps(big)) > 1_500_000
    synced = store.record_sync(sync_record(desired=big))
    chunks = secrets_of(cluster, namespace, "desired")
    assert len(chunks) >= 3
    assert all(len(base64.b64decode(c["data"]["chunk"])) <= 512 * 1024 for c in chunks)
    assert store.get(synced).desired == big
    assert store.record_intent(intent(desired=big)) == 1
    assert len(secrets_of(cluster, namespace, "desired")) == len(chunks)  # the same content, stored once


def test_history_limit_prunes_desired_objects_but_keeps_the_baseline_and_the_chain(
    store: KubernetesStore,
) -> None:
    store.prune_grace = timedelta(0)
    baseline = store.record_sync(sync_record(desired=[config_map("env", "base")]))
    later = [
        store.record_sync(
            sync_record(
                result=SyncResult.FAILED, at=T0 + timedelta(minutes=n), desired=[config_map("env", str(n))]
            )
        )
        for n in range(1, 5)
    ]
    assert store.get(later[-1]).desired == [config_map("env", "4")]
    assert store.get(later[-2]).desired == [config_map("env", "3")]
    with pytest.raises(StoreError, match="removed by the history limit"):
        store.get(later[0])
    last = store.last_sync("guestbook")  # the attribution baseline stays, however old
    assert last is not None and last.id == baseline and last.desired == [config_map("env", "base")]
    assert len(store.history("guestbook", limit=None)) == 5  # the records themselves stay
    assert store.verify_audit() == (5, None)


def test_two_writers_at_once_lose_nothing(control_plane: ControlPlane, namespace: str, keys: str) -> None:
    with opened(control_plane, namespace, keys) as first:
        first.fingerprint_key()  # the key Secret, made once before the race
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def write(who: str) -> None:
        try:
            with opened(control_plane, namespace, keys) as mine:
                start.wait()
                for n in range(12):
                    mine.audit(
                        actor=who,
                        app="guestbook",
                        action=AuditAction.DRIFT,
                        outcome=AuditOutcome.OBSERVED,
                        summary={"n": n},
                    )
                    if n % 3 == 0:
                        mine.record_sync(sync_record(actor=who, at=T0 + timedelta(seconds=n)))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=write, args=(who,)) for who in ("replica-a", "replica-b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with opened(control_plane, namespace, keys) as reader:
        trail = reader.audit_log()
        assert [r.id for r in trail] == list(range(1, 25))
        for who in ("replica-a", "replica-b"):
            assert sorted(r.summary["n"] for r in trail if r.actor == who) == list(range(12))
        assert sorted(r.id or 0 for r in reader.history("guestbook", limit=None)) == list(range(1, 9))
        assert reader.verify_audit() == (24 + 8, None)


def test_removed_and_replaced_records_are_found(
    store: KubernetesStore, cluster: Cluster, namespace: str
) -> None:
    for n in range(3):
        store.audit(
            actor="alice", app="guestbook", action=AuditAction.MODE, outcome=AuditOutcome.SYNC, reason=str(n)
        )
    path = f"/api/v1/namespaces/{namespace}/secrets"
    newest = cluster.request("GET", f"{path}/plumbline.audit.3")
    cluster.request("DELETE", f"{path}/plumbline.audit.3")
    checked, broken = store.verify_audit()
    assert broken is not None and broken.table == "audit" and "newest rows were removed" in broken.why

    # put back with other contents: its MAC gives it away
    body = json.loads(gzip.decompress(base64.b64decode(newest["data"]["record"])))
    body["reason"] = "never happened"
    forged = {k: v for k, v in newest.items() if k != "metadata"}
    forged["metadata"] = {"name": "plumbline.audit.3", "labels": newest["metadata"]["labels"]}
    forged["data"] = {"record": base64.b64encode(gzip.compress(json.dumps(body).encode())).decode()}
    cluster.request("POST", path, body=forged)
    checked, broken = store.verify_audit()
    assert broken is not None and broken.id == 3 and checked == 2


def test_a_missing_key_is_an_error_never_replaced(
    control_plane: ControlPlane, namespace: str, keys: str, cluster: Cluster
) -> None:
    with opened(control_plane, namespace, keys) as store:
        store.audit(actor="alice", app="guestbook", action=AuditAction.PAUSE, outcome=AuditOutcome.PAUSED)
    cluster.request("DELETE", f"/api/v1/namespaces/{keys}/secrets/store-keys")
    with (
        opened(control_plane, namespace, keys) as store,
        pytest.raises(StoreError, match=rf"{keys}/store-keys\) are missing"),
    ):
        store.audit(actor="alice", app="guestbook", action=AuditAction.RESUME, outcome=AuditOutcome.ACTIVE)


def test_plumb_store_migrate_copies_an_sqlite_store_into_the_cluster(
    tmp_path: Path, control_plane: ControlPlane, namespace: str, keys: str, cluster: Cluster
) -> None:
    local = tmp_path / "plumbline.db"
    clear = "hunter2-in-clear"  # a record of a version that kept Secret values in clear
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db"},
        "stringData": {"password": clear},
    }
    with SqliteStore.open(local) as sqlite:
        first = sqlite.record_intent(intent("shop", desired=[secret]))
        sqlite.mark_writing(first)
        sqlite.record_sync(sync_record("shop", intent=first, desired=[secret, config_map("env", "one")]))
        sqlite.record_sync(sync_record("shop", result=SyncResult.FAILED, at=T0 + timedelta(minutes=1)))
        sqlite.audit(
            actor="alice",
            app="shop",
            action=AuditAction.PAUSE,
            reason="incident",
            outcome=AuditOutcome.PAUSED,
        )
        sqlite.audit(actor="alice", app="shop", action=AuditAction.RESUME, outcome=AuditOutcome.ACTIVE)
        sqlite.set_app_state(AppState(app="shop", mode=Mode.OBSERVE, actor="alice", since=T0))
        fingerprint = Redactor.for_store(sqlite).fingerprint(clear)
    config = tmp_path / "plumbline.yaml"
    store = f"{{backend: kubernetes, namespace: {namespace}, keySecret: {keys}/store-keys}}"
    config.write_text(instance_yaml("team-a", store=store) + "---\n" + app_yaml("shop", namespace="shop"))
    env = cli.plumb_env(kubeconfig=control_plane.kubeconfig, config=config, store=local, actor="tester@ci")

    done = cli.plumb("store", "migrate", "--to", "kubernetes", "-o", "json", env=env)
    assert done.returncode == 0, done.stderr
    copied = json.loads(done.stdout)
    assert (copied["syncs"], copied["intents"], copied["audit"], copied["states"]) == (2, 1, 2, 1)
    assert copied["verified"] == 5 and copied["alreadyCopied"] == 0

    again = cli.plumb("store", "migrate", "--to", "kubernetes", env=env)  # idempotent
    assert again.returncode == 0, again.stderr
    assert (
        "copied 0 syncs, 0 sync intents, 0 audit records" in again.stdout
        and "(5 were there already)" in again.stdout
    )

    verified = cli.plumb("audit", "verify", env=env)  # the configured store is the cluster's now
    assert verified.returncode == 0, verified.stderr
    assert "5 records verified" in verified.stdout
    history = cli.plumb("history", "shop", "-o", "json", env=env)
    assert history.returncode == 0, history.stderr
    records = json.loads(history.stdout)
    assert [(r["id"], r["result"], r["intent"]) for r in records] == [
        (2, "failed", None),
        (1, "succeeded", 1),
    ]
    assert records[1]["desired"][0]["stringData"] == {"password": fingerprint}  # the file's key came along
    with opened(control_plane, namespace, keys) as migrated:
        assert migrated.app_state("shop").mode is Mode.OBSERVE
        copied_intent = migrated.intent_at(1)
        assert copied_intent is not None and copied_intent.writing_at is not None
    stored = b"".join(
        gzip.decompress(base64.b64decode(s["data"]["chunk"]))
        for s in secrets_of(cluster, namespace, "desired")
    )
    assert clear.encode() not in stored and fingerprint.encode() in stored
    sqlite_plumb = cli.plumb("--store", "sqlite", "audit", "verify", env=env)  # the file is left as it was
    assert sqlite_plumb.returncode == 0, sqlite_plumb.stderr


def changes_of(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each changed field of a plan (``plumb diff -o json``): ``Kind/name pointer`` → the change."""
    return {f"{o['kind']}/{o['name']} {c['pointer']}": c for o in plan["objects"] for c in o["changes"]}


def test_a_second_controller_with_no_shared_file_attributes_from_the_cluster(
    make_site: Any, keys: str, cluster: Cluster
) -> None:
    """Issue 12's test: two controller processes, the store in the cluster and no file between them.
    The first syncs and is gone; the second takes the app, and a live edit is still `drift-revert` (of
    a Secret key too, seen as fingerprints only) and a new commit still `commit`."""
    site = make_site("sync")
    records = f"st-{uuid.uuid4().hex[:8]}"
    password = "s3cret-value-never-stored"
    (site.repo / "app" / "secret.yaml").write_text(
        f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: {password}\n"
    )
    site.commit("a Secret")
    store = f"{{backend: kubernetes, namespace: {records}, keySecret: {keys}/store-keys}}"
    exception = (
        f"apiVersion: plumbline.dev/v1alpha1\nkind: GuardException\nmetadata: {{name: db-password}}\nspec:\n"
        f"  app: {site.app}\n  guard: secrets\n  target: {{kind: Secret, name: db}}\n"
        "  reason: a test Secret\n  owner: team-test\n"
        f'  expires: "{(T0.now() + timedelta(days=30)).date().isoformat()}"\n'
    )
    site.config.write_text(
        instance_yaml("team-a", store=store)
        + "---\n"
        + app_yaml(site.app, namespace=site.namespace, mode="sync")
        + "---\n"
        + exception
    )

    def replica(identity: str) -> dict[str, str]:
        # each its own would-be store file: neither is ever written, the store is in the cluster
        return {**site.env(), "PLUMBLINE_STORE": str(site.root / f"{identity}.db")}

    def once(identity: str) -> dict[str, Any]:
        ran = cli.plumb(
            "controller", "--once", "--identity", identity, "--lease-namespace", site.lease_namespace,
            "--no-watch", "-o", "json", env=replica(identity),
        )  # fmt: skip
        assert ran.returncode in (0, 1), ran.stderr
        (outcome,) = json.loads(ran.stdout)
        return dict(outcome)

    first = once("replica-a")
    assert first["result"] == "synced", first
    assert site.live() is not None  # replica-a is gone now: a --once run that ended

    site.edit("LOG_LEVEL", "debug")  # a live edit, as kubectl edit makes it
    cluster.request(
        "PATCH",
        f"/api/v1/namespaces/{site.namespace}/secrets/db",
        query={"fieldManager": "kubectl-edit"},
        body={"stringData": {"password": "edited-live"}},
        content_type="application/merge-patch+json",
    )
    site.write_config_map("LOG_LEVEL", "info\n  TIMEOUT: 30s")  # and a new commit
    site.commit("a new key")

    planned = cli.plumb("diff", site.app, "-o", "json", env=replica("replica-b"))
    assert planned.returncode == 1, planned.stderr
    changes = changes_of(json.loads(planned.stdout))
    edited, added = changes["ConfigMap/env /data/LOG_LEVEL"], changes["ConfigMap/env /data/TIMEOUT"]
    assert (edited["attribution"], added["attribution"]) == ("drift-revert", "commit"), changes
    assert edited["lastSynced"] == "info"  # replica-a's baseline, read from the cluster
    secret = changes["Secret/db /data/password"]
    assert secret["attribution"] == "drift-revert", changes
    # fingerprinted under the store's key, the one replica-a recorded with: the same value, the same print
    assert secret["lastSynced"] == secret["git"] != secret["live"]
    assert str(secret["git"]).startswith("redacted:")
    # an empty file of its own has no baseline: what replica-b knows, it knows from the cluster
    blind = cli.plumb("--store", "sqlite", "diff", site.app, "-o", "json", env=replica("replica-c"))
    assert changes_of(json.loads(blind.stdout))["ConfigMap/env /data/LOG_LEVEL"]["lastSynced"] is None
    for made in site.root.glob("replica-c.db*"):
        made.unlink()

    second = once("replica-b")  # takes the app: observes the drift, leaves it (sync mode), says so
    assert second["result"] in {"observed", "blocked"} and second["drift"], second
    status = cli.plumb("status", site.app, "-o", "json", env=replica("replica-b"))
    (row,) = json.loads(status.stdout)
    assert row["store"]["backend"] == "kubernetes" and records in row["store"]["where"]
    assert "store: kubernetes" in cli.plumb("status", site.app, env=replica("replica-b")).stdout

    # the trail in the cluster verifies, and so does the anchor the controllers filed beside their Leases
    verified = cli.plumb(
        "audit", "verify", "--cluster", "--lease-namespace", site.lease_namespace, env=replica("replica-b")
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert not list(site.root.glob("replica-*.db"))  # no file was shared: none was even made
    stored = json.dumps(secrets_of(cluster, records, "desired")) + json.dumps(
        secrets_of(cluster, records, "sync")
    )
    everything = b"".join(
        gzip.decompress(base64.b64decode(value))
        for s in secrets_of(cluster, records, "desired") + secrets_of(cluster, records, "intent")
        for value in s["data"].values()
    )
    assert password.encode() not in everything and password not in stored
    assert base64.b64encode(password.encode()) not in everything and b"redacted:" in everything
    with contextlib.suppress(ApiFailure):
        cluster.request("DELETE", f"/api/v1/namespaces/{records}")


def test_the_last_sync_read_again_costs_its_listing_only(
    control_plane: ControlPlane, namespace: str, keys: str, cluster: Cluster
) -> None:
    """A sync record never changes once written: read again (every pass reads the last sync), it costs
    the listing that finds the newest, not the record and its desired objects again — unless the
    Secret was replaced (another resourceVersion), which is read again. Requests counted by the
    connection's token bucket (limits too high to wait)."""
    counted = Cluster(kubeconfig=control_plane.kubeconfig, limits=Limits(qps=1e9, burst=10**9))
    store = KubernetesStore(counted, namespace=namespace, history_limit=10, key_secret=f"{keys}/store-keys")
    try:
        seq = store.record_sync(sync_record(at=T0, desired=[config_map("env", "one")]))
        assert counted.throttle is not None
        before = counted.throttle.taken
        first = store.last_sync("guestbook")
        assert first is not None and first.desired == [config_map("env", "one")]
        assert counted.throttle.taken - before >= 3  # the listing, the record, its desired objects

        for _ in range(3):
            before = counted.throttle.taken
            again = store.last_sync("guestbook")
            assert again == first
            assert counted.throttle.taken - before == 1  # the listing alone
        assert again is not None
        again.desired.clear()  # what a caller does with its copy changes nothing kept
        kept = store.last_sync("guestbook")
        assert kept is not None and kept.desired == [config_map("env", "one")]

        path = f"/api/v1/namespaces/{namespace}/secrets/plumbline.sync.{seq}"
        secret = cluster.request("GET", path)
        record = json.loads(gzip.decompress(base64.b64decode(secret["data"]["record"])))
        record["row"][9] = "replaced"  # the message
        secret["data"]["record"] = base64.b64encode(gzip.compress(json.dumps(record).encode())).decode()
        secret["metadata"] = {"name": secret["metadata"]["name"], "labels": secret["metadata"]["labels"]}
        cluster.request("DELETE", path)  # immutable: replaced, as a forger would
        cluster.request("POST", path.rsplit("/", 1)[0], body=secret)
        replaced = store.last_sync("guestbook")
        assert replaced is not None and replaced.message == "replaced"  # read again, not the kept one
    finally:
        counted.close()


def test_the_audit_trail_read_again_costs_the_listing_of_its_names(
    control_plane: ControlPlane, namespace: str, keys: str, cluster: Cluster
) -> None:
    """Audit records never change once written: the trail read again (every pass reads its app's)
    lists the records' names only, and lists the records themselves when one is new or was replaced.
    Requests counted by the connection's token bucket (limits too high to wait)."""
    counted = Cluster(kubeconfig=control_plane.kubeconfig, limits=Limits(qps=1e9, burst=10**9))
    store = KubernetesStore(counted, namespace=namespace, history_limit=10, key_secret=f"{keys}/store-keys")

    def audited(reason: str) -> None:
        store.audit(
            actor="alice", app="guestbook", action=AuditAction.MODE, outcome=AuditOutcome.SYNC, reason=reason
        )

    try:
        for n in range(3):
            audited(str(n))
        assert counted.throttle is not None
        before = counted.throttle.taken
        first = store.audit_log("guestbook")
        assert [r.reason for r in first] == ["0", "1", "2"]
        assert counted.throttle.taken - before == 2  # the names, then the records

        before = counted.throttle.taken
        assert store.audit_log("guestbook") == first
        assert [r.reason for r in store.audit_log("guestbook", limit=2)] == ["1", "2"]
        assert counted.throttle.taken - before == 2  # two reads, the names alone each time

        audited("3")
        before = counted.throttle.taken
        assert [r.reason for r in store.audit_log("guestbook")] == ["0", "1", "2", "3"]
        assert counted.throttle.taken - before == 2  # a new record: listed again

        path = f"/api/v1/namespaces/{namespace}/secrets"
        newest = cluster.request("GET", f"{path}/plumbline.audit.4")
        body = json.loads(gzip.decompress(base64.b64decode(newest["data"]["record"])))
        body["reason"] = "never happened"
        forged = {k: v for k, v in newest.items() if k != "metadata"}
        forged["metadata"] = {"name": "plumbline.audit.4", "labels": newest["metadata"]["labels"]}
        forged["data"] = {"record": base64.b64encode(gzip.compress(json.dumps(body).encode())).decode()}
        cluster.request("DELETE", f"{path}/plumbline.audit.4")
        cluster.request("POST", path, body=forged)
        assert store.audit_log("guestbook")[-1].reason == "never happened"  # read again, as it is now
        _, broken = store.verify_audit()
        assert broken is not None and broken.id == 4  # and the chain still gives it away
    finally:
        counted.close()
