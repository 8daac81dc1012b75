"""``plumb store migrate --to kubernetes``: the local SQLite store's history, audit trail and app
states copied into the store kept in the cluster (decision 0015)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import typer
from rich.markup import escape

from plumbline import engine
from plumbline.cli.gitops import OUTPUT, Output, emit_json, err, out, settings
from plumbline.errors import StoreError
from plumbline.words import StoreBackend

TO = typer.Option(..., "--to", help="The store to copy into: kubernetes.")
FROM = typer.Option(
    None, "--from", help="The SQLite file (default: $PLUMBLINE_STORE, else the state directory's)."
)


def register(app: typer.Typer) -> None:
    """Add ``store`` (``plumb store migrate``) to the root ``plumb`` app."""
    group = typer.Typer(
        help="The store history, audit trail and app state are kept in.", no_args_is_help=True
    )
    app.add_typer(group, name="store")

    @group.command("migrate")
    def migrate_cmd(
        ctx: typer.Context,
        to: StoreBackend = TO,
        source: Path | None = FROM,
        output: Output = OUTPUT,
    ) -> None:
        """Copy the SQLite store's sync history (with each sync's desired objects), sync intents, audit
        trail (sealed again, verifiable with `plumb audit verify`) and app states into the store in the
        cluster the configuration's Instance names (spec.store: namespace, keySecret), with the file's
        keys. Idempotent: what was copied before is skipped. Exit 0: copied and verified, 2: error
        (nothing is copied from a broken trail, nor into a store holding other records)."""
        from plumbline.redact import Redactor
        from plumbline.store import KubernetesStore, SqliteStore, migrate, open_store

        if to is not StoreBackend.KUBERNETES:
            raise StoreError(f"--to {to.value}: only kubernetes can be migrated into (from the SQLite file)")
        s = settings(ctx)
        # the configuration's settings (namespace, keySecret, historyLimit), whichever backend it names
        choice = replace(s.store, spec=s.store.spec.model_copy(update={"backend": to}))
        if choice.kubeconfig is None:
            choice = replace(choice, kubeconfig=engine.resolve_kubeconfig(s.kubeconfig))
        with SqliteStore.open(source) as local, open_store(choice) as target:
            assert isinstance(target, KubernetesStore)
            done = migrate(local, target, redact=Redactor.for_store(local).redact)
            checked, broken = target.verify_audit()
        if output is Output.JSON:
            emit_json({**done.to_dict(), "from": local.where, "to": target.where, "verified": checked})
        else:
            out.print(
                f"copied {done.syncs} syncs, {done.intents} sync intents, {done.audit} audit records and "
                f"{done.states} app states from {escape(local.where)} to {escape(target.where)}"
                + (f" ({done.already} were there already)" if done.already else "")
            )
        if broken is not None:
            err.print(
                f"[bold red]the copied trail does not verify[/] ({broken.table} #{broken.id}): "
                + escape(broken.why)
            )
            raise typer.Exit(2)
        if output is not Output.JSON:
            out.print(f"audit trail intact in the cluster: {checked} records verified")
