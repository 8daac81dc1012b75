"""One hierarchy of errors, so callers catch at the level they care about.

Every error carries a message a person can act on: what it is about (file, object, field), what was
expected, and what to do. The CLI prints ``str(error)`` and exits with ``exit_code``.
"""

from __future__ import annotations


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


class ClusterError(PlumbError):
    """The Kubernetes API refused or failed a request; names the object and the server's reason."""


class StoreError(PlumbError):
    """The history store cannot be read or written."""


class RefusedError(PlumbError):
    """plumbline's own rules refuse a write (the app is paused, say). Exit 1, like a guard's block."""

    exit_code = 1
