"""``plumb install``'s manifests: deploy/install.yaml is what it prints, every RBAC rule says why, the
write rights are bound per namespace only, the Deployment runs non-root on a read-only root filesystem
with probes and requests, and the Containerfile builds helm and kustomize from the pinned modules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from plumbline.deploy import APPLY_ROLE, KEY_NAMESPACE, NAME, READ_ROLE, install_text, manifests
from plumbline.toolchain import KITS
from plumbline.yamlio import load_documents
from tests.support import cli

ROOT = Path(__file__).resolve().parents[2]
INSTALL = ROOT / "deploy" / "install.yaml"


def by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def test_the_committed_install_yaml_is_what_plumb_install_prints() -> None:
    assert INSTALL.read_text() == install_text(), "deploy/install.yaml drifted: run `make deploy`"
    printed = cli.plumb("install")
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout == INSTALL.read_text()


def test_the_printed_yaml_is_the_objects_applied() -> None:
    documents = [d.data for d in load_documents(INSTALL.read_text(), file=str(INSTALL))]
    assert documents == manifests()


def test_every_rbac_rule_has_its_reason_above_it() -> None:
    lines = INSTALL.read_text().splitlines()
    rules = [i for i, line in enumerate(lines) if line.startswith("- apiGroups:")]
    assert len(rules) == sum(len(r["rules"]) for r in manifests() if r["kind"] in ("Role", "ClusterRole"))
    for i in rules:
        assert lines[i - 1].startswith("# ") and len(lines[i - 1]) > 20, f"line {i}: a rule without a reason"


def test_writing_apps_objects_is_bound_per_namespace_never_cluster_wide() -> None:
    objects = manifests(namespaces=["shop", "blog"])
    for binding in by_kind(objects, "ClusterRoleBinding"):
        assert binding["roleRef"]["name"] != APPLY_ROLE
    for role in by_kind(objects, "ClusterRole"):
        if role["metadata"]["name"] not in (APPLY_ROLE, READ_ROLE):
            for rule in role["rules"]:
                assert "*" not in rule["resources"] and "*" not in rule["apiGroups"], rule
                assert "delete" not in rule["verbs"] and "secrets" not in rule["resources"], rule
    bound = {
        b["metadata"]["namespace"]
        for b in by_kind(objects, "RoleBinding")
        if b["metadata"]["name"] == APPLY_ROLE
    }
    assert bound == {"shop", "blog"}
    assert not [b for b in by_kind(manifests(), "RoleBinding") if b["metadata"]["name"] == APPLY_ROLE]


def test_reading_is_cluster_wide_read_only_and_never_secrets() -> None:
    """The live-object cache lists and watches each kind once for every app (decision 0023): the
    ClusterRole plumbline-read grants get, list and watch cluster-wide on every built-in kind but
    Secrets, which stay readable only where plumbline-apply is bound."""
    objects = manifests()
    (role,) = [r for r in by_kind(objects, "ClusterRole") if r["metadata"]["name"] == READ_ROLE]
    for rule in role["rules"]:
        assert set(rule["verbs"]) == {"get", "list", "watch"}, rule
        assert "*" not in rule["apiGroups"], rule  # "*" would take in the core group's Secrets
        if "" in rule["apiGroups"]:
            assert "*" not in rule["resources"] and "secrets" not in rule["resources"], rule
            assert {"configmaps", "services", "namespaces"} <= set(rule["resources"]), rule
    assert {"apps", "batch", "networking.k8s.io"} <= {g for r in role["rules"] for g in r["apiGroups"]}
    (binding,) = [b for b in by_kind(objects, "ClusterRoleBinding") if b["metadata"]["name"] == READ_ROLE]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": READ_ROLE,
    }


def test_the_deployment_is_probed_bounded_and_unprivileged() -> None:
    (deployment,) = by_kind(manifests(), "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert set(container["resources"]["requests"]) == {"cpu", "memory"}
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    writable = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
    assert {m["name"] for m in container["volumeMounts"]} == writable
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["PLUMBLINE_CONFIG"] == "cluster:$(POD_NAMESPACE)"
    assert by_kind(manifests(), "PodDisruptionBudget")[0]["spec"]["minAvailable"] == 1
    assert (
        by_kind(manifests(), "Service")[0]["spec"]["selector"]
        == deployment["spec"]["selector"]["matchLabels"]
    )


CLUSTER_SCOPED = (
    "Namespace",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleBinding",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
)


def test_another_namespace_moves_everything_namespaced_and_the_subjects() -> None:
    objects = manifests("ops")
    for obj in objects:
        if obj["kind"] in CLUSTER_SCOPED or obj["metadata"].get("namespace") == KEY_NAMESPACE:
            continue  # the store's keys are kept apart from any installation's namespace (decision 0015)
        assert obj["metadata"]["namespace"] == "ops", obj["kind"]
    for binding in by_kind(objects, "ClusterRoleBinding") + by_kind(objects, "RoleBinding"):
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": NAME, "namespace": "ops"}]
    (deployment,) = by_kind(objects, "Deployment")
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--lease-namespace") + 1] == "ops"
    (installed,) = by_kind(objects, "Instance")
    assert installed["spec"]["store"] == {"backend": "kubernetes", "namespace": "ops"}
    (records,) = [r for r in by_kind(objects, "Role") if r["metadata"]["namespace"] == "ops"]
    assert any("secrets" in rule["resources"] for rule in records["rules"])


def test_the_containerfile_builds_the_pinned_tools_then_runs_slim_and_non_root() -> None:
    text = (ROOT / "Containerfile").read_text()
    stages = [line for line in text.splitlines() if line.startswith("FROM ")]
    assert len(stages) >= 3 and "slim" in text
    assert "binary('helm'); binary('kustomize')" in text  # the toolchain's own build of the pinned kits
    assert {"helm", "kustomize"} <= set(KITS)
    user = [line for line in text.splitlines() if line.startswith("USER ")]
    assert user and not user[-1].split()[1].startswith(("0", "root"))
