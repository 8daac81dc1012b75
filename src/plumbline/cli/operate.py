"""Handing ``plumb sync | resume | pause | mode`` to the controller that manages the app.

When the app's App object is in the cluster and a controller replica holds it, the command requests
the operation on the App (:mod:`plumbline.engine.operation`), follows the replica's progress and
exits with the operation's exit code; otherwise it returns and the command works directly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape

from plumbline import engine
from plumbline.cli.gitops import Output, Settings, emit_json, err, out, progress
from plumbline.errors import ClusterError

if TYPE_CHECKING:  # the rest is imported where it is used: `plumb --help` loads none of it
    from plumbline.config import App, OperationAction

FOLLOW_S = 900.0
"""How long the CLI follows an operation it requested before giving up on it (the operation stays)."""


def hand_over(
    s: Settings,
    target: App,
    action: OperationAction,
    args: dict[str, Any],
    *,
    output: Output = Output.TABLE,
    offline_ok: bool = False,
) -> None:
    """If a controller manages ``target``: request ``action`` with ``args`` (camelCase, as on the
    App) as the caller's Kubernetes identity, follow it, print the outcome and exit with its code.
    Otherwise return. ``offline_ok``: a cluster that cannot be reached means "no controller" (pause
    and mode work on the local store without one)."""
    from plumbline.config import Operation
    from plumbline.engine import operation as op

    try:
        cluster = engine.connect(target, kubeconfig=s.kubeconfig, context=s.context)
    except ClusterError:
        if offline_ok:
            return
        raise
    with cluster:
        try:
            managed = op.managed_app(cluster, target)
        except ClusterError:
            if offline_ok:
                return
            raise
        if managed is None:
            return
        requester = op.who_am_i(cluster)
        operation = Operation.model_validate(
            {
                "id": op.new_id(),
                "action": action,
                "requestedBy": requester,
                "requestedAt": op.now(),
                **{k: v for k, v in args.items() if v is not None},
            }
        )
        op.request(cluster, managed, operation)
        progress(
            f"{target.name} is managed by controller {managed.holder}: {op.describe(operation)} on "
            f"App {managed.namespace}/{managed.name} (operation {operation.id})"
        )
        state = op.follow(cluster, managed, operation.id, on_progress=progress, timeout_s=FOLLOW_S)
    if output is Output.JSON:
        emit_json({"operation": state.model_dump(mode="json", by_alias=True)})
    elif state.exit_code == 0:
        out.print(f"{escape(target.name)}: {escape(state.message)}")
    else:
        err.print(f"[red]{escape(target.name)}: {escape(state.message)}[/]")
    raise typer.Exit(state.exit_code or 0)
