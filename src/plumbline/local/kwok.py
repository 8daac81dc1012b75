"""Simulated nodes on a local control plane: kube-scheduler and KWOK, so Pods run (as far as the API knows).

The control plane alone has no nodes: a Pod is created and stays Pending forever. :func:`start_nodes`
adds, beside a started :class:`~plumbline.local.ControlPlane`:

* **kube-scheduler** (from the kubernetes kit), which gives each Pod a node;
* **KWOK** (``sigs.k8s.io/kwok``, its own kit), which keeps the Nodes it manages Ready (heartbeats
  with Leases) and plays a kubelet's part for their Pods: Running and Ready, deleted when asked;
* ``count`` Nodes annotated ``kwok.x-k8s.io/node: fake`` (KWOK manages those and no others).

KWOK runs its default stages (``stages/kwok-defaults.yaml``, copied from the pinned version) and
plumbline's fault stages (``stages/faults.yaml``): a Pod labelled ``plumbline.dev/test-fault`` with a
:class:`Fault` value crash-loops or never becomes ready, so a bad release can be staged for real.

``tainted`` Nodes carry KWOK's usual ``kwok.x-k8s.io/node=fake:NoSchedule`` taint: only Pods that
tolerate it (:data:`TOLERATION`) land there. The test suite shares one control plane among tests that
expect Pods never to start, so it uses tainted Nodes; ``plumb local up`` does not.
"""

from __future__ import annotations

import enum
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plumbline import toolchain
from plumbline.errors import ApiFailure, ControlPlaneError
from plumbline.local.controlplane import ControlPlane, free_port, http_ok, self_signed

STAGES_DIR = Path(__file__).parent / "stages"
NODE_ANNOTATION = "kwok.x-k8s.io/node"
NODE_PREFIX = "kwok-node-"
FAULT_LABEL = "plumbline.dev/test-fault"
FIELD_MANAGER = "plumbline-local"
NODE_LEASE_SECONDS = 40

TAINT: dict[str, str] = {"key": NODE_ANNOTATION, "value": "fake", "effect": "NoSchedule"}
TOLERATION: dict[str, str] = {**TAINT, "operator": "Equal"}


class Fault(enum.StrEnum):
    """What a Pod labelled :data:`FAULT_LABEL` does instead of becoming Ready (stages/faults.yaml)."""

    CRASHLOOP = "crashloop"  # Running, not Ready, CrashLoopBackOff, restart count growing
    NEVER_READY = "never-ready"  # Running, not Ready, forever

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class SimulatedNodes:
    names: tuple[str, ...]
    tainted: bool


def stage_files() -> list[Path]:
    """The KWOK stage files plumbline runs: KWOK's defaults, then its own fault stages."""
    files = sorted(STAGES_DIR.glob("*.yaml"))
    if not files:
        raise ControlPlaneError(f"no KWOK stages in {STAGES_DIR}: the plumbline installation is incomplete")
    return files


def node(name: str, *, tainted: bool) -> dict[str, Any]:
    """A Node KWOK manages (it fills in the status: capacity, addresses, Ready)."""
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {NODE_ANNOTATION: "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "type": "kwok",
            },
        },
        "spec": {},
    }
    if tainted:
        body["spec"]["taints"] = [TAINT]
    return body


def start_nodes(plane: ControlPlane, *, count: int = 1, tainted: bool = False) -> SimulatedNodes:
    """Start kube-scheduler and KWOK beside ``plane`` and wait for ``count`` Ready simulated Nodes.

    The processes belong to the plane (stopped with it; recorded for ``plumb local down`` when it is
    detached). Raises :class:`ControlPlaneError` with the failing component's log if any part does not
    come up within the plane's ``ready_timeout``.
    """
    if count < 1:
        raise ControlPlaneError(f"simulated nodes: count must be at least 1, not {count}")
    # Find (or build) both binaries before anything runs, as the plane itself does.
    bins = {name: toolchain.binary(name, progress=plane.progress) for name in ("kube-scheduler", "kwok")}

    plane.progress("starting kube-scheduler")
    scheduler_port = free_port()
    insecure = self_signed()
    plane.start_component(
        "kube-scheduler",
        [
            str(bins["kube-scheduler"]),
            f"--kubeconfig={plane.kubeconfig}",
            f"--authentication-kubeconfig={plane.kubeconfig}",
            f"--authorization-kubeconfig={plane.kubeconfig}",
            "--bind-address=127.0.0.1",
            f"--secure-port={scheduler_port}",
            "--leader-elect=false",
            "--profiling=false",
        ],
        lambda: http_ok(f"https://127.0.0.1:{scheduler_port}/healthz", b"ok", context=insecure),
    )

    plane.progress("starting kwok")
    kwok_port = free_port()
    home = plane.directory / "kwok"
    home.mkdir(exist_ok=True)
    plane.start_component(
        "kwok",
        [
            str(bins["kwok"]),
            f"--kubeconfig={plane.kubeconfig}",
            *(f"--config={path}" for path in stage_files()),
            "--manage-all-nodes=false",
            f"--manage-nodes-with-annotation-selector={NODE_ANNOTATION}=fake",
            f"--node-lease-duration-seconds={NODE_LEASE_SECONDS}",
            f"--server-address=127.0.0.1:{kwok_port}",
        ],
        lambda: http_ok(f"http://127.0.0.1:{kwok_port}/healthz", b"ok"),
        # KWOK also reads ~/.kwok/kwok.yaml when it exists; a HOME of its own keeps a user's out.
        env={**os.environ, "HOME": str(home)},
    )

    names = tuple(f"{NODE_PREFIX}{i}" for i in range(count))
    _create_and_wait(plane, names, tainted=tainted)
    return SimulatedNodes(names=names, tainted=tainted)


def _create_and_wait(plane: ControlPlane, names: tuple[str, ...], *, tainted: bool) -> None:
    from plumbline.cluster import Cluster

    plane.progress(f"creating {len(names)} simulated node(s)")
    deadline = time.monotonic() + plane.ready_timeout
    with Cluster(kubeconfig=plane.kubeconfig) as cluster:
        info = cluster.discovery.lookup("v1", "Node")
        if info is None:
            raise ControlPlaneError("the API server does not serve v1 Nodes")
        for name in names:
            try:
                cluster.apply(node(name, tainted=tainted), info=info, field_manager=FIELD_MANAGER, force=True)
            except ApiFailure as error:
                raise ControlPlaneError(f"could not create the simulated node {name}: {error}") from None
        waiting = set(names)
        while waiting:
            for name in sorted(waiting):
                live = cluster.read(info.path(name=name)) or {}
                conditions = (live.get("status") or {}).get("conditions") or []
                if any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions):
                    waiting.discard(name)
            if not waiting:
                return
            if time.monotonic() > deadline:
                raise ControlPlaneError(
                    f"KWOK did not make node(s) {', '.join(sorted(waiting))} Ready within "
                    f"{plane.ready_timeout:.0f}s; see {plane.directory / 'kwok.log'}"
                )
            time.sleep(0.2)
