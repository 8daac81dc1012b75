"""``plumb local``: a real Kubernetes control plane on this machine, to try plumbline against."""

from __future__ import annotations

import sys
import time

import typer
from rich.console import Console

from plumbline.words import DEFAULT_NODES

out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, highlight=False, soft_wrap=True)

app = typer.Typer(
    help="A local Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager), with "
    "simulated nodes (kube-scheduler, KWOK).",
    no_args_is_help=True,
)


def _progress(message: str) -> None:
    err.print(f"[dim]…[/] {message}")


@app.command()
def up(
    port: int | None = typer.Option(None, help="Port for the API server on 127.0.0.1 (default: a free one)."),
    nodes: int = typer.Option(
        DEFAULT_NODES,
        min=0,
        help="Simulated nodes (KWOK) on which Pods run and become Ready; 0 starts no scheduler and no nodes.",
    ),
) -> None:
    """Start the local control plane (building its binaries the first time) and print its kubeconfig."""
    from plumbline.local import local_up

    began = time.monotonic()
    plane, status = local_up(port=port, nodes=nodes, progress=_progress)
    if plane is None:
        out.print(f"already running at {status.server}")
    else:
        out.print(
            f"[green]ready[/] at {status.server} in {plane.started_in:.1f}s "
            f"(total {time.monotonic() - began:.1f}s with binary checks)"
        )
    out.print(f"kubeconfig: {status.kubeconfig}")
    out.print(f"  export KUBECONFIG={status.kubeconfig}")
    out.print("stop it with: plumb local down")


@app.command()
def down() -> None:
    """Stop the local control plane and delete its data."""
    from plumbline.local import local_down

    stopped = local_down()
    out.print(f"stopped {', '.join(stopped)}" if stopped else "no local control plane was running")


@app.command()
def status() -> None:
    """Say whether the local control plane runs and is ready. Exit 0 if ready, 1 if not."""
    from plumbline.local import local_status

    st = local_status()
    if not st.processes:
        out.print("not running (start it with: plumb local up)")
        raise typer.Exit(1)
    for name, alive in st.processes.items():
        out.print(f"{name:<24} {'[green]running[/]' if alive else '[red]exited[/]'}")
    age = f", up {time.time() - st.started:.0f}s" if st.started else ""
    out.print(f"api server {st.server}: {'[green]ready[/]' if st.ready else '[red]not ready[/]'}{age}")
    out.print(f"kubeconfig: {st.kubeconfig}")
    if not (st.running and st.ready):
        raise typer.Exit(1)


@app.command()
def build(
    force: bool = typer.Option(False, "--force", help="Rebuild even if the cache holds the binaries."),
) -> None:
    """Build (once) and cache the binaries plumbline runs, then say where each one is."""
    from plumbline import toolchain

    for kit in toolchain.KITS.values():
        toolchain.ensure_kit(kit, progress=_progress, force=force)
        out.print(toolchain.kit_status(kit))


def register(root: typer.Typer) -> None:
    """Add ``local`` to the root ``plumb`` app."""
    root.add_typer(app, name="local")
