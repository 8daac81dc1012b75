"""The "unchanged" proof's digests and stamps (plan/unchanged.py), on real live objects.

The objects are gitops-engine's (tests/data/gitops-engine/README.md): a Deployment as an API server
returned it, with a ``status`` subresource entry in its managedFields, and a Secret. What the live
digest leaves out must be exactly what status updates change; everything a live edit can change must
change it.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from plumbline.cluster import ResourceInfo
from plumbline.plan import ObjectRef
from plumbline.plan.unchanged import Proof, desired_digest, live_digest, prove, proven, stamp_of
from plumbline.redact import Redactor
from plumbline.yamlio import load_documents
from tests.support.data import GITOPS_ENGINE_DIFF

KEY = Redactor(b"k" * 32)


def deployment() -> dict[str, Any]:
    path = GITOPS_ENGINE_DIFF / "smd-deploy-live.yaml"
    (document,) = load_documents(path.read_text(), file=str(path))
    assert isinstance(document.data, dict)
    return document.data


def secret() -> dict[str, Any]:
    obj: dict[str, Any] = json.loads((GITOPS_ENGINE_DIFF / "wordpress-live.json").read_text())
    return obj


def entry(obj: dict[str, Any], manager: str, subresource: str | None = None) -> dict[str, Any]:
    (found,) = [
        e
        for e in obj["metadata"]["managedFields"]
        if e["manager"] == manager and e.get("subresource") == subresource
    ]
    return found  # type: ignore[no-any-return]


def test_a_status_update_leaves_the_live_digest_as_it_was() -> None:
    before = deployment()
    after = copy.deepcopy(before)
    after["status"]["readyReplicas"] = 0
    after["status"]["conditions"] = []
    after["metadata"]["resourceVersion"] = "7492999"
    status_entry = entry(after, "kube-controller-manager", "status")
    status_entry["time"] = "2026-12-02T11:00:00Z"
    status_entry["fieldsV1"]["f:status"]["f:unavailableReplicas"] = {}
    assert live_digest(KEY, after) == live_digest(KEY, before)
    assert live_digest(KEY, before) == live_digest(KEY, deployment())  # a pure function of the object
    assert before == deployment()  # and it does not change it


def edited(change: str) -> dict[str, Any]:
    obj = deployment()
    metadata = obj["metadata"]
    if change == "spec":
        obj["spec"]["replicas"] = 3
    elif change == "label removed":
        del metadata["labels"]["applications.argoproj.io/app-name"]
    elif change == "annotation":
        metadata["annotations"]["deployment.kubernetes.io/revision"] = "2"
    elif change == "uid":  # deleted and created again under the same name
        metadata["uid"] = "00000000-0000-0000-0000-000000000000"
    elif change == "generation":
        metadata["generation"] = 2
    elif change == "another manager":  # kubectl edit: a new entry, whatever it set
        metadata["managedFields"].append(
            {
                "apiVersion": "apps/v1",
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:metadata": {"f:labels": {"f:something-else": {}}}},
                "manager": "kubectl-edit",
                "operation": "Update",
                "time": "2026-12-02T11:00:00Z",
            }
        )
    elif change == "manager's time":  # the same manager applied again
        entry(obj, "argocd-controller")["time"] = "2026-12-02T11:00:00Z"
    elif change == "scale":  # an autoscaler through the scale subresource
        metadata["managedFields"].append(
            {
                "apiVersion": "apps/v1",
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:spec": {"f:replicas": {}}},
                "manager": "hpa",
                "operation": "Update",
                "subresource": "scale",
                "time": "2026-12-02T11:00:00Z",
            }
        )
    else:
        raise AssertionError(change)
    return obj


@pytest.mark.parametrize(
    "change",
    [
        "spec",
        "label removed",
        "annotation",
        "uid",
        "generation",
        "another manager",
        "manager's time",
        "scale",
    ],
)
def test_every_other_write_changes_the_live_digest(change: str) -> None:
    assert live_digest(KEY, edited(change)) != live_digest(KEY, deployment())


def test_a_secrets_digests_are_keyed_and_hold_no_value() -> None:
    live = secret()
    value = live["data"]["wordpress-password"]
    proof = prove(KEY, desired=live, live=live, stamp="s")
    text = json.dumps(proof.to_dict())
    assert value not in text and "Skt2T0tjMk5PdQ" not in text
    other = Redactor(b"o" * 32)  # another installation's store key
    assert live_digest(other, live) != live_digest(KEY, live)
    assert desired_digest(other, live) != desired_digest(KEY, live)
    changed = copy.deepcopy(live)
    changed["data"]["wordpress-password"] = "b3RoZXI="
    assert live_digest(KEY, changed) != live_digest(KEY, live)
    assert desired_digest(KEY, changed) != desired_digest(KEY, live)
    assert live == secret()  # redacted for the digest, not in place


def test_the_same_value_through_stringdata_or_data_is_not_the_same_desired_object() -> None:
    # What is applied differs (the server merges stringData), so the proof must not hold across it.
    as_data = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"k": "dg=="}}
    as_string = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"k": "v"}}
    assert desired_digest(KEY, as_data) != desired_digest(KEY, as_string)


def test_a_proof_holds_only_with_a_known_stamp_and_equal_digests() -> None:
    live = deployment()
    desired = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "nginx-deployment"}}
    proof = prove(KEY, desired=desired, live=live, stamp="stamp-1")
    assert proven(proof, KEY, desired=desired, live=live, stamp="stamp-1")
    assert not proven(proof, KEY, desired=desired, live=live, stamp="stamp-2")
    assert not proven(proof, KEY, desired=desired, live=live, stamp=None)
    assert not proven(proof, KEY, desired=desired, live=edited("spec"), stamp="stamp-1")
    assert not proven(proof, KEY, desired={**desired, "spec": {"replicas": 1}}, live=live, stamp="stamp-1")
    assert not proven(None, KEY, desired=desired, live=live, stamp="stamp-1")
    unknown = prove(KEY, desired=desired, live=live, stamp=None)
    assert unknown.stamp == ""
    assert not proven(unknown, KEY, desired=desired, live=live, stamp="")
    assert Proof.from_dict(proof.to_dict()) == proof


INFO = ResourceInfo("example.com", "v1", "Widget", "widgets", True, frozenset({"get", "patch"}))
LOCAL: dict[str, Any] = {
    "metadata": {"name": "v1.example.com"},
    "spec": {"group": "example.com", "version": "v1"},
}
CRD: dict[str, Any] = {"metadata": {"name": "widgets.example.com", "uid": "u-1", "generation": 1}}
WEBHOOK: dict[str, Any] = {
    "kind": "MutatingWebhookConfiguration",
    "metadata": {"name": "w", "uid": "u-w", "generation": 1},
}


def stamp(**changes: Any) -> str | None:
    facts: dict[str, Any] = {"server": "v1.31.0", "apiservice": LOCAL, "crd": CRD, "admission": [WEBHOOK]}
    facts.update(changes)
    return stamp_of(INFO, **facts)


def test_a_stamp_changes_with_whatever_changes_the_servers_answer() -> None:
    first = stamp()
    assert first and first == stamp()
    assert stamp(server="v1.32.0") != first
    assert stamp(crd={"metadata": {**CRD["metadata"], "generation": 2}}) != first  # a schema change
    assert stamp(crd={"metadata": {**CRD["metadata"], "uid": "u-2"}}) != first  # deleted and made again
    assert stamp(crd=None) != first
    assert stamp(admission=[]) != first
    assert stamp(admission=[{**WEBHOOK, "metadata": {**WEBHOOK["metadata"], "generation": 2}}]) != first
    policy = {"kind": "MutatingAdmissionPolicy", "metadata": {"name": "p", "uid": "u-p", "generation": 1}}
    assert stamp(admission=[WEBHOOK, policy]) == stamp(admission=[policy, WEBHOOK])  # order is not news
    assert stamp(admission=[WEBHOOK, policy]) != first


def test_a_kind_served_by_another_server_has_no_stamp() -> None:
    aggregated = {**LOCAL, "spec": {**LOCAL["spec"], "service": {"name": "metrics", "namespace": "m"}}}
    assert stamp(apiservice=aggregated) is None
    assert stamp(server="") is None


def test_a_ref_reads_back_from_its_text() -> None:
    for ref in (
        ObjectRef("apps", "Deployment", "default", "nginx"),
        ObjectRef("", "ConfigMap", "a", "b.c"),
        ObjectRef("", "Namespace", None, "team-a"),
        ObjectRef("apiextensions.k8s.io", "CustomResourceDefinition", None, "widgets.example.com"),
        ObjectRef("rbac.authorization.k8s.io", "ClusterRole", None, "system:aggregate-to-edit"),
    ):
        assert ObjectRef.parse(str(ref)) == ref
    with pytest.raises(ValueError, match="not an object reference"):
        ObjectRef.parse("Deployment")
