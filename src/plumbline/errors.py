"""One hierarchy of errors, so callers catch at the level they care about.

Every error carries a message a person can act on: what it is about (file, object, field), what was
expected, and what to do. The CLI prints ``str(error)`` and exits with ``exit_code``.
"""

from __future__ import annotations

import re
from typing import Any


class PlumbError(Exception):
    """Base of every error plumbline raises on purpose. Exit code 2, as for diff(1) trouble."""

    exit_code = 2


class ToolchainError(PlumbError):
    """A binary plumbline needs (kube-apiserver, etcd, helm, ...) is missing, broken or cannot be built."""


class ControlPlaneError(PlumbError):
    """The local control plane could not be started, reached or stopped."""


class ConfigError(PlumbError):
    """plumbline's own configuration (Projects, Environments, Apps) is invalid: names file, line, field."""


class SourceError(PlumbError):
    """A Git source cannot be fetched, resolved or checked out safely."""


class RenderError(PlumbError):
    """Manifests cannot be rendered (plain YAML, Kustomize, Helm): names the file and the object."""


class RemoteSourceRefused(RenderError):
    """A render would fetch a remote source (kustomize base, Helm dependency) its Project does not allow."""


class TerraformPlanError(PlumbError):
    """A Terraform/OpenTofu plan (``show -json`` output) or configuration that cannot be read: names the
    file and the field."""


class ClusterError(PlumbError):
    """The Kubernetes API refused or failed a request; names the object and the server's reason."""


class ApiUnreachable(ClusterError):
    """No answer from the API server (connection refused or reset, TLS failure, timeout), after the
    retries an idempotent request gets. Names the server and the kubeconfig context."""

    def __init__(self, cause: str, *, server: str, context: str) -> None:
        super().__init__(
            f"cannot reach the API server at {server} (kubeconfig context {context or '?'}): {cause}. "
            "Check that the server is up and reachable from here (VPN, firewall, proxy), and that the "
            "kubeconfig's server address is right."
        )
        self.server = server
        self.context = context


class ApiFailure(ClusterError):
    """The API server answered a request with an error status (a Kubernetes ``Status``).

    ``reason`` is the Status reason (``Conflict``, ``Forbidden``, ...), ``message`` the server's own
    words, ``details`` the Status details. The cluster client maps each status to the subclass below
    that names it (:func:`plumbline.cluster.client.api_failure`), so callers catch the case they care
    about; ``str()`` adds the server, the context and what to do.
    """

    def __init__(
        self,
        status: int,
        reason: str,
        message: str,
        details: dict[str, Any] | None = None,
        *,
        server: str = "",
        context: str = "",
    ) -> None:
        super().__init__(status, reason, message)
        self.status = status
        self.reason = reason
        self.message = message
        self.details = details or {}
        self.server = server
        self.context = context

    def advice(self) -> str:
        """What to do about it; empty when the server's message says enough."""
        return ""

    @property
    def about_the_caller(self) -> bool:
        """True when the refusal is about who asks (credentials, RBAC), not about what was asked: an
        error of the run (exit 2), never a verdict on one object (a plan's refused dry run, exit 1)."""
        return False

    def __str__(self) -> str:
        text = f"{self.status} {self.reason or 'error'}: {self.message}"
        if self.server:
            text += f" (API server {self.server}, kubeconfig context {self.context or '?'})"
        advice = self.advice()
        return f"{text}. {advice}" if advice else text


class ApiUnauthorized(ApiFailure):
    """401: the server does not accept the credentials (expired or revoked token, unknown certificate)."""

    @property
    def about_the_caller(self) -> bool:
        return True

    def advice(self) -> str:
        return (
            "The kubeconfig's credentials are expired or invalid: refresh them (log in again, renew the "
            "token or the client certificate) or pick a context whose credentials work (--context)."
        )


# `User "x" cannot list resource "configmaps" in API group "" in the namespace "ns"`, as RBAC says it.
_RBAC_DENIAL = re.compile(
    r'User "(?P<user>[^"]*)" cannot (?P<verb>\S+) resource "(?P<resource>[^"]*)"'
    r'(?: in API group "(?P<group>[^"]*)")?(?: in the namespace "(?P<namespace>[^"]*)")?'
)


class ApiForbidden(ApiFailure):
    """403: the credentials are valid but RBAC (or an admission webhook) does not allow the request."""

    @property
    def about_the_caller(self) -> bool:
        return _RBAC_DENIAL.search(self.message) is not None  # an admission denial is about the object

    def advice(self) -> str:
        denial = _RBAC_DENIAL.search(self.message)
        if denial is None:
            return (
                "The user is authenticated but not allowed this request: grant it the missing RBAC "
                "permission, or use a context whose user has it."
            )
        where = (
            f'in namespace "{denial["namespace"]}" with a Role and a RoleBinding'
            if denial["namespace"]
            else "with a ClusterRole and a ClusterRoleBinding"
        )
        return (
            f'Grant user "{denial["user"]}" the verb "{denial["verb"]}" on "{denial["resource"]}" '
            f'(API group "{denial["group"] or ""}") {where}, or use a context whose user has it.'
        )


class ApiNotFound(ApiFailure):
    """404: the object, its namespace, or the API it belongs to does not exist on this server."""


class ApiConflict(ApiFailure):
    """409: a conflict — fields owned by another manager, a stale resourceVersion, a changed uid, or
    an object that already exists."""


class ApiUnavailable(ApiFailure):
    """429, 502, 503, 504: the server (or a proxy before it) is overloaded or not ready; still so
    after the retries a request gets."""

    def advice(self) -> str:
        return "The API server is overloaded or not ready: try again later, or check its health."


class StoreError(PlumbError):
    """The history store cannot be read or written."""


class RefusedError(PlumbError):
    """plumbline's own rules refuse a write (the app is paused, say). Exit 1, like a guard's block."""

    exit_code = 1
