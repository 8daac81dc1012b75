"""Everything ``plumb install`` puts into a cluster, as data: the Namespace, the CRDs, the controller's
ServiceAccount and least-privilege RBAC (each rule with the reason it is needed), its Deployment, a
Service for metrics and webhooks, and a PodDisruptionBudget.

The same objects are printed (``plumb install``; ``deploy/install.yaml`` holds the default namespace's)
and applied (``plumb install --apply``): :func:`install_text` renders what :func:`manifests` returns,
with each RBAC rule's reason as a comment above it.

Writing the apps' objects is granted per namespace, not cluster-wide: ``--namespaces`` binds the
ClusterRole ``plumbline-apply`` in each namespace the Projects deploy to (decision 0014); any other
namespace stays forbidden by the cluster itself, whatever a Project says.

Reading is granted cluster-wide, read-only and without Secrets (the ClusterRole ``plumbline-read``):
the controller's watch-fed cache lists and watches each kind once for every app (decision 0023), as
Argo CD's and Flux's controllers do; Secrets stay readable only where writing is granted, so the
cache reads them per namespace from the server instead.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from plumbline.config import DEFAULT_KEY_SECRET, DEFAULT_NAMESPACE, StoreBackend
from plumbline.deploy._crd import GROUP, NAMES, custom_resource_definitions
from plumbline.deploy._yaml import HEADER, to_yaml
from plumbline.engine.operation import admission_policy
from plumbline.words import IMAGE as IMAGE

NAME = "plumbline-controller"
APPLY_ROLE = "plumbline-apply"
READ_ROLE = "plumbline-read"
KEY_ROLE = "plumbline-store-keys"
PORT = 8080
LABELS = {"app.kubernetes.io/name": "plumbline", "app.kubernetes.io/part-of": "plumbline"}
SELECTOR = {"app.kubernetes.io/name": "plumbline", "app.kubernetes.io/component": "controller"}


@dataclass(frozen=True)
class Rule:
    """One RBAC rule and why the controller needs it (printed as a comment above the rule)."""

    why: str
    groups: tuple[str, ...]
    resources: tuple[str, ...]
    verbs: tuple[str, ...]
    names: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        rule: dict[str, Any] = {"apiGroups": list(self.groups), "resources": list(self.resources)}
        if self.names:
            rule["resourceNames"] = list(self.names)
        return {**rule, "verbs": list(self.verbs)}


PLUMBLINE_KINDS = tuple(plural for plural, _ in NAMES.values())

CLUSTER_RULES = (
    Rule(
        "read the configuration: Apps in any namespace a Project lists in sourceNamespaces, and the "
        "Projects, Environments, GuardExceptions and Instance beside the controller",
        (GROUP,),
        PLUMBLINE_KINDS,
        ("get", "list", "watch"),
    ),
    Rule(
        "take an answered operation off its App (App.operation: plumb sync, pause, resume and mode "
        "requested by a person while this controller manages the app; decision 0016)",
        (GROUP,),
        ("apps",),
        ("patch",),
    ),
    Rule(
        "write each App's status after every pass (the status subresource only: the spec is its author's)",
        (GROUP,),
        ("apps/status",),
        ("get", "patch", "update"),
    ),
    Rule(
        "file a Kubernetes Event on an app's object when it drifts, syncs or is blocked",
        ("", "events.k8s.io"),
        ("events",),
        ("create", "patch"),
    ),
    Rule(
        "ask the API server who is asking and what they may do: the dashboard's sign-in (TokenReview), "
        "each action and each guard override (SubjectAccessReview of a verb on apps.plumbline.dev)",
        ("authentication.k8s.io", "authorization.k8s.io"),
        ("tokenreviews", "subjectaccessreviews"),
        ("create",),
    ),
    Rule(
        "create an app's destination namespace (syncOptions.createNamespace, or a Namespace in Git that "
        "a Project allows); never delete or list them beyond reading one",
        ("",),
        ("namespaces",),
        ("get", "create", "patch"),
    ),
)

NAMESPACE_RULES = (
    Rule(
        "one writer per app: the write and owner Leases, and the replicas' membership Leases",
        ("coordination.k8s.io",),
        ("leases",),
        ("get", "list", "watch", "create", "update", "patch", "delete"),
    ),
    Rule(
        "the audit trail's head, anchored in a ConfigMap beside the controller (plumb audit verify)",
        ("",),
        ("configmaps",),
        ("get", "create", "update"),
    ),
    Rule(
        "the store (decision 0015): each sync, intent and audit record is an immutable Secret beside the "
        "controller; old desired objects are deleted past the history limit",
        ("",),
        ("secrets",),
        ("get", "list", "create", "update", "patch", "delete"),
    ),
)

KEY_NAMESPACE, KEY_SECRET = DEFAULT_KEY_SECRET.split("/")

KEY_RULES = (
    Rule(
        "read the store's audit and fingerprint keys, kept apart from the records they seal",
        ("",),
        ("secrets",),
        ("get",),
        (KEY_SECRET,),
    ),
    Rule(
        "make those keys on the first start (a create cannot be limited to one name)",
        ("",),
        ("secrets",),
        ("create",),
    ),
)

APPLY_RULES = (
    Rule(
        "apply, dry-run, watch and prune what Git declares for the apps deploying here; bound only in "
        "the namespaces given to plumb install --namespaces",
        ("*",),
        ("*",),
        ("get", "list", "watch", "create", "update", "patch", "delete"),
    ),
)


# Every built-in API group but the core one (RBAC cannot say "every resource but Secrets", so the core
# group's kinds are named, and the other groups', which hold no Secrets, are granted whole).
BUILT_IN_GROUPS = (
    "admissionregistration.k8s.io",
    "apiextensions.k8s.io",
    "apiregistration.k8s.io",
    "apps",
    "autoscaling",
    "batch",
    "certificates.k8s.io",
    "coordination.k8s.io",
    "discovery.k8s.io",
    "events.k8s.io",
    "flowcontrol.apiserver.k8s.io",
    "internal.apiserver.k8s.io",
    "networking.k8s.io",
    "node.k8s.io",
    "policy",
    "rbac.authorization.k8s.io",
    "resource.k8s.io",
    "scheduling.k8s.io",
    "storage.k8s.io",
    "storagemigration.k8s.io",
)
CORE_READ = (
    "componentstatuses",
    "configmaps",
    "endpoints",
    "events",
    "limitranges",
    "namespaces",
    "nodes",
    "persistentvolumeclaims",
    "persistentvolumes",
    "pods",
    "podtemplates",
    "replicationcontrollers",
    "resourcequotas",
    "serviceaccounts",
    "services",
)

READ_RULES = (
    Rule(
        "the live-object cache (decision 0023): list and watch each core kind once, cluster-wide, for "
        "every app, instead of a LIST per kind per pass; every core kind but Secrets, which are read "
        "only where plumbline-apply is bound",
        ("",),
        CORE_READ,
        ("get", "list", "watch"),
    ),
    Rule(
        "the same for the other built-in groups (none holds Secrets), among them the APIServices, CRDs "
        "and mutating admission configuration the unchanged proof's stamps are made of (decision 0024); "
        "it only reads: writes are granted per namespace only",
        BUILT_IN_GROUPS,
        ("*",),
        ("get", "list", "watch"),
    ),
)


def _meta(name: str, namespace: str | None = None, labels: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    meta["labels"] = dict(labels or LABELS)
    return meta


def _role(kind: str, name: str, rules: Sequence[Rule], namespace: str | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": kind,
        "metadata": _meta(name, namespace),
        "rules": [rule.as_dict() for rule in rules],
    }


def _binding(
    kind: str, name: str, role: str, role_kind: str, namespace: str, where: str | None
) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": kind,
        "metadata": _meta(name, where),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role},
        "subjects": [{"kind": "ServiceAccount", "name": NAME, "namespace": namespace}],
    }


def deployment(namespace: str, image: str = IMAGE) -> dict[str, Any]:
    """The controller: two replicas sharing the apps through Leases, configured from the cluster."""
    probe = {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 20, "failureThreshold": 6}
    ready = {"httpGet": {"path": "/readyz", "port": "http"}, "periodSeconds": 10, "failureThreshold": 3}
    scratch = [("state", "/var/lib/plumbline"), ("cache", "/var/cache/plumbline"), ("tmp", "/tmp")]
    container = {
        "name": "controller",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "args": ["controller", "--listen", f"0.0.0.0:{PORT}", "--json-logs", "--lease-namespace", namespace],
        "env": [
            {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {"name": "PLUMBLINE_CONFIG", "value": "cluster:$(POD_NAMESPACE)"},
            {"name": "PLUMBLINE_IDENTITY", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "PLUMBLINE_CACHE_DIR", "value": "/var/cache/plumbline"},
        ],
        "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
        "livenessProbe": probe,
        "readinessProbe": ready,
        "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [{"name": volume, "mountPath": path} for volume, path in scratch],
    }
    pod = {
        "serviceAccountName": NAME,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 65532,
            "runAsGroup": 65532,
            "fsGroup": 65532,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "volumes": [{"name": volume, "emptyDir": {}} for volume, _ in scratch],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(NAME, namespace, {**LABELS, **SELECTOR}),
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": SELECTOR},
            "template": {"metadata": {"labels": {**LABELS, **SELECTOR}}, "spec": pod},
        },
    }


def instance(namespace: str) -> dict[str, Any]:
    """The installation's Instance: its state kept in the cluster, in Secrets beside the controller
    (decision 0015), so every replica and every CLI reading ``cluster:NAMESPACE`` shares it. The name
    stays ``default``, the name every tracked object already carries; edit this one rather than apply
    a second (a configuration holds at most one)."""
    return {
        "apiVersion": f"{GROUP}/v1alpha1",
        "kind": "Instance",
        "metadata": _meta("default", namespace),
        "spec": {"store": {"backend": StoreBackend.KUBERNETES.value, "namespace": namespace}},
    }


def manifests(
    namespace: str = DEFAULT_NAMESPACE, *, namespaces: Sequence[str] = (), image: str = IMAGE
) -> list[dict[str, Any]]:
    """What ``plumb install`` installs into ``namespace``, in the order it is applied (CRDs and the
    Namespace first); ``namespaces``: where the apps deploy (each is created if missing and gets a
    RoleBinding to ``plumbline-apply``)."""
    objects: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(namespace)},
        *custom_resource_definitions(),
        instance(namespace),
        # The API server vouches for every App.operation: requestedBy is its writer, an allow needs the
        # override verb (decision 0016); the controller's SubjectAccessReview checks it again.
        *admission_policy(),
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(NAME, namespace)},
        _role("ClusterRole", NAME, CLUSTER_RULES),
        _binding("ClusterRoleBinding", NAME, NAME, "ClusterRole", namespace, None),
        _role("Role", NAME, NAMESPACE_RULES, namespace),
        _binding("RoleBinding", NAME, NAME, "Role", namespace, namespace),
        _role("ClusterRole", APPLY_ROLE, APPLY_RULES),
        _role("ClusterRole", READ_ROLE, READ_RULES),
        _binding("ClusterRoleBinding", READ_ROLE, READ_ROLE, "ClusterRole", namespace, None),
        {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(KEY_NAMESPACE)},
        _role("Role", KEY_ROLE, KEY_RULES, KEY_NAMESPACE),
        _binding("RoleBinding", KEY_ROLE, KEY_ROLE, "Role", namespace, KEY_NAMESPACE),
        # The apps' namespaces, so their RoleBindings have somewhere to be (never deleted by uninstall).
        *({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}} for ns in namespaces),
        *(_binding("RoleBinding", APPLY_ROLE, APPLY_ROLE, "ClusterRole", namespace, ns) for ns in namespaces),
        deployment(namespace, image),
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": _meta(NAME, namespace),
            "spec": {
                "selector": SELECTOR,
                "ports": [{"name": "http", "port": PORT, "targetPort": "http", "protocol": "TCP"}],
            },
        },
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": _meta(NAME, namespace),
            "spec": {"minAvailable": 1, "selector": {"matchLabels": SELECTOR}},
        },
    ]
    return objects


def _with_reasons(text: str, rules: Sequence[Rule]) -> str:
    """``text`` (one Role's YAML) with each rule's reason as a comment line above the rule."""
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    pending = list(rules)
    for line in lines:
        if line.startswith("- apiGroups:") and pending:
            out += [f"# {text}\n" for text in textwrap.wrap(pending.pop(0).why, 100)]
        out.append(line)
    return "".join(out)


def install_text(
    namespace: str = DEFAULT_NAMESPACE, *, namespaces: Sequence[str] = (), image: str = IMAGE
) -> str:
    """:func:`manifests` as the YAML ``plumb install`` prints, each RBAC rule's reason above it."""
    rules = {
        ("ClusterRole", NAME): CLUSTER_RULES,
        ("Role", NAME): NAMESPACE_RULES,
        ("ClusterRole", APPLY_ROLE): APPLY_RULES,
        ("ClusterRole", READ_ROLE): READ_RULES,
        ("Role", KEY_ROLE): KEY_RULES,
    }
    documents = []
    for obj in manifests(namespace, namespaces=namespaces, image=image):
        text = to_yaml([obj], header="").removeprefix("---\n")
        key = (obj["kind"], obj["metadata"]["name"])
        documents.append(_with_reasons(text, rules[key]) if key in rules else text)
    return HEADER + "---\n" + "---\n".join(documents)
