"""``plumb capture APP [--write] [--branch NAME]``: turn the app's live drift into a change to Git.

The drift is what the plan attributes ``drift-revert``, ``conflict`` or ``unmanaged-addition``; the
edits come from :func:`plumbline.capture.capture_changes`. Without ``--write`` the edits are shown
(a unified diff) and nothing is written. With it they are committed on a new branch of the app's
source repository (``plumbline/capture-<app>-<yyyymmdd-hhmmss>`` unless ``--branch``), whose parent
is the commit the plan rendered; review and merge it like any change, then sync.

Exit codes: 0 every drifted field was captured (or there was none), 1 some could not be captured
(each is listed with the reason and, where one can be written, the patch to place by hand), 2 errors.
A Secret's values are never printed: its fields show ``(secret value)`` and its diffs are withheld.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from plumbline import engine
from plumbline.cli.gitops import OUTPUT, REVISION, Output, emit_json, err, out, progress, settings

if TYPE_CHECKING:  # the rest is imported where it is used: `plumb --help` loads none of it
    from plumbline.capture import CaptureCommit, CapturePlan

_WRITE = typer.Option(
    False, "--write", help="Commit the edits on a new branch of the app's source repository."
)
_BRANCH = typer.Option(
    None, "--branch", help="Branch to create (default: plumbline/capture-<app>-<yyyymmdd-hhmmss>)."
)
_AUTHOR = typer.Option(None, "--author", help="Commit author, 'Name <email>' (default: the acting user).")


def register(app: typer.Typer) -> None:
    """Add ``capture`` to the root ``plumb`` app."""

    @app.command("capture")
    def capture_cmd(
        ctx: typer.Context,
        name: str,
        write: bool = _WRITE,
        branch: str | None = _BRANCH,
        author: str | None = _AUTHOR,
        revision: str | None = REVISION,
        output: Output = OUTPUT,
    ) -> None:
        """Make Git match live for the app's drifted fields: edit plain YAML in place, add a patch to a
        Kustomize overlay, change a Helm value proven to feed the field. Exit 0: all captured,
        1: some could not be, 2: error."""
        from plumbline.capture import capture_app, commit_capture, drift

        s = settings(ctx)
        target = s.app(name)
        plan, rendered = s.plan(target, revision)
        checkout = rendered.checkout
        changes = drift(plan)
        if changes:
            where = f"{target.spec.source.path} at {checkout.sha[:12]}"
            progress(f"capturing {len(changes)} drifted field(s) into {where}")
        capture = capture_app(
            target,
            plan=plan,
            checkout_root=checkout.root,
            manifests=rendered.manifests,
            allow_remote=engine.allowed_remote(s.config.project(target.spec.project)),
        )
        commit = None
        if write and not capture.empty:
            commit = commit_capture(target, capture, base_sha=checkout.sha, branch=branch, author=author)
        if output is Output.JSON:
            emit_json(capture.to_dict(app=target.name, base=checkout.sha, commit=commit))
        else:
            _print(target.name, capture, commit, nothing=not changes, write=write)
        raise typer.Exit(1 if capture.unmapped else 0)


def _print(
    app: str, capture: CapturePlan, commit: CaptureCommit | None, *, nothing: bool, write: bool
) -> None:
    if nothing:
        out.print(f"{app}: no drift to capture (live matches Git, apart from runtime fields)")
        return
    for edit in capture.edits:
        diff = capture.shown_diff(edit)
        if diff is None:
            out.print(f"--- {escape(edit.path)}: diff not shown, the file holds a Secret")
        else:
            out.print(escape(diff), end="")
    if capture.captured:
        out.print(f"[bold]captured[/] ({len(capture.captured)}):")
        for c in capture.captured:
            out.print(f"  {escape(c.describe())}")
    if capture.unmapped:
        out.print(f"[bold yellow]not captured[/] ({len(capture.unmapped)}):")
        for u in capture.unmapped:
            out.print(f"  {escape(u.describe())}")
            if u.shown_patch:
                out.print("    a strategic-merge patch that would express it:")
                for line in u.shown_patch.splitlines():
                    out.print(f"      {escape(line)}")
    if commit is not None:
        out.print(
            f"[bold green]committed[/] {commit.sha[:12]} on new branch {escape(commit.branch)} in "
            f"{escape(commit.repo)} (parent {commit.base[:12]}); review and merge it, then sync"
        )
    elif write:
        err.print("nothing committed: no field could be captured")
    elif capture.edits:
        out.print("[dim]nothing written; run with --write to commit this on a new branch[/]")
