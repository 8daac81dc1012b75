"""``plumb install`` and ``plumb uninstall``: plumbline's own objects in a cluster (plumbline.deploy).

``plumb install`` prints the manifests (``deploy/install.yaml`` is its output for the defaults);
``--apply`` applies them with server-side apply, which is also how an installation is upgraded.
``plumb uninstall`` deletes them again, keeping the namespace (the history and audit anchor live
there), refusing while App objects exist unless ``--force``, and never touching what apps manage.

Exit codes: 0 done, 1 refused (Apps exist), 2 errors.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from plumbline.cli.gitops import err, out, progress, settings
from plumbline.words import DEFAULT_NAMESPACE, IMAGE

if TYPE_CHECKING:  # the rest is imported where it is used: `plumb --help` loads none of it
    from plumbline.cluster import Cluster

NAMESPACE = typer.Option(DEFAULT_NAMESPACE, "--namespace", "-n", help="Where the controller runs.")
NAMESPACES = typer.Option(
    [],
    "--namespaces",
    help="A namespace the apps deploy into: the controller may write there (RoleBinding to "
    "plumbline-apply); repeatable.",
)


def _cluster(ctx: typer.Context) -> Cluster:
    from plumbline.cluster import Cluster

    s = settings(ctx)
    return Cluster(kubeconfig=Path(s.kubeconfig) if s.kubeconfig else None, context=s.context)


def register(app: typer.Typer) -> None:
    """Add ``install`` and ``uninstall`` to the root ``plumb`` app."""

    @app.command("install")
    def install_cmd(
        ctx: typer.Context,
        apply: bool = typer.Option(False, "--apply", help="Apply to the cluster instead of printing."),
        namespace: str = NAMESPACE,
        namespaces: list[str] = NAMESPACES,
        image: str = typer.Option(IMAGE, "--image", help="The controller's image (see Containerfile)."),
    ) -> None:
        """Print plumbline's manifests — Namespace, CRDs, ServiceAccount, RBAC (each rule with its
        reason), Deployment, Service, PodDisruptionBudget — or apply them with --apply (run it again to
        upgrade). Exit 0: done, 2: error."""
        from plumbline.deploy import install, install_text, manifests

        if not apply:
            typer.echo(install_text(namespace, namespaces=namespaces, image=image), nl=False)
            return
        with _cluster(ctx) as cluster:
            done = install(
                cluster, manifests(namespace, namespaces=namespaces, image=image), progress=progress
            )
        for line in done:
            out.print(f"applied {line}")

    @app.command("uninstall")
    def uninstall_cmd(
        ctx: typer.Context,
        namespace: str = NAMESPACE,
        force: bool = typer.Option(
            False, "--force", help="Delete the CRDs even while App objects exist (they go with them)."
        ),
    ) -> None:
        """Remove what plumb install applied, but the namespace (history and audit live there); refused
        while App objects exist unless --force. What apps manage is never deleted. Exit 0: done, 1:
        refused, 2: error."""
        from plumbline.deploy import apply_namespaces, manifests, uninstall

        with _cluster(ctx) as cluster:
            objects = manifests(namespace, namespaces=apply_namespaces(cluster, namespace))
            deleted = uninstall(cluster, objects, force=force)
        for line in deleted:
            out.print(f"deleted {line}")
        err.print(f"kept Namespace/{namespace} (history and audit); delete it yourself when no longer needed")
