"""Plan and sync against the real API server: what the server predicts, what gets written, what not."""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from plumbline.cluster import Cluster
from plumbline.errors import RenderError
from plumbline.plan import APP_LABEL, TRACKING_ANNOTATION, Action, Plan, build_plan
from plumbline.sync import Outcome, sync_plan
from tests.support.manifests import crd, workload

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class M:
    obj: dict[str, Any]
    file: str


def config_map(name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def deployment(name: str, image: str = "nginx:1.27") -> dict[str, Any]:
    return workload(
        "Deployment", name, {"name": "web", "image": image, "envFrom": [{"configMapRef": {"name": "env"}}]}
    )


def service(name: str, port: int = 80) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": {"app": name}, "ports": [{"port": port, "targetPort": 8080}]},
    }


def plan(cluster: Cluster, app: str, namespace: str, objs: list[dict[str, Any]], sha: str = "a" * 40) -> Plan:
    manifests = [
        M(copy.deepcopy(o), f"apps/{app}/{o['kind'].lower()}-{o['metadata']['name']}.yaml") for o in objs
    ]
    return build_plan(
        cluster=cluster, app=app, namespace=namespace, manifests=manifests, revision="main", sha=sha
    )


def app_name() -> str:
    return f"app-{uuid.uuid4().hex[:8]}"


def test_create_sync_then_unchanged(cluster: Cluster, namespace: str) -> None:
    app = app_name()
    objs = [config_map("env", DB_HOST="db.prod.svc"), deployment("web"), service("web")]
    first = plan(cluster, app, namespace, objs)
    assert first.counts["create"] == 3 and not first.errors
    create = next(i for i in first.items if i.ref.kind == "Deployment")
    # The server's prediction carries defaults the manifest never said.
    assert create.predicted is not None and create.predicted["spec"]["strategy"]["type"] == "RollingUpdate"
    assert "+    image: nginx:1.27" in create.diff or "image: nginx:1.27" in create.diff

    report = sync_plan(first, cluster=cluster)
    assert report.ok, report.failures()
    assert report.counts["applied"] == 3

    live = cluster.get(cluster.discovery.lookup("v1", "ConfigMap"), name="env", namespace=namespace)  # type: ignore[arg-type]
    assert live is not None
    assert live["metadata"]["labels"][APP_LABEL] == app
    assert live["metadata"]["annotations"][TRACKING_ANNOTATION] == f"default/{app}:/ConfigMap:{namespace}/env"

    again = plan(cluster, app, namespace, objs)
    assert again.counts == {"create": 0, "update": 0, "unchanged": 3, "prune": 0, "kept": 0}
    assert not again.has_changes


def test_an_update_shows_exactly_the_changed_field(cluster: Cluster, namespace: str) -> None:
    app = app_name()
    assert sync_plan(
        plan(cluster, app, namespace, [config_map("env"), deployment("web")]), cluster=cluster
    ).ok
    changed = plan(cluster, app, namespace, [config_map("env"), deployment("web", image="nginx:1.28")])
    (update,) = changed.of(Action.UPDATE)
    assert update.ref.kind == "Deployment"
    removed = [
        line for line in update.diff.splitlines() if line.startswith("-") and not line.startswith("---")
    ]
    added = [line for line in update.diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    assert len(removed) == 1 and "nginx:1.27" in removed[0]
    assert len(added) == 1 and "nginx:1.28" in added[0]


def test_prune_only_when_asked_and_never_what_is_not_ours(cluster: Cluster, namespace: str) -> None:
    app = app_name()
    assert sync_plan(
        plan(cluster, app, namespace, [config_map("keep"), config_map("drop")]), cluster=cluster
    ).ok
    cm = cluster.discovery.lookup("v1", "ConfigMap")
    assert cm is not None
    # An object with our label copied onto it, but not our tracking annotation: never a candidate.
    impostor = config_map("impostor")
    impostor["metadata"]["namespace"] = namespace
    impostor["metadata"]["labels"] = {APP_LABEL: app}
    cluster.apply(impostor, info=cm, field_manager="someone-else")

    shrunk = plan(cluster, app, namespace, [config_map("keep")])
    assert [str(i.ref) for i in shrunk.of(Action.PRUNE)] == [f"ConfigMap {namespace}/drop"]

    kept = sync_plan(shrunk, cluster=cluster)
    assert kept.ok and kept.counts["kept"] == 1
    assert cluster.get(cm, name="drop", namespace=namespace) is not None

    pruned = sync_plan(shrunk, cluster=cluster, prune=True)
    assert pruned.ok and pruned.counts["pruned"] == 1
    assert cluster.get(cm, name="drop", namespace=namespace) is None
    assert cluster.get(cm, name="impostor", namespace=namespace) is not None
    assert cluster.get(cm, name="keep", namespace=namespace) is not None


def test_a_prune_candidate_changed_since_the_plan_is_not_deleted(cluster: Cluster, namespace: str) -> None:
    """The plan may have read a candidate a moment stale (from the watch cache): the delete carries the
    resourceVersion it read, so one edited or relabelled since is left and reported, not deleted; one
    whose status alone moved (a Deployment mid-rollout) is still the object decided on, and deleted."""
    app = app_name()
    objs = [
        config_map("keep"),
        config_map("edited"),
        config_map("moved"),
        config_map("drop"),
        deployment("busy"),
    ]
    assert sync_plan(plan(cluster, app, namespace, objs), cluster=cluster).ok
    cm = cluster.discovery.lookup("v1", "ConfigMap")
    apps = cluster.discovery.lookup("apps/v1", "Deployment")
    assert cm is not None and apps is not None
    shrunk = plan(cluster, app, namespace, [config_map("keep")])
    assert len(shrunk.of(Action.PRUNE)) == 4
    (busy,) = [item for item in shrunk.of(Action.PRUNE) if item.ref.kind == "Deployment"]
    read = (busy.live or {})["metadata"]["resourceVersion"]
    cluster.request(  # its status moves after the plan read it, as the deployment controller's does
        "PATCH",
        apps.path(namespace=namespace, name="busy") + "/status",
        body={"status": {"observedGeneration": 42}},
        content_type="application/merge-patch+json",
    )
    moved = cluster.get(apps, name="busy", namespace=namespace)
    assert moved is not None and moved["metadata"]["resourceVersion"] != read

    # After the plan: someone edits one candidate's data and relabels another for a different app.
    cluster.request(
        "PATCH",
        cm.path(namespace=namespace, name="edited"),
        body={"data": {"added": "by hand"}},
        content_type="application/merge-patch+json",
    )
    cluster.request(
        "PATCH",
        cm.path(namespace=namespace, name="moved"),
        body={"metadata": {"labels": {APP_LABEL: "another-app"}}},
        content_type="application/merge-patch+json",
    )

    report = sync_plan(shrunk, cluster=cluster, prune=True)
    assert not report.ok  # a prune that was asked for and not done is not a success
    outcomes = {o.item.ref.name: (o.outcome, o.message) for o in report.objects if o.item.ref.name != "keep"}
    assert outcomes["drop"] == (Outcome.PRUNED, "")
    assert outcomes["busy"] == (Outcome.PRUNED, "")
    deleted = cluster.get(apps, name="busy", namespace=namespace)
    assert deleted is None or deleted["metadata"].get("deletionTimestamp")
    for name in ("edited", "moved"):
        outcome, message = outcomes[name]
        assert outcome is Outcome.FAILED
        assert message.startswith("not deleted: it changed since the plan was made"), message
        assert cluster.get(cm, name=name, namespace=namespace) is not None
    assert cluster.get(cm, name="drop", namespace=namespace) is None


def test_a_refused_dry_run_writes_nothing(cluster: Cluster, namespace: str) -> None:
    app = app_name()
    broken = deployment("web")
    broken["spec"]["selector"]["matchLabels"] = {"app": "other"}  # does not select its own template
    bad_plan = plan(cluster, app, namespace, [config_map("env"), broken])
    (refused,) = bad_plan.errors
    assert refused.ref.kind == "Deployment" and "selector" in (refused.error or "")

    report = sync_plan(bad_plan, cluster=cluster)
    assert not report.ok and report.refused and "Deployment" in report.refused[0]
    cm = cluster.discovery.lookup("v1", "ConfigMap")
    assert cm is not None and cluster.get(cm, name="env", namespace=namespace) is None


def test_conflicts_with_another_manager_are_reported_then_forced_only_on_request(
    cluster: Cluster, namespace: str
) -> None:
    app = app_name()
    assert sync_plan(plan(cluster, app, namespace, [config_map("env", DB_HOST="a")]), cluster=cluster).ok
    cm = cluster.discovery.lookup("v1", "ConfigMap")
    assert cm is not None
    # Someone else takes DB_HOST over (as `kubectl edit` does, through an Update).
    cluster.request(
        "PATCH",
        cm.path(namespace=namespace, name="env"),
        query={"fieldManager": "kubectl-edit"},
        body={"data": {"DB_HOST": "b"}},
        content_type="application/merge-patch+json",
    )
    stale = plan(cluster, app, namespace, [config_map("env", DB_HOST="c")])
    (conflicted,) = stale.conflicts
    assert 'conflict with "kubectl-edit"' in (conflicted.conflict or "") and ".data.DB_HOST" in (
        conflicted.conflict or ""
    )
    assert "DB_HOST: c" in conflicted.diff  # the prediction is what taking ownership would give

    # Without history, a field another manager took over is a live edit: reverting it needs consent.
    (change,) = stale.changes_of("drift-revert")
    assert change.pointer == "/data/DB_HOST" and change.editor and change.editor.manager == "kubectl-edit"
    report = sync_plan(stale, cluster=cluster)
    (refusal,) = report.refused
    assert "kubectl-edit" in refusal and "--revert-drift" in refusal
    assert cluster.get(cm, name="env", namespace=namespace)["data"]["DB_HOST"] == "b"  # type: ignore[index]
    # --force-conflicts is for other controllers' fields; it does not revert a person's edit.
    assert sync_plan(stale, cluster=cluster, force_conflicts=True).refused
    assert cluster.get(cm, name="env", namespace=namespace)["data"]["DB_HOST"] == "b"  # type: ignore[index]

    forced = sync_plan(stale, cluster=cluster, revert_drift=True)
    assert forced.ok
    assert cluster.get(cm, name="env", namespace=namespace)["data"]["DB_HOST"] == "c"  # type: ignore[index]


def test_an_unknown_kind_names_its_file(cluster: Cluster, namespace: str) -> None:
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    with pytest.raises(RenderError, match=r"apps/x/widget-w.yaml: Widget w \(apiVersion example.com/v1\)"):
        plan(cluster, "x", namespace, [widget])


def test_a_crd_and_its_objects_in_one_sync(cluster: Cluster) -> None:
    app = app_name()
    group = f"{app}.example.com"
    ns = f"ns-{app}"
    gadgets = crd(group, "Gadget")
    namespace_obj = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
    gadget = {"apiVersion": f"{group}/v1", "kind": "Gadget", "metadata": {"name": "g1"}, "spec": {"size": 3}}
    first = plan(cluster, app, ns, [gadget, gadgets, namespace_obj])
    notes = {i.ref.kind: i.note for i in first.items}
    assert "CustomResourceDefinition is created by this sync" in notes["Gadget"]
    report = sync_plan(first, cluster=cluster)
    assert report.ok, report.failures()
    waves = {o.item.ref.kind: o.wave for o in report.objects}
    assert waves["CustomResourceDefinition"] == waves["Namespace"] == 0 < waves["Gadget"]
    assert plan(cluster, app, ns, [gadget, gadgets, namespace_obj]).counts["unchanged"] == 3
    report_prune = sync_plan(plan(cluster, app, ns, [gadgets, namespace_obj]), cluster=cluster, prune=True)
    assert [o.item.ref.kind for o in report_prune.objects if o.outcome is Outcome.PRUNED] == ["Gadget"]
