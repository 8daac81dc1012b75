"""The user's own long-lived local control plane, kept in ``<state_dir>/local``.

``local_up`` starts it detached so it outlives the command; ``local_down`` stops it and deletes its
data; ``local_status`` reads its record and asks the API server whether it is ready.
"""

from __future__ import annotations

import json
import shutil
import ssl
from dataclasses import dataclass
from pathlib import Path

from plumbline.local.controlplane import (
    ControlPlane,
    Progress,
    http_ok,
    process_alive,
    recorded_pids,
    stop_recorded,
)
from plumbline.local.kwok import start_nodes
from plumbline.paths import local_dir as local_dir
from plumbline.words import DEFAULT_NODES as DEFAULT_NODES


@dataclass(frozen=True)
class LocalStatus:
    running: bool
    ready: bool
    kubeconfig: Path
    server: str | None
    processes: dict[str, bool]  # component name -> alive
    started: float | None


def local_status() -> LocalStatus:
    directory = local_dir()
    pids = recorded_pids(directory)
    alive = {name: process_alive(pid) for name, pid in pids.items()}
    server = started = None
    ready = False
    try:
        record = json.loads((directory / "pids.json").read_text())
        server = f"https://127.0.0.1:{record['ports']['apiserver']}"
        started = float(record["started"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    if server and alive.get("kube-apiserver"):
        pki = directory / "pki"
        try:
            ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
            ctx.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
            ready = http_ok(f"{server}/readyz", b"ok", context=ctx)
        except (OSError, ssl.SSLError):
            ready = False
    return LocalStatus(
        running=bool(alive) and all(alive.values()),
        ready=ready,
        kubeconfig=directory / "kubeconfig",
        server=server,
        processes=alive,
        started=started,
    )


def local_up(
    *, port: int | None = None, nodes: int = DEFAULT_NODES, progress: Progress
) -> tuple[ControlPlane | None, LocalStatus]:
    """Start the local control plane unless it already runs.

    With ``nodes`` (the default), kube-scheduler and KWOK run beside it with that many simulated
    Nodes, untainted, so Pods are scheduled and go Running and Ready (``plumbline.local.kwok``).
    Returns the started plane (None if it was already running) and the status afterwards. A plane
    that is only partly running (a component died) is stopped and started afresh.
    """
    status = local_status()
    if status.running and status.ready:
        return None, status
    directory = local_dir()
    if status.processes:
        progress("a previous local control plane is only partly running; restarting it")
    stop_recorded(directory)
    shutil.rmtree(directory, ignore_errors=True)
    plane = ControlPlane(directory=directory, apiserver_port=port, detach=True, progress=progress)
    try:
        plane.start()
        if nodes:
            start_nodes(plane, count=nodes)
    except BaseException:
        plane.stop()
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return plane, local_status()


def local_down() -> list[str]:
    """Stop the local control plane and delete its data; return the components that were running."""
    directory = local_dir()
    stopped = stop_recorded(directory)
    shutil.rmtree(directory, ignore_errors=True)
    return stopped
