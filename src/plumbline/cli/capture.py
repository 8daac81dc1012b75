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

from typing import Any

import typer
from rich.markup import escape

from plumbline import engine
from plumbline.capture import (
    CAPTURABLE,
    CapturePlan,
    capture_changes,
    commit_message,
    default_branch,
    shown_value,
    write_capture,
)
from plumbline.capture._model import is_secret
from plumbline.cli.gitops import OUTPUT, REVISION, Output, emit_json, err, out, progress, settings
from plumbline.render import helm_options
from plumbline.store import Store, current_actor


def register(app: typer.Typer) -> None:
    """Add ``capture`` to the root ``plumb`` app."""

    @app.command("capture")
    def capture_cmd(
        ctx: typer.Context,
        name: str,
        write: bool = typer.Option(
            False, "--write", help="Commit the edits on a new branch of the app's source repository."
        ),
        branch: str | None = typer.Option(
            None, "--branch", help="Branch to create (default: plumbline/capture-<app>-<yyyymmdd-hhmmss>)."
        ),
        author: str | None = typer.Option(
            None, "--author", help="Commit author, 'Name <email>' (default: the acting user)."
        ),
        revision: str | None = REVISION,
        output: Output = OUTPUT,
    ) -> None:
        """Make Git match live for the app's drifted fields: edit plain YAML in place, add a patch to a
        Kustomize overlay, change a Helm value proven to feed the field. Exit 0: all captured,
        1: some could not be, 2: error."""
        s = settings(ctx)
        target = s.app(name)
        with (
            engine.connect(target, kubeconfig=s.kubeconfig, context=s.context) as cluster,
            Store.open() as store,
        ):
            plan, rendered = engine.plan_app(
                target,
                cluster=cluster,
                revision=revision,
                progress=progress,
                store=store,
                **engine.scope(target, s.config),
            )
        changes = [c for item in plan.items for c in item.changes if c.attribution in CAPTURABLE]
        source = target.spec.source
        checkout = rendered.checkout
        capture = CapturePlan()
        if changes:
            progress(f"capturing {len(changes)} drifted field(s) into {source.path} at {checkout.sha[:12]}")
            capture = capture_changes(
                checkout_root=checkout.root,
                app_path=source.path,
                tool=target.spec.source.tool,
                helm=helm_options(target),
                manifests=[m for m in rendered.manifests if m.file != engine.CREATE_NAMESPACE_SOURCE],
                changes=changes,
                namespace=target.spec.destination.namespace,
                allow_remote=engine.allowed_remote(engine.scope(target, s.config).get("project")),
            )
        commit: dict[str, str] | None = None
        if write and not capture.empty:
            chosen = branch or default_branch(target.name)
            sha = write_capture(
                repo=source.repo_url,
                base_sha=checkout.sha,
                plan=capture,
                branch=chosen,
                message=commit_message(app=target.name, plan=capture),
                author=author or _author(),
            )
            commit = {"sha": sha, "branch": chosen, "repo": source.repo_url, "base": checkout.sha}
        if output is Output.JSON:
            emit_json(_to_dict(target.name, checkout.sha, capture, commit))
        else:
            _print(target.name, capture, commit, nothing=not changes, write=write)
        raise typer.Exit(1 if capture.unmapped else 0)


def _author() -> str:
    actor = current_actor()
    email = actor if "@" in actor else f"{actor}@localhost"
    return f"{actor} <{email}>"


def _secret_files(capture: CapturePlan) -> set[str]:
    return {c.file for c in capture.captured if is_secret(c.ref)}


def _to_dict(app: str, sha: str, capture: CapturePlan, commit: dict[str, str] | None) -> dict[str, Any]:
    hidden = _secret_files(capture)
    return {
        "app": app,
        "base": sha,
        "captured": [
            {
                "object": str(c.ref),
                "field": c.pointer,
                "value": shown_value(c.ref, c.live),
                "file": c.file,
                "how": c.how,
            }
            for c in capture.captured
        ],
        "unmapped": [
            {
                "object": str(u.ref),
                "field": u.pointer,
                "reason": u.reason,
                "patch": None if is_secret(u.ref) else u.patch,
            }
            for u in capture.unmapped
        ],
        "edits": [
            {"path": e.path, "created": e.created, "diff": None if e.path in hidden else e.diff}
            for e in capture.edits
        ],
        "commit": commit,
    }


def _print(
    app: str, capture: CapturePlan, commit: dict[str, str] | None, *, nothing: bool, write: bool
) -> None:
    if nothing:
        out.print(f"{app}: no drift to capture (live matches Git, apart from runtime fields)")
        return
    hidden = _secret_files(capture)
    for edit in capture.edits:
        if edit.path in hidden:
            out.print(f"--- {escape(edit.path)}: diff not shown, the file holds a Secret")
        else:
            out.print(escape(edit.diff), end="")
    if capture.captured:
        out.print(f"[bold]captured[/] ({len(capture.captured)}):")
        for c in capture.captured:
            out.print(f"  {escape(c.describe())}")
    if capture.unmapped:
        out.print(f"[bold yellow]not captured[/] ({len(capture.unmapped)}):")
        for u in capture.unmapped:
            out.print(f"  {escape(u.describe())}")
            if u.patch and not is_secret(u.ref):
                out.print("    a strategic-merge patch that would express it:")
                for line in u.patch.splitlines():
                    out.print(f"      {escape(line)}")
    if commit is not None:
        out.print(
            f"[bold green]committed[/] {commit['sha'][:12]} on new branch {escape(commit['branch'])} in "
            f"{escape(commit['repo'])} (parent {commit['base'][:12]}); review and merge it, then sync"
        )
    elif write:
        err.print("nothing committed: no field could be captured")
    elif capture.edits:
        out.print("[dim]nothing written; run with --write to commit this on a new branch[/]")
