"""``plumb rollback APP [--to REV | --to-history N] [--dry-run] [--write-revert-branch NAME]``.

Applies a good revision's whole desired state (config and image together) from history, through the
one write path (:func:`plumbline.engine.rollback_app`), after showing the attributed plan and, in one
list, every object and field it changes. The commit rolled back from is recorded as failed and never
applied again by itself; the app is held at the good revision until a new commit is synced.
``--write-revert-branch`` writes the revert commit to a new branch for review (docs/health.md#rollback).

Exit codes: 0 rolled back (or, with --dry-run, could be), 1 refused or blocked (nothing written),
2 failed part-way or an error (no revision to roll back to, say).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from plumbline import engine
from plumbline.cli.gitops import (
    DRY_RUN,
    OUTPUT,
    PRUNE,
    WHY,
    Output,
    emit_json,
    out,
    print_plan,
    progress,
    settings,
)

if TYPE_CHECKING:  # the rest is imported where it is used: `plumb --help` loads none of it
    from plumbline.capture import CaptureCommit


def register(app: typer.Typer) -> None:
    """Add ``rollback`` to the root ``plumb`` app."""

    @app.command("rollback")
    def rollback_cmd(
        ctx: typer.Context,
        name: str,
        to: str | None = typer.Option(
            None, "--to", help="Roll back to this SHA (7+ hex digits) or revision, as history recorded it."
        ),
        to_history: int | None = typer.Option(
            None, "--to-history", help="Roll back to the sync with this history number (`plumb history`)."
        ),
        dry_run: bool = DRY_RUN,
        prune: bool = PRUNE,
        reason: str = WHY,
        revert_branch: str | None = typer.Option(
            None,
            "--write-revert-branch",
            help="Also commit, on this new branch of the app's repository, the revert that makes Git say "
            "what the rollback applied (for review).",
        ),
        output: Output = OUTPUT,
    ) -> None:
        """Roll an app back to its last good revision — config and image together, from history — and
        hold it there: the commit rolled back from is recorded as failed and never applied again by
        itself; a new commit ends the hold. Exit 0: rolled back, 1: refused or blocked, 2: failed or
        error."""
        from plumbline.capture import commit_revert
        from plumbline.store import SyncResult

        if to is not None and to_history is not None:
            raise typer.BadParameter("give --to or --to-history, not both", param_hint="--to")
        if dry_run and revert_branch:
            raise typer.BadParameter("a dry run writes nothing, not even a branch", param_hint="--dry-run")
        s = settings(ctx)
        target = s.app(name)
        with engine.session(target, kubeconfig=s.kubeconfig, context=s.context, store=s.store) as session:
            done = engine.rollback_app(
                target,
                cluster=session.cluster,
                store=session.store,
                config=s.config,
                to=to,
                to_history=to_history,
                dry_run=dry_run,
                prune=prune,
                reason=reason,
                progress=progress,
            )
        commit: CaptureCommit | None = None
        files: list[str] = []
        if revert_branch and done.record.result is SyncResult.SUCCEEDED:
            commit, files = commit_revert(
                target,
                good_sha=done.target.sha,
                bad_sha=done.current.sha,
                branch=revert_branch,
                reason=reason or f"rolled back by {done.record.actor}",
            )
        if output is Output.JSON:
            emit_json(
                {
                    **done.to_dict(),
                    "record": engine.record_to_dict(done.record),
                    "revertCommit": {**commit.to_dict(), "files": files} if commit else None,
                }
            )
        else:
            _print(name, done, commit, files, dry_run=dry_run)
        if done.record.result is SyncResult.BLOCKED:
            raise typer.Exit(1)
        if done.record.result is SyncResult.FAILED:
            raise typer.Exit(2)


def _print(
    app: str, done: engine.Rollback, commit: CaptureCommit | None, files: list[str], *, dry_run: bool
) -> None:
    from plumbline.store import SyncResult

    t, c = done.target, done.current
    out.print(
        f"[bold]{escape(app)}[/]: rolling back from {c.sha[:12]} (history #{c.id}, {escape(c.revision)}) "
        f"to {t.sha[:12]} (history #{t.id}, {escape(t.revision)}, synced {t.started_at:%Y-%m-%d %H:%M} UTC)"
    )
    print_plan(done.plan, show_diff=dry_run)
    if done.changes:
        out.print(f"[bold]this rollback changes[/] ({len(done.changes)}):")
        for line in done.changes:
            out.print(f"  {escape(line)}")
    else:
        out.print("this rollback changes nothing live: the cluster already has that revision's objects")
    record = done.record
    style = {SyncResult.SUCCEEDED: "green", SyncResult.DRY_RUN: "cyan"}.get(record.result, "red")
    out.print(f"[bold {style}]{record.result.value}[/]: {escape(record.message)} (history #{record.id})")
    if record.result is SyncResult.SUCCEEDED:
        out.print(
            f"[yellow]{escape(app)} is held at {t.sha[:12]}[/]: {c.sha[:12]} is recorded as failed and is "
            "never applied again by itself; the next new commit ends the hold"
        )
    if commit is not None:
        out.print(
            f"[bold green]committed[/] the revert {commit.sha[:12]} on new branch {escape(commit.branch)} in "
            f"{escape(commit.repo)} (parent {commit.base[:12]}; {len(files)} file(s)); review and merge it"
        )
