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
