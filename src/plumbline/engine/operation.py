"""Operations requested on the App object, carried out by the controller that holds the app.

When a controller manages an app — its App object is in the cluster and a replica holds the app's
owner Lease — ``plumb sync``, ``plumb resume``, ``plumb pause`` and ``plumb mode`` do not act
themselves: they set ``App.operation`` (what, with which arguments, requested by whom and when, as
``argocd app sync`` does), the replica that holds the app carries it out through the one write path
and answers in ``App.status.operationState`` (progress, result, exit code), which the CLI follows.

Who asked is the requester's Kubernetes identity as the API server authenticated it
(:func:`who_am_i`, a SelfSubjectReview), recorded as the actor in history and audit. An override
(``--allow``) needs the verb ``override`` on ``apps`` in ``plumbline.dev`` in the App's namespace:
checked by SubjectAccessReview for the requester (:func:`may_override`), so who may override a guard
is cluster RBAC (decision 0016).

    requester = who_am_i(cluster)
    if (managed := managed_app(cluster, app)) is not None:
        op = request(cluster, managed, Operation(...))
        state = follow(cluster, managed, op.id, on_progress=print)
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from plumbline.cluster import GROUP, ApiFailure, Cluster, Identity, Permission, ResourceInfo, allowed
from plumbline.config import (
    API_VERSION,
    DEFAULT_NAMESPACE,
    App,
    Operation,
    OperationAction,
    OperationState,
    Requester,
)
from plumbline.engine.lease import LEASE_NAMESPACE, owner_lease_name, read_lease
from plumbline.errors import ClusterError, RefusedError

OVERRIDE_VERB = Permission.OVERRIDE.value
"""The verb on ``apps.plumbline.dev`` that lets its holder override a guard (``--allow``)."""
POLL_S = 0.3
MERGE_PATCH = "application/merge-patch+json"
PROGRESS_LINES = 40  # the newest progress lines an operationState keeps


def new_id() -> str:
    return uuid.uuid4().hex[:12]


def now() -> datetime:
    return datetime.now(UTC)


def _review(cluster: Cluster, api: str, kind: str, spec: dict[str, Any], why: str) -> dict[str, Any]:
    """POST a review (``kind`` in the group version ``api``) and return its status; ClusterError
    saying ``why`` it was asked if the API server refuses."""
    body: dict[str, Any] = {"apiVersion": api, "kind": kind}
    if spec:
        body["spec"] = spec
    try:
        answer = cluster.request("POST", f"/apis/{api}/{kind.lower()}s", body=body)
    except ApiFailure as failure:
        raise ClusterError(f"cannot {why} ({kind}): {failure}") from None
    status: dict[str, Any] = answer.get("status") or {}
    return status


def who_am_i(cluster: Cluster) -> Requester:
    """The caller's identity as the API server sees it (SelfSubjectReview, authentication.k8s.io/v1)."""
    why = f"tell who you are to {cluster.server}"
    user = _review(cluster, "authentication.k8s.io/v1", "SelfSubjectReview", {}, why).get("userInfo") or {}
    if not user.get("username"):
        raise ClusterError(f"{cluster.server} did not say who you are (SelfSubjectReview has no username)")
    return Requester(username=user["username"], uid=user.get("uid", ""), groups=user.get("groups") or [])


def may_override(cluster: Cluster, requester: Requester, *, namespace: str, app: str) -> bool:
    """True if the cluster lets ``requester`` override a guard for ``app``: a SubjectAccessReview of
    the verb ``override`` on ``apps.plumbline.dev`` named ``app`` in ``namespace``
    (:mod:`plumbline.cluster.access`, which checks the dashboard's actions the same way)."""
    who = Identity(username=requester.username, uid=requester.uid, groups=tuple(requester.groups))
    return allowed(cluster, who, Permission.OVERRIDE, app=app, namespace=namespace).allowed


def override_refusal(requester: Requester, *, namespace: str, app: str) -> str:
    return (
        f"{requester.username} may not override a guard for app {app}: the cluster does not grant the verb "
        f"'{OVERRIDE_VERB}' on apps.{GROUP} in namespace {namespace} (ask for a Role with "
        f"apiGroups: [{GROUP}], resources: [apps], verbs: [{OVERRIDE_VERB}]); nothing was done"
    )


@dataclass(frozen=True)
class ManagedApp:
    """An App object in the cluster whose owner Lease a controller replica holds."""

    name: str
    namespace: str
    holder: str
    info: ResourceInfo

    @property
    def path(self) -> str:
        return self.info.path(namespace=self.namespace, name=self.name)


def app_info(cluster: Cluster) -> ResourceInfo | None:
    """The App kind as the cluster serves it (None: plumbline's CRDs are not installed)."""
    return cluster.discovery.lookup(API_VERSION, "App")


def app_namespace(app: App) -> str:
    """Where the App object is: its own namespace when read from the cluster, else the controller's."""
    return app.metadata.namespace or DEFAULT_NAMESPACE


def managed_app(cluster: Cluster, app: App, *, lease_namespace: str = LEASE_NAMESPACE) -> ManagedApp | None:
    """The app as a controller manages it: its App object exists (:func:`app_namespace`) and a
    replica holds its owner Lease unexpired. None otherwise: the CLI then works directly."""
    info = app_info(cluster)
    if info is None:
        return None
    namespace = app_namespace(app)
    try:
        obj = cluster.get(info, name=app.name, namespace=namespace)
        lease = read_lease(cluster, app.name, namespace=lease_namespace, name=owner_lease_name(app.name))
    except ApiFailure as failure:
        if failure.status == 403:
            return None  # not allowed to see it: nothing to hand over to, as far as this user knows
        raise
    if obj is None or lease is None or lease.holder is None or lease.expired():
        return None
    return ManagedApp(name=app.name, namespace=namespace, holder=lease.holder, info=info)


def operation_of(obj: dict[str, Any]) -> Operation | None:
    raw = obj.get("operation")
    return None if not raw else Operation.model_validate(raw)


def state_of(obj: dict[str, Any]) -> OperationState | None:
    raw = (obj.get("status") or {}).get("operationState")
    return None if not raw else OperationState.model_validate(raw)


def request(cluster: Cluster, app: ManagedApp, operation: Operation) -> Operation:
    """Set ``operation`` on the App, unless another operation is pending there (RefusedError). The
    write carries the resourceVersion read, so two requests racing cannot both land."""
    obj = cluster.request("GET", app.path)
    pending = operation_of(obj)
    if pending is not None:
        raise RefusedError(
            f"app {app.name}: {pending.requested_by.username}'s {pending.action.value} (requested "
            f"{pending.requested_at:%H:%M:%S} UTC, id {pending.id}) is still pending; wait for it to end"
        )
    patch = {
        "metadata": {"resourceVersion": obj["metadata"]["resourceVersion"]},
        "operation": operation.model_dump(mode="json", by_alias=True, exclude_none=True),
    }
    try:
        cluster.request("PATCH", app.path, body=patch, content_type=MERGE_PATCH)
    except ApiFailure as failure:
        if failure.status == 409:
            raise RefusedError(
                f"app {app.name}: another operation was requested at the same moment"
            ) from None
        if failure.status == 403:
            raise RefusedError(
                f"app {app.name} is managed by a controller, and you may not request operations on it: "
                f"{failure.message} (grant patch on apps.{GROUP} in {app.namespace})"
            ) from None
        raise
    return operation


def follow(
    cluster: Cluster,
    app: ManagedApp,
    operation_id: str,
    *,
    on_progress: Callable[[str], None],
    timeout_s: float,
) -> OperationState:
    """Poll the App until its ``status.operationState`` answers ``operation_id`` with a final phase,
    telling each new progress line. ClusterError when ``timeout_s`` passes first."""
    deadline = time.monotonic() + timeout_s
    told = 0
    while True:
        state = state_of(cluster.request("GET", app.path))
        if state is not None and state.id == operation_id:
            for line in state.progress[told:]:
                on_progress(line)
            told = len(state.progress)
            if state.phase.done:
                return state
        if time.monotonic() > deadline:
            raise ClusterError(
                f"app {app.name}: the controller ({app.holder}) did not finish operation {operation_id} "
                f"within {timeout_s:.0f}s; it stays requested on the App "
                f"(kubectl get app {app.name} -n {app.namespace} -o yaml)"
            )
        time.sleep(POLL_S)


def write_state(cluster: Cluster, app: ManagedApp, state: OperationState, *, clear: bool = False) -> None:
    """Write ``status.operationState`` (the status subresource); with ``clear``, then remove the
    App's ``operation`` (answered)."""
    body = {"status": {"operationState": state.model_dump(mode="json", by_alias=True, exclude_none=True)}}
    cluster.request("PATCH", app.path + "/status", body=body, content_type=MERGE_PATCH)
    if clear:
        cluster.request("PATCH", app.path, body={"operation": None}, content_type=MERGE_PATCH)


def describe(operation: Operation) -> str:
    """``sync (prune, revert-drift) requested by alice``: what was asked, in a line."""
    flags = [
        name
        for name, on in (
            ("prune", operation.prune),
            ("force-conflicts", operation.force_conflicts),
            ("revert-drift", operation.revert_drift),
            ("recheck", operation.recheck),
            ("revert", operation.revert),
        )
        if on
    ]
    what = operation.action.value
    if operation.action is OperationAction.MODE:
        what += f" {operation.mode.value if operation.mode else '--clear'}"
    return (
        what
        + (f" ({', '.join(flags)})" if flags else "")
        + f" requested by {operation.requested_by.username}"
    )


POLICY = "plumbline-operation-requester"
"""The ValidatingAdmissionPolicy (and its binding) that makes ``App.operation`` honest."""


def admission_policy() -> list[dict[str, Any]]:
    """A ValidatingAdmissionPolicy and its binding, so the API server itself vouches for every new
    ``App.operation``: its ``requestedBy`` must be the identity that writes it (username and groups,
    as ``request.userInfo`` has them), and one with ``allow`` needs the ``override`` verb on that App
    (CEL's ``authorizer``, the requester's own rights). Without it, anyone who may patch an App could
    write another's name there; with it, the controller's SubjectAccessReview checks what the cluster
    has already checked (``plumb install`` installs it, with ``deploy/install.yaml``)."""
    override = (
        f"authorizer.group('{GROUP}').resource('apps').namespace(object.metadata.namespace)"
        f".name(object.metadata.name).check('{OVERRIDE_VERB}').allowed()"
    )
    policy = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": POLICY},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": [GROUP],
                        "apiVersions": ["*"],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": ["apps"],
                    }
                ]
            },
            "variables": [
                {
                    "name": "requested",
                    "expression": "has(object.operation) && (oldObject == null || "
                    "!has(oldObject.operation) || oldObject.operation != object.operation)",
                },
            ],
            "validations": [
                {
                    "expression": "!variables.requested || "
                    "(object.operation.requestedBy.username == request.userInfo.username && "
                    "(has(object.operation.requestedBy.groups) ? object.operation.requestedBy.groups : []) "
                    "== (has(request.userInfo.groups) ? request.userInfo.groups : []))",
                    "messageExpression": "'App.operation.requestedBy must be who requests it: you are ' + "
                    "request.userInfo.username",
                    "reason": "Forbidden",
                },
                {
                    "expression": "!variables.requested || !has(object.operation.allow) || "
                    f"size(object.operation.allow) == 0 || {override}",
                    "messageExpression": "request.userInfo.username + ' may not override a guard for app ' "
                    f"+ object.metadata.name + ': that needs the verb {OVERRIDE_VERB} on apps.{GROUP}'",
                    "reason": "Forbidden",
                },
            ],
        },
    }
    binding = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": POLICY},
        "spec": {"policyName": POLICY, "validationActions": ["Deny"]},
    }
    return [policy, binding]
