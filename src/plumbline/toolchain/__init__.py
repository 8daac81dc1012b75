"""The binaries plumbline runs: kube-apiserver, etcd, kube-controller-manager, kube-scheduler, kubectl, helm,
kustomize, kwok, and prometheus and tofu (both for tests).

Each comes from a *kit*: a small Go module kept in ``gomod/<kit>/`` that pins one upstream version.
``binary(name)`` finds a binary, in this order:

1. ``KUBEBUILDER_ASSETS`` (the envtest convention), when it holds a file of that name;
2. the cache, ``<cache_dir>/bin/<kit>-<version>/``, checked against the checksums written when it was
   built, so a corrupted or swapped file is reported instead of run;
3. a build from Go modules (``go build`` in a copy of the kit), stored in the cache for next time.

Anything else is a :class:`~plumbline.errors.ToolchainError` that says what is missing and how to
provide it.
"""

from plumbline.toolchain._kits import KITS, Kit, kit_for
from plumbline.toolchain._resolve import BuildProgress, binary, ensure_kit, kit_status

__all__ = ["KITS", "BuildProgress", "Kit", "binary", "ensure_kit", "kit_for", "kit_status"]
