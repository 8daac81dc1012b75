"""Who is asking, and may they: a bearer token checked with TokenReview, an action with SubjectAccessReview.

plumbline's actions on an app are custom verbs on the App resource (``apps.plumbline.dev``), checked in
the App object's namespace (``plumbline-system`` for Apps read from a file) with the app's name, so
"who may sync in prod" is cluster RBAC:

    rules:
    - apiGroups: ["plumbline.dev"]
      resources: ["apps"]
      verbs: ["sync", "pause", "resume", "capture"]

The dashboard (``plumbline.web``) checks each action with :func:`allowed`; so does the CLI's and the
controller's override check (``override``, :func:`plumbline.engine.operation.may_override`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from plumbline.cluster.client import Cluster

GROUP = "plumbline.dev"
RESOURCE = "apps"


class Permission(StrEnum):
    """An action on an app, as the verb RBAC grants on ``apps.plumbline.dev``."""

    SYNC = "sync"
    PAUSE = "pause"
    RESUME = "resume"
    CAPTURE = "capture"
    OVERRIDE = "override"


@dataclass(frozen=True)
class Identity:
    """A user the API server authenticated (TokenReview's ``status.user``)."""

    username: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: dict[str, list[str]] = field(default_factory=dict)


def review_token(cluster: Cluster, token: str) -> Identity | None:
    """The user ``token`` belongs to, or None when the API server does not accept it."""
    if not token.strip():
        return None
    body = {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenReview",
        "spec": {"token": token.strip()},
    }
    answer = cluster.request("POST", "/apis/authentication.k8s.io/v1/tokenreviews", body=body)
    status = (answer or {}).get("status") or {}
    user = status.get("user") or {}
    if not status.get("authenticated") or not user.get("username"):
        return None
    return Identity(
        username=str(user["username"]),
        uid=str(user.get("uid") or ""),
        groups=tuple(str(g) for g in user.get("groups") or ()),
        extra={str(k): [str(v) for v in vs] for k, vs in (user.get("extra") or {}).items()},
    )


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str


def allowed(cluster: Cluster, who: Identity, permission: Permission, *, app: str, namespace: str) -> Decision:
    """May ``who`` do ``permission`` to ``app`` (whose App object is in ``namespace``)? Asked of the
    API server with a SubjectAccessReview; its reason (or a plain one) says why not."""
    body = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": who.username,
            "uid": who.uid,
            "groups": list(who.groups),
            "extra": who.extra,
            "resourceAttributes": {
                "group": GROUP,
                "resource": RESOURCE,
                "verb": permission.value,
                "name": app,
                "namespace": namespace,
            },
        },
    }
    answer = cluster.request("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", body=body)
    status = (answer or {}).get("status") or {}
    if status.get("allowed") and not status.get("denied"):
        return Decision(True, str(status.get("reason") or "allowed"))
    why = status.get("reason") or status.get("evaluationError") or ""
    plain = (
        f"{who.username} may not {permission.value} app {app}: the cluster grants no "
        f"'{permission.value}' on {RESOURCE}.{GROUP} in namespace {namespace}"
    )
    return Decision(False, plain + (f" ({why})" if why else ""))
