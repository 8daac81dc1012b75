"""The "unchanged" proof on the real control plane (plan/unchanged.py, docs/unchanged.md): a plan that
stands on proofs asks no dry run for what it proves, says exactly what the full plan says, and never
hides a live edit or a change of the server's behaviour.

Dry runs are counted where they are sent: a real :class:`Cluster` that counts its requests.
"""

from __future__ import annotations

import contextlib
import copy
import json
import sqlite3
import time
import uuid
import zlib
from pathlib import Path
from typing import Any

import pytest

from plumbline import engine
from plumbline.cluster import Cluster, ResourceInfo
from plumbline.cluster.cache import LiveCache
from plumbline.config import Mode, load_config
from plumbline.controller import Result
from plumbline.errors import ApiFailure
from plumbline.local import ControlPlane
from plumbline.plan import ObjectRef, Plan
from plumbline.plan.report import plan_to_dict
from plumbline.plan.unchanged import Proof, RequestedStamps
from plumbline.redact import Redactor
from plumbline.store import KubernetesStore, SyncResult
from plumbline.sync import sync_plan
from tests.support.cluster import CountingCluster, limited_kubeconfig
from tests.support.git import commit_all
from tests.support.manifests import crd, workload
from tests.support.sites import Site
from tests.support.workloads import M, plan_at_main

pytestmark = pytest.mark.integration

KEY = Redactor(b"p" * 32)
PASSWORD = "correct-horse-battery"


def objects() -> list[dict[str, Any]]:
    return [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "env"}, "data": {"LOG": "info"}},
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "db"},
            "stringData": {"password": PASSWORD},
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
        },
        workload("Deployment", "web", {"name": "web", "image": "nginx:1.27"}, replicas=1),
    ]


def plan(
    cluster: Cluster,
    app: str,
    namespace: str,
    objs: list[dict[str, Any]],
    *,
    proofs: dict[ObjectRef, Proof] | None = None,
    redactor: Redactor = KEY,
) -> Plan:
    """The plan with stamps read afresh (as every plan does), standing on ``proofs`` if given."""
    manifests = [M(copy.deepcopy(o), f"{o['kind'].lower()}-{o['metadata']['name']}.yaml") for o in objs]
    return plan_at_main(
        cluster, app, namespace, manifests, redactor=redactor, proofs=proofs, stamps=RequestedStamps(cluster)
    )


def proofs_of(made: Plan) -> dict[ObjectRef, Proof]:
    return {item.ref: item.proof for item in made.items if item.proof is not None}


def shown(made: Plan) -> list[dict[str, Any]]:
    """The plan as ``plumb diff -o json`` shows its objects, but whether each was proven."""
    return [{k: v for k, v in o.items() if k != "proven"} for o in plan_to_dict(made)["objects"]]


def settled(cluster: Cluster, namespace: str) -> None:
    """Until kube-controller-manager has written the Deployment's revision annotation (its one write
    outside status): later writes are status only. A loop with a bound, not a timed assertion."""
    info = cluster.discovery.lookup("apps/v1", "Deployment")
    assert info is not None
    for _ in range(300):
        live = cluster.get(info, name="web", namespace=namespace)
        if live and "deployment.kubernetes.io/revision" in (live["metadata"].get("annotations") or {}):
            return
        time.sleep(0.1)
    raise AssertionError("the Deployment never got its revision annotation")


@pytest.fixture
def synced(counting: CountingCluster, namespace: str) -> tuple[str, Plan]:
    """An app of four objects synced, settled, and its first full plan (every object unchanged)."""
    app = f"app-{uuid.uuid4().hex[:6]}"
    first = plan(counting, app, namespace, objects())
    assert sync_plan(first, cluster=counting).ok
    settled(counting, namespace)
    full = plan(counting, app, namespace, objects())
    assert full.counts["unchanged"] == 4 and not full.has_changes, full.counts
    return app, full


def test_a_proven_plan_asks_no_dry_run_and_says_what_the_full_plan_says(
    counting: CountingCluster, namespace: str, synced: tuple[str, Plan]
) -> None:
    app, full = synced
    assert {str(ref) for ref in proofs_of(full)} == {str(item.ref) for item in full.items}
    counting.dry_runs = 0
    proven = plan(counting, app, namespace, objects(), proofs=proofs_of(full))
    assert counting.dry_runs == 0
    assert all(item.proven for item in proven.items)
    assert shown(proven) == shown(full)
    assert proven.sync_status is full.sync_status
    assert proofs_of(proven) == proofs_of(full)  # what it stood on still holds, carried on
    again = plan(counting, app, namespace, objects())  # and a full plan now agrees, dry run by dry run
    assert counting.dry_runs == 4 and shown(again) == shown(full)


def patch(cluster: Cluster, path: str, body: Any, manager: str) -> None:
    """A write by another field manager: a merge patch, or a JSON patch (a list of operations)."""
    kind = "json-patch" if isinstance(body, list) else "merge-patch"
    cluster.request(
        "PATCH", path, query={"fieldManager": manager}, body=body, content_type=f"application/{kind}+json"
    )


def edit_then_compare(
    counting: CountingCluster, namespace: str, synced: tuple[str, Plan], kind: str
) -> tuple[Plan, Plan]:
    """The plan standing on the proofs made before the edit, and a full plan, both after it."""
    app, full = synced
    counting.dry_runs = 0
    standing = plan(counting, app, namespace, objects(), proofs=proofs_of(full))
    standing_runs, counting.dry_runs = counting.dry_runs, 0
    refused = [item for item in standing.items if not item.proven]
    assert [item.ref.kind for item in refused] == [kind]
    rechecked = plan(counting, app, namespace, objects())
    assert shown(standing) == shown(rechecked)
    # Only the refused object was dry-run (twice where a conflict asks for the forced prediction too).
    assert standing_runs == counting.dry_runs - (len(objects()) - 1) >= 1
    return standing, rechecked


def test_an_edit_by_another_field_manager_is_found(
    counting: CountingCluster, namespace: str, synced: tuple[str, Plan]
) -> None:
    patch(
        counting, f"/api/v1/namespaces/{namespace}/configmaps/env", {"data": {"LOG": "debug"}}, "kubectl-edit"
    )
    standing, _ = edit_then_compare(counting, namespace, synced, "ConfigMap")
    (change,) = standing.changes_of("drift-revert")
    assert change.pointer == "/data/LOG" and change.live == "debug"


def test_an_edit_that_only_removes_our_label_is_found(
    counting: CountingCluster, namespace: str, synced: tuple[str, Plan]
) -> None:
    removal = [{"op": "remove", "path": "/metadata/labels/plumbline.dev~1app"}]
    patch(counting, f"/api/v1/namespaces/{namespace}/services/web", removal, "kubectl-label")
    standing, _ = edit_then_compare(counting, namespace, synced, "Service")
    assert standing.has_changes
    assert any("plumbline.dev~1app" in c.pointer for c in standing.changes), standing.changes


def test_an_object_deleted_and_made_again_alike_is_not_proved(
    counting: CountingCluster, namespace: str, synced: tuple[str, Plan]
) -> None:
    _, full = synced
    (item,) = [i for i in full.items if i.ref.kind == "ConfigMap"]
    info = counting.discovery.lookup("v1", "ConfigMap")
    assert info is not None and item.desired is not None
    counting.request("DELETE", info.path(namespace=namespace, name="env"))
    counting.apply(item.desired, info=info)  # the same object, by the same manager: only its uid is new
    standing, rechecked = edit_then_compare(counting, namespace, synced, "ConfigMap")
    assert not standing.has_changes
    (fresh,) = [i for i in rechecked.items if i.ref.kind == "ConfigMap"]
    assert fresh.proof is not None and fresh.proof != proofs_of(full)[fresh.ref]


def test_a_status_update_keeps_the_proof(
    counting: CountingCluster, namespace: str, synced: tuple[str, Plan]
) -> None:
    app, full = synced
    condition = {"type": "Checked", "status": "True", "reason": "Test"}
    path = f"/apis/apps/v1/namespaces/{namespace}/deployments/web/status"
    patch(counting, path, {"status": {"conditions": [condition]}}, "status-writer")
    counting.dry_runs = 0
    standing = plan(counting, app, namespace, objects(), proofs=proofs_of(full))
    assert counting.dry_runs == 0 and all(item.proven for item in standing.items)
    assert shown(standing) == shown(plan(counting, app, namespace, objects()))


def test_a_secrets_proof_is_keyed(
    counting: CountingCluster, namespace: str, synced: tuple[str, Plan]
) -> None:
    app, full = synced
    text = json.dumps({str(ref): proof.to_dict() for ref, proof in proofs_of(full).items()})
    assert PASSWORD not in text and "Y29ycmVjdC1ob3JzZS1iYXR0ZXJ5" not in text  # nor its base64
    # The same objects under another installation's key: no proof of this one holds there.
    counting.dry_runs = 0
    other = plan(counting, app, namespace, objects(), proofs=proofs_of(full), redactor=Redactor(b"o" * 32))
    assert counting.dry_runs == 4 and not any(item.proven for item in other.items)


def test_a_crd_schema_change_changes_the_stamp(counting: CountingCluster, namespace: str) -> None:
    group = f"g{uuid.uuid4().hex[:6]}.example.com"
    definition = crd(group, "Widget")
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {"spec": {"type": "object", "properties": {"size": {"type": "integer"}}}},
    }
    definition["spec"]["versions"][0]["schema"] = {"openAPIV3Schema": schema}
    crds = counting.discovery.lookup("apiextensions.k8s.io/v1", "CustomResourceDefinition")
    assert crds is not None
    counting.apply(definition, info=crds)
    try:
        info = established(counting, group)
        widget = {
            "apiVersion": f"{group}/v1",
            "kind": "Widget",
            "metadata": {"name": "w"},
            "spec": {"size": 1},
        }
        app = f"app-{uuid.uuid4().hex[:6]}"
        assert sync_plan(plan(counting, app, namespace, [widget]), cluster=counting).ok
        full = plan(counting, app, namespace, [widget])
        before = RequestedStamps(counting).of(info)
        assert before and proofs_of(full)

        # A new default: the server now answers an apply of the same object with one more field.
        schema["properties"]["spec"]["properties"]["colour"] = {"type": "string", "default": "blue"}
        counting.apply(definition, info=crds)
        after = RequestedStamps(counting).of(info)
        assert after and after != before
        counting.dry_runs = 0
        standing = plan(counting, app, namespace, [widget], proofs=proofs_of(full))
        assert counting.dry_runs == 1 and not any(item.proven for item in standing.items)
        assert shown(standing) == shown(plan(counting, app, namespace, [widget]))
        (item,) = standing.items
        assert item.predicted is not None and item.predicted["spec"]["colour"] == "blue"
    finally:
        with contextlib.suppress(ApiFailure):
            counting.request("DELETE", crds.path(name=f"widgets.{group}"))


def established(cluster: Cluster, group: str) -> ResourceInfo:
    """The Widget kind once discovery serves it."""
    for _ in range(300):
        info = cluster.refresh_discovery().lookup(f"{group}/v1", "Widget")
        if info is not None:
            return info
        time.sleep(0.1)
    raise AssertionError(f"widgets.{group} never served")


def test_a_mutating_webhook_configuration_changes_the_stamp(
    counting: CountingCluster, namespace: str, synced: tuple[str, Plan]
) -> None:
    app, full = synced
    info = counting.discovery.lookup("v1", "ConfigMap")
    assert info is not None
    before = RequestedStamps(counting).of(info)
    webhooks = counting.discovery.lookup("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration")
    assert webhooks is not None
    name = f"nowhere-{uuid.uuid4().hex[:6]}"
    hook = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": name},
        "webhooks": [
            {
                "name": "nowhere.example.com",
                "clientConfig": {"url": "https://127.0.0.1:1/nowhere"},
                # Ignore, and for a kind nobody has: it changes nothing, but the proof cannot know that.
                "failurePolicy": "Ignore",
                "rules": [
                    {
                        "apiGroups": ["nowhere.example.com"],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE"],
                        "resources": ["things"],
                    }
                ],
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
            }
        ],
    }
    counting.apply(hook, info=webhooks)
    try:
        after = RequestedStamps(counting).of(info)
        assert before and after and after != before
        counting.dry_runs = 0
        standing = plan(counting, app, namespace, objects(), proofs=proofs_of(full))
        assert counting.dry_runs == 4 and not any(item.proven for item in standing.items)
        assert shown(standing) == shown(full)
    finally:
        counting.request("DELETE", webhooks.path(name=name))
    assert RequestedStamps(counting).of(info) == before


def test_who_may_not_read_what_stamps_are_made_of_gets_no_shortcut(
    tmp_path: Path, control_plane: ControlPlane, counting: CountingCluster, namespace: str
) -> None:
    """A user whose rights end at ConfigMaps in one namespace cannot read APIServices, CRDs or the
    admission configuration: every stamp is "cannot tell", so every object is dry-run."""
    app = f"app-{uuid.uuid4().hex[:6]}"
    env = objects()[:1]
    assert sync_plan(plan(counting, app, namespace, env), cluster=counting).ok
    full = plan(counting, app, namespace, env)
    assert proofs_of(full)
    kubeconfig = limited_kubeconfig(counting, control_plane, namespace, tmp_path / "limited.yaml")
    limited = CountingCluster(kubeconfig=kubeconfig)
    try:
        configmaps = limited.discovery.lookup("v1", "ConfigMap")
        assert configmaps is not None and RequestedStamps(limited).of(configmaps) is None
        standing = plan(limited, app, namespace, env, proofs=proofs_of(full))
        assert limited.dry_runs == 1 and not standing.items[0].proven
        assert shown(standing) == shown(full)
    finally:
        limited.close()


# ---- recorded with each sync, in both store backends, used by plumb diff ----------------------


def site_with_a_secret(site: Site) -> None:
    (site.repo / "app" / "db.yaml").write_text(
        f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: {PASSWORD}\n"
    )
    commit_all(site.repo, "a secret")


def synced_site(site: Site, store: Any) -> tuple[Any, Any, Any]:
    config = load_config(site.config)
    app = config.apps[site.app]
    _, _, record = engine.sync_app(
        app,
        cluster=site.cluster,
        store=store,
        config=config,
        allow=["secrets:Secret/db"],  # a Secret in Git: the test's, made up
        reason="a test Secret",
    )
    assert record.result is SyncResult.SUCCEEDED, record.message
    return config, app, record


def proven_by_kind(text: str) -> dict[str, bool]:
    return {o["kind"]: o["proven"] for o in json.loads(text)["objects"]}


def test_a_sync_records_its_proofs_and_plumb_diff_stands_on_them(
    tmp_path: Path, control_plane: ControlPlane, namespace: str, counting: CountingCluster
) -> None:
    site = Site(tmp_path, control_plane, namespace, mode="sync")
    try:
        site_with_a_secret(site)
        config, app, record = synced_site(site, site.store)
        assert set(record.proofs) == {f"ConfigMap {namespace}/env", f"Secret {namespace}/db"}
        assert site.store.last_sync(app.name).proofs == record.proofs  # type: ignore[union-attr]
        raw = sqlite3.connect(site.store_path)
        try:
            (blob,) = raw.execute("SELECT proofs FROM syncs WHERE id = ?", (record.id,)).fetchone()
        finally:
            raw.close()
        assert PASSWORD not in zlib.decompress(blob).decode()

        counting.dry_runs = 0
        standing, _ = engine.plan_app(app, cluster=counting, store=site.store, config=config)
        assert counting.dry_runs == 0 and all(item.proven for item in standing.items)
        full, _ = engine.plan_app(app, cluster=counting, store=site.store, config=config, recheck=True)
        assert counting.dry_runs == 2 and shown(standing) == shown(full)

        assert proven_by_kind(site.plumb("diff", app.name, "-o", "json").stdout) == {
            "ConfigMap": True,
            "Secret": True,
        }
        rechecked = site.plumb("diff", app.name, "--recheck", "-o", "json").stdout
        assert proven_by_kind(rechecked) == {"ConfigMap": False, "Secret": False}

        site.edit("LOG_LEVEL", "trace")  # a live edit after the sync: found, not hidden
        edited = site.plumb("diff", app.name, "-o", "json")
        assert edited.returncode == 1 and json.loads(edited.stdout)["hasChanges"]
        assert proven_by_kind(edited.stdout) == {"ConfigMap": False, "Secret": True}
    finally:
        site.close()


def test_the_kubernetes_store_keeps_the_proofs(
    tmp_path: Path, control_plane: ControlPlane, namespace: str, counting: CountingCluster
) -> None:
    keys, records = f"k-{uuid.uuid4().hex[:10]}", f"r-{uuid.uuid4().hex[:10]}"
    site = Site(tmp_path, control_plane, namespace, mode="sync")
    try:
        site_with_a_secret(site)
        with KubernetesStore.connect(
            namespace=records,
            history_limit=10,
            key_secret=f"{keys}/store-keys",
            kubeconfig=control_plane.kubeconfig,
        ) as store:
            config, app, record = synced_site(site, store)
            assert len(record.proofs) == 2
            last = store.last_sync(app.name)
            assert last is not None and last.proofs == record.proofs
            assert store.history(app.name, with_desired=False)[0].proofs == {}
            counting.dry_runs = 0
            standing, _ = engine.plan_app(app, cluster=counting, store=store, config=config)
            assert counting.dry_runs == 0 and all(item.proven for item in standing.items)
    finally:
        site.close()
        for made in (keys, records):
            with contextlib.suppress(ApiFailure):
                counting.request("DELETE", f"/api/v1/namespaces/{made}")


# ---- the controller: proofs kept between passes, a full recheck at least every interval --------


def passes(site: Site, counting: CountingCluster, recheck_every_s: float, count: int) -> list[int]:
    """The dry runs of ``count`` passes of a controller over the site's app (after its first pass,
    which syncs), with an edit by another manager before them."""
    controller = site.controller(recheck_every_s=recheck_every_s)
    try:
        (first,) = controller.run_once()
        assert first.result is Result.SYNCED, first
        site.edit("INJECTED", "by-a-controller")  # another manager's field, then left alone
        app = controller.config.apps[site.app]
        runs = []
        for _ in range(count):
            counting.dry_runs = 0
            controller.reconciler.reconcile(app, counting, Mode.SYNC, controller.config)
            runs.append(counting.dry_runs)
        return runs
    finally:
        controller.close()


@pytest.mark.parametrize(
    ("recheck_every_s", "dry_runs"),
    [
        # The recorded proof no longer holds after the edit: one dry run; the pass's own proof then does.
        (3600.0, [1, 0, 0]),
        (0.0, [1, 1, 1]),  # every pass is a recheck: every object dry-run
    ],
)
def test_the_controller_proves_what_others_changed_then_left_alone_until_it_rechecks(
    tmp_path: Path,
    control_plane: ControlPlane,
    namespace: str,
    counting: CountingCluster,
    recheck_every_s: float,
    dry_runs: list[int],
) -> None:
    site = Site(tmp_path, control_plane, namespace, mode="sync")
    try:
        assert passes(site, counting, recheck_every_s, 3) == dry_runs
    finally:
        site.close()


def test_the_controller_checks_proofs_by_its_caches_stamps(
    tmp_path: Path, control_plane: ControlPlane, namespace: str, counting: CountingCluster
) -> None:
    site = Site(tmp_path, control_plane, namespace, mode="sync")
    cache = LiveCache(counting)
    controller = site.controller()
    try:
        (first,) = controller.run_once()
        assert first.result is Result.SYNCED, first
        configmaps = counting.discovery.lookup("v1", "ConfigMap")
        assert configmaps is not None
        cache.watch([configmaps])
        cache.watch_stamps()
        assert cache.wait_synced(60.0)
        assert cache.of(configmaps) == RequestedStamps(counting).of(configmaps)  # the sync's proofs hold
        controller.reconciler.live = lambda cluster: cache if cluster is counting else None
        app = controller.config.apps[site.app]
        counting.dry_runs, counting.sent = 0, []
        controller.reconciler.reconcile(app, counting, Mode.SYNC, controller.config)
        assert counting.dry_runs == 0
        assert not [p for _, p in counting.sent if "/apiservices/" in p or p == "/version"]  # no stamp read
    finally:
        controller.close()
        cache.close()
        site.close()
