"""The words and defaults the command line needs before anything heavy is imported.

``plumb --help`` builds every command's options, and an option's type and default must exist then;
these live here, free of pydantic, the Kubernetes client and the renderers, so that costs nothing
(tests/unit/test_startup.py). Each is defined once, here, and exported by the package that owns its
concept — ``Mode``, ``RankedEnum``, ``StoreBackend`` and ``DEFAULT_NAMESPACE`` by
:mod:`plumbline.config`, ``Source`` by :mod:`plumbline.migrate`, ``IMAGE`` by :mod:`plumbline.deploy`,
``DEFAULT_NODES`` by :mod:`plumbline.local`, ``LEASE_NAMESPACE`` and ``LEASE_DURATION_S`` by
:mod:`plumbline.engine.lease`, ``WORKERS``, ``KUBE_API_QPS`` and ``KUBE_API_BURST`` by
:mod:`plumbline.controller`: import them from there,
except in the command line's modules.
"""

from __future__ import annotations

from enum import StrEnum

from plumbline._version import __version__

DEFAULT_NAMESPACE = "plumbline-system"
"""The controller's namespace when ``--config cluster:`` names none (where ``plumb install`` puts it)."""
IMAGE = f"localhost/plumbline:{__version__}"
"""The image the Containerfile builds (``podman build -t localhost/plumbline:VERSION .``); no registry."""
DEFAULT_NODES = 1
"""``plumb local up``: simulated nodes (KWOK) when ``--nodes`` is not given."""
LEASE_NAMESPACE = "plumbline-system"
"""Where the controller's Leases are (``--lease-namespace``)."""
LEASE_DURATION_S = 15
"""How long a Lease holds without renewal, in seconds (``--lease-duration``)."""
WORKERS = 4
"""Apps the controller reconciles at once (``--workers``). Flux's default (``--concurrent 4``): a pass
mostly waits for the API server and Git, so a few workers overlap the waits; more only contend for
the interpreter's lock on a small machine (decision 0025)."""
KUBE_API_QPS = 200.0
KUBE_API_BURST = 400
"""The controller's client-side limit on requests to each API server (``--kube-api-qps``,
``--kube-api-burst``; a QPS of 0 turns it off): Flux's flags at four times Flux's and Argo CD's 50/100,
because a pass still reads the API where their controllers read an informer cache (decision 0025).
The CLI has none: one person's command, and the API server's Priority and Fairness protects it."""


class Source(StrEnum):
    """``plumb import``: the tool whose objects are imported."""

    ARGOCD = "argocd"
    FLUX = "flux"


class StoreBackend(StrEnum):
    """Where an installation keeps what every replica and user must agree on: the sync history (each
    sync's desired objects, the attribution baseline), the audit trail, pauses and modes.

    * ``sqlite`` — one local file (the default: ``plumb local``, a laptop, offline use).
    * ``kubernetes`` — Secrets in the cluster, read by every replica and every CLI (decision 0015).
    """

    SQLITE = "sqlite"
    KUBERNETES = "kubernetes"


class RankedEnum(StrEnum):
    """A closed vocabulary listed in its order: a member's ``rank`` is its position (first is 0)."""

    @property
    def rank(self) -> int:
        return list(type(self)).index(self)


class Mode(RankedEnum):
    """The automation gradient, one rung at a time (each rung includes the ones before it).

    * ``observe`` — plan and report only; never writes to the cluster on its own.
    * ``sync`` — applies new commits automatically.
    * ``self-heal`` — also reverts drift made live (an edit Git does not have).
    * ``prune`` — also deletes objects Git no longer has.

    ``rank`` is the position on the gradient: observe 0, sync 1, self-heal 2, prune 3.
    """

    OBSERVE = "observe"
    SYNC = "sync"
    SELF_HEAL = "self-heal"
    PRUNE = "prune"

    def includes(self, step: Mode) -> bool:
        """True if this mode allows ``step`` (``Mode.PRUNE.includes(Mode.SYNC)`` is True)."""
        return self.rank >= step.rank
