"""Attribution as pure logic: real API objects (from gitops-engine's test data) and hand-made three-way
cases whose answer is known. No server: these check the rules, the integration tests check the API."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml

from plumbline.plan.age import age_in_words
from plumbline.plan.attribute import attribute, strip_runtime
from plumbline.plan.attribution import Attribution, FieldChange
from plumbline.plan.diff import unified_diff
from plumbline.plan.fields import ABSENT, get_path, json_pointer, owners, remove_path
from plumbline.plan.model import ObjectRef
from plumbline.plan.normalize import comparable
from plumbline.plan.runtime import IgnoreRule, RuntimeRules
from plumbline.redact import Redactor
from tests.support.data import GITOPS_ENGINE_DIFF

DATA = GITOPS_ENGINE_DIFF


def load(name: str) -> Any:
    text = (DATA / name).read_text()
    return json.loads(text) if name.endswith(".json") else yaml.safe_load(text)


def by_pointer(changes: list[FieldChange]) -> dict[str, FieldChange]:
    return {c.pointer: c for c in changes}


def test_manual_apply_container_is_an_unmanaged_addition_with_its_editor() -> None:
    desired = load("ssd-deploy-with-manual-apply-config.yaml")
    live = load("ssd-deploy-with-manual-apply-live.yaml")
    predicted = load("ssd-deploy-with-manual-apply-predicted-live.json")
    changes = attribute(
        ref=ObjectRef.of(live),
        desired=desired,
        predicted=predicted,
        live=live,
        last_synced=None,
        rules=RuntimeRules(self_manager="argocd-controller"),
    )
    found = by_pointer(changes)
    idle = found["/spec/template/spec/containers/[name=idle]"]
    assert idle.attribution is Attribution.UNMANAGED_ADDITION
    assert idle.live["image"] == "spurin/idle:latest"
    assert idle.editor is not None and idle.editor.manager == "kubectl-client-side-apply"
    assert idle.editor.operation == "Update"
    assert idle.editor.time == datetime(2025, 2, 25, 1, 29, 34, tzinfo=UTC)
    # The port Git added is the commit's change; nobody else owns it live.
    https = found["/spec/template/spec/containers/[name=main-container]/ports/[name=https]"]
    assert https.attribution is Attribution.COMMIT and https.live is None
    assert https.git == {"containerPort": 40, "name": "https", "protocol": "TCP"}
    # The controller's revision annotation is the controller's, not an addition.
    assert not any("deployment.kubernetes.io" in c.pointer for c in changes)
    counted = [c for c in changes if c.attribution is not Attribution.RUNTIME]
    assert {c.attribution for c in counted} == {Attribution.UNMANAGED_ADDITION, Attribution.COMMIT}


def test_managed_fields_owners_from_real_live_object() -> None:
    live = load("ssd-deploy-with-manual-apply-live.yaml")
    path = ("spec", "template", "spec", "containers", {"name": "idle"}, "image")
    assert [e.manager for e in owners(live, path)] == ["kubectl-client-side-apply"]
    main = ("spec", "template", "spec", "containers", {"name": "main-container"}, "image")
    assert "argocd-controller" in [e.manager for e in owners(live, main)]
    assert json_pointer(live, path) == "/spec/template/spec/containers/1/image"


def managed(manager: str, fields: dict[str, Any], *, when: str, operation: str = "Update") -> dict[str, Any]:
    return {
        "manager": manager,
        "operation": operation,
        "time": when,
        "fieldsType": "FieldsV1",
        "fieldsV1": fields,
    }


def config_map(data: dict[str, str], managed_fields: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "env", "namespace": "shop"},
        "data": dict(data),
    }
    if managed_fields is not None:
        obj["metadata"]["managedFields"] = managed_fields
    return obj


PLUMBLINE_OWNS = managed(
    "plumbline", {"f:data": {"f:DB_HOST": {}, "f:LOG": {}}}, when="2025-01-01T00:00:00Z", operation="Apply"
)
EDIT = managed("kubectl-edit", {"f:data": {"f:DB_HOST": {}}}, when="2025-03-01T00:00:00Z")


def classify(
    *, git: dict[str, str], live: dict[str, Any], last: dict[str, str] | None
) -> dict[str, FieldChange]:
    desired = config_map(git)
    return by_pointer(
        attribute(
            ref=ObjectRef.of(desired),
            desired=desired,
            predicted=desired,  # what a forced apply predicts for these fields
            live=live,
            last_synced=None if last is None else config_map(last),
            rules=RuntimeRules(),
        )
    )


def test_git_unchanged_live_edited_is_drift_revert_with_the_editor() -> None:
    live = config_map({"DB_HOST": "B", "LOG": "info"}, [PLUMBLINE_OWNS, EDIT])
    found = classify(git={"DB_HOST": "A", "LOG": "debug"}, live=live, last={"DB_HOST": "A", "LOG": "info"})
    db = found["/data/DB_HOST"]
    assert db.attribution is Attribution.DRIFT_REVERT
    assert (db.live, db.git, db.last_synced) == ("B", "A", "A")
    assert db.editor is not None and db.editor.manager == "kubectl-edit"
    log = found["/data/LOG"]
    assert log.attribution is Attribution.COMMIT and (log.live, log.git) == ("info", "debug")


def test_both_changed_is_conflict() -> None:
    live = config_map({"DB_HOST": "B", "LOG": "info"}, [PLUMBLINE_OWNS, EDIT])
    found = classify(git={"DB_HOST": "C", "LOG": "info"}, live=live, last={"DB_HOST": "A", "LOG": "info"})
    assert found["/data/DB_HOST"].attribution is Attribution.CONFLICT
    assert set(found) == {"/data/DB_HOST"}


def test_without_history_the_owner_decides() -> None:
    live = config_map({"DB_HOST": "B", "LOG": "info"}, [PLUMBLINE_OWNS, EDIT])
    found = classify(git={"DB_HOST": "A", "LOG": "debug"}, live=live, last=None)
    assert found["/data/DB_HOST"].attribution is Attribution.DRIFT_REVERT
    assert found["/data/LOG"].attribution is Attribution.COMMIT  # only plumbline owns it


def test_create_and_prune_are_whole_object_changes() -> None:
    desired = config_map({"A": "1"})
    ref = ObjectRef.of(desired)
    rules = RuntimeRules()
    (created,) = attribute(
        ref=ref, desired=desired, predicted=desired, live=None, last_synced=None, rules=rules
    )
    assert created.attribution is Attribution.CREATE and created.pointer == "/"
    (pruned,) = attribute(ref=ref, desired=None, predicted=None, live=desired, last_synced=None, rules=rules)
    assert pruned.attribution is Attribution.PRUNE


def deployment(replicas: int, *, extra_env: bool = False) -> dict[str, Any]:
    env = [{"name": "MODE", "value": "prod"}] + ([{"name": "DEBUG", "value": "1"}] if extra_env else [])
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {
            "replicas": replicas,
            "template": {"spec": {"containers": [{"name": "web", "image": "nginx:1", "env": env}]}},
        },
    }


def test_hpa_replicas_are_runtime_and_dropped_from_the_apply() -> None:
    desired = deployment(2)
    live = deployment(7)
    live["metadata"]["managedFields"] = [
        managed("kube-controller-manager", {"f:spec": {"f:replicas": {}}}, when="2025-03-01T00:00:00Z")
    ]
    rules = RuntimeRules(hpa_targets=frozenset({("shop", "apps", "Deployment", "web")}))
    applied, runtime = strip_runtime(desired, live=live, rules=rules)
    assert "replicas" not in applied["spec"] and desired["spec"]["replicas"] == 2  # a copy
    (change,) = runtime
    assert change.attribution is Attribution.RUNTIME and (change.live, change.git) == (7, 2)
    assert change.rule is not None and "HorizontalPodAutoscaler" in change.rule
    # Not an HPA target, and owned by a person: replicas stay in the apply.
    applied, runtime = strip_runtime(desired, live=deployment(7), rules=RuntimeRules())
    assert applied["spec"]["replicas"] == 2 and runtime == []


def test_controller_owned_field_is_runtime() -> None:
    desired = deployment(2)
    live = deployment(7)
    live["metadata"]["managedFields"] = [
        managed("kube-controller-manager", {"f:spec": {"f:replicas": {}}}, when="2025-03-01T00:00:00Z")
    ]
    applied, runtime = strip_runtime(desired, live=live, rules=RuntimeRules())
    assert "replicas" not in applied["spec"]
    assert runtime[0].rule == "owned by controller kube-controller-manager"


def test_app_ignore_rules_by_pointer_and_by_manager() -> None:
    desired = deployment(2)
    live = deployment(2, extra_env=True)
    live["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:2"
    live["metadata"]["managedFields"] = [
        managed(
            "vpa-recommender",
            {"f:spec": {"f:template": {"f:spec": {"f:containers": {'k:{"name":"web"}': {"f:image": {}}}}}}},
            when="2025-03-01T00:00:00Z",
        )
    ]
    by_manager = RuntimeRules(rules=(IgnoreRule(kind="Deployment", managers=("vpa-*",)),))
    applied, runtime = strip_runtime(desired, live=live, rules=by_manager)
    assert get_path(applied, ("spec", "template", "spec", "containers", {"name": "web"}, "image")) is not None
    assert "image" not in applied["spec"]["template"]["spec"]["containers"][0]
    assert [c.pointer for c in runtime] == ["/spec/template/spec/containers/[name=web]/image"]
    by_pointer_rule = RuntimeRules(
        rules=(IgnoreRule(kind="Deployment", name="web", json_pointers=("/spec/replicas",)),)
    )
    applied, _ = strip_runtime(desired, live=live, rules=by_pointer_rule)
    assert "replicas" not in applied["spec"]
    other = RuntimeRules(
        rules=(IgnoreRule(kind="Deployment", name="api", json_pointers=("/spec/replicas",)),)
    )
    applied, _ = strip_runtime(desired, live=live, rules=other)
    assert applied["spec"]["replicas"] == 2


def test_extra_env_var_from_kubectl_is_an_unmanaged_addition() -> None:
    desired = deployment(2)
    live = deployment(2, extra_env=True)
    debug: dict[str, Any] = {'k:{"name":"DEBUG"}': {".": {}, "f:name": {}, "f:value": {}}}
    container = {'k:{"name":"web"}': {"f:env": debug}}
    live["metadata"]["managedFields"] = [
        managed("plumbline", {"f:spec": {"f:replicas": {}}}, when="2025-01-01T00:00:00Z", operation="Apply"),
        managed(
            "kubectl-patch",
            {"f:spec": {"f:template": {"f:spec": {"f:containers": container}}}},
            when="2025-03-01T00:00:00Z",
        ),
    ]
    changes = attribute(
        ref=ObjectRef.of(desired),
        desired=desired,
        predicted=copy.deepcopy(live),
        live=live,
        last_synced=desired,
        rules=RuntimeRules(),
    )
    (added,) = changes
    assert added.attribution is Attribution.UNMANAGED_ADDITION
    assert added.pointer == "/spec/template/spec/containers/[name=web]/env/[name=DEBUG]"
    assert added.live == {"name": "DEBUG", "value": "1"} and added.editor is not None
    assert added.editor.manager == "kubectl-patch"


def test_remove_path_by_merge_key_and_pointer() -> None:
    obj = deployment(2, extra_env=True)
    path = ("spec", "template", "spec", "containers", {"name": "web"}, "env", {"name": "DEBUG"})
    assert json_pointer(obj, path) == "/spec/template/spec/containers/0/env/1"
    assert remove_path(obj, path)
    assert get_path(obj, path) is ABSENT and len(obj["spec"]["template"]["spec"]["containers"][0]["env"]) == 1
    assert not remove_path(obj, path)


@pytest.mark.parametrize(
    ("delta", "words"),
    [
        (timedelta(seconds=5), "just now"),
        (timedelta(minutes=1), "1 minute ago"),
        (timedelta(hours=3, minutes=5), "3 hours ago"),
        (timedelta(days=183), "183 days ago"),
        (timedelta(days=800), "2 years ago"),
    ],
)
def test_age_in_words(delta: timedelta, words: str) -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert age_in_words(now - delta, now=now) == words
    assert age_in_words(None) == "unknown time"


def test_the_cli_line_for_a_drift_revert_says_who_and_how_long_ago() -> None:
    from plumbline.cli.gitops import change_line
    from plumbline.plan.attribution import Editor

    half_a_year = datetime.now(UTC) - timedelta(days=183, hours=2)
    change = FieldChange(
        ref=ObjectRef(group="", kind="ConfigMap", namespace="users", name="users-api-env"),
        path=("data", "DB_HOST"),
        attribution=Attribution.DRIFT_REVERT,
        live="B",
        git="A",
        last_synced="A",
        editor=Editor(manager="kubectl-edit", operation="Update", time=half_a_year),
    )
    line = " ".join(change_line(change).split())
    assert line == 'drift-revert /data/DB_HOST "B" → "A" (kubectl-edit, Update, 183 days ago)'


def test_comparing_and_diffing_never_change_the_objects_they_read() -> None:
    """normalize shares what it keeps with the object it reads (no deep copy of managedFields and
    all): what attribution, the diff and secret fingerprinting do must never reach the object."""
    secret: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "db",
            "namespace": "shop",
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"},
            "managedFields": [{"manager": "kubectl", "operation": "Apply", "fieldsV1": {"f:data": {}}}],
            "resourceVersion": "7",
        },
        "data": {"user": "YWRtaW4="},
        "stringData": {"password": "hunter2hunter2"},
    }
    deployment = load("ssd-deploy-with-manual-apply-live.yaml")
    deployment["spec"]["template"]["spec"]["containers"][0]["env"] = [
        {"name": "DB_PASSWORD", "value": "s3cr3t"}
    ]
    redactor = Redactor(b"k" * 32)
    for live in (secret, deployment):
        before = copy.deepcopy(live)
        shown = comparable(live, redactor)
        assert shown is not None and "status" not in shown and "managedFields" not in shown["metadata"]
        assert "s3cr3t" not in json.dumps(shown) and "hunter2" not in json.dumps(shown)
        desired = copy.deepcopy(before)
        desired["metadata"]["labels"] = {"tier": "db"}
        changes = attribute(
            ref=ObjectRef.of(live),
            desired=desired,
            predicted=desired,
            live=live,
            last_synced=None,
            rules=RuntimeRules(),
            redactor=redactor,
        )
        assert "/metadata/labels" in by_pointer(changes) or "/metadata/labels/tier" in by_pointer(changes)
        assert unified_diff(live, desired, name="x", redactor=redactor)
        assert live == before, "comparing changed the live object"
    assert comparable(secret, redactor)["data"]["password"].startswith("redacted:")  # type: ignore[index]
