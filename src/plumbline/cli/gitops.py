"""``plumb apps | diff | sync | status | history``: the GitOps loop for people and for scripts.

Exit codes (DESIGN.md): 0 ok / no changes, 1 changes found or the sync refused, 2 errors, 3 a bug (4: a
``sync --wait`` whose app did not become Healthy; 5: Healthy, but its verification window did not pass).
``-o json`` gives machines the same facts the tables give people.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.markup import escape

from plumbline import engine
from plumbline.errors import ConfigError, PlumbError

if TYPE_CHECKING:  # the rest is imported where it is used: `plumb --help` loads none of it
    from plumbline.config import App, Config, HealthStatus, VerificationOutcome
    from plumbline.health import Health
    from plumbline.plan import Action, Plan, SyncStatus, Unscanned
    from plumbline.plan.attribution import Attribution, FieldChange
    from plumbline.plan.drift import DriftReport
    from plumbline.signatures import Checked
    from plumbline.store import Store, StoreChoice, SyncRecord
    from plumbline.sync import SyncReport
    from plumbline.verify import Measurement, Phase, Verification


out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class Output(StrEnum):
    TABLE = "table"
    JSON = "json"


WAIT_TIMEOUT = "5m"
EXIT_UNHEALTHY = 4  # synced, but not Healthy; 3 is an internal error (cli/app.py)
"""``plumb sync --wait``: synced, but the app did not become Healthy (an object Degraded, or the timeout)."""
EXIT_UNVERIFIED = 5
"""``plumb sync --wait``: synced and Healthy, but its verification window Failed or was Inconclusive."""


@cache
def health_colour() -> dict[HealthStatus, str]:
    from plumbline.config import HealthStatus

    return {
        HealthStatus.HEALTHY: "green",
        HealthStatus.SUSPENDED: "cyan",
        HealthStatus.PROGRESSING: "yellow",
        HealthStatus.MISSING: "yellow",
        HealthStatus.DEGRADED: "red",
        HealthStatus.UNKNOWN: "red",
    }


OUTPUT = typer.Option(Output.TABLE, "--output", "-o", help="table for people, json for machines")
REVISION = typer.Option(
    None, "--revision", "-r", help="Branch, tag or commit (default: the app's targetRevision)"
)
ALLOW = typer.Option(
    [],
    "--allow",
    help="Let one blocking guard finding through: GUARD:KIND/NAME as the finding prints it. "
    "Needs --reason, recorded with it (in history for a sync; in the report for plumb check).",
)
REASON = typer.Option(None, "--reason", help="Why the --allow is right (recorded).")
RECHECK = typer.Option(
    False,
    "--recheck",
    help="Dry-run every object on the server, even those the last sync proved unchanged (docs/unchanged.md).",
)
WHY = typer.Option("", "--reason", help="Why (shown in the audit trail).")
DRY_RUN = typer.Option(False, "--dry-run", help="Plan and show what would be written; write nothing.")
PRUNE = typer.Option(
    False, "--prune", help="Also delete objects this app created that the revision applied does not have."
)


class Settings:
    """Root options (``plumb --config ... --kubeconfig ... --context ...``), shared by every command."""

    def __init__(
        self, config: str | None, kubeconfig: str | None, context: str | None, store: str | None = None
    ) -> None:
        self.config_path = config
        self.kubeconfig = kubeconfig
        self.context = context
        self.store_override = store
        self._config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = engine.read_config(
                self.config_path, kubeconfig=self.kubeconfig, context=self.context
            )
        return self._config

    def app(self, name: str) -> App:
        return self.config.app(name)

    @property
    def store(self) -> StoreChoice:
        """The store this run uses: ``--store``, else ``$PLUMBLINE_STORE_BACKEND``, else the
        configuration's ``Instance.spec.store`` (none found: the SQLite default)."""
        from plumbline.config import StoreBackend, cluster_namespace, find_config
        from plumbline.store import StoreChoice

        try:
            found = cluster_namespace(self.config_path) is not None or bool(find_config(self.config_path))
        except ConfigError:
            if self.config_path is not None:
                raise
            found = False  # no configuration here: commands that need none (audit) use the default
        spec = self.config.store if found else None
        choice = StoreChoice.of(spec, override=self.store_override, context=self.context)
        if choice.backend is StoreBackend.KUBERNETES:
            choice = replace(choice, kubeconfig=engine.resolve_kubeconfig(self.kubeconfig))
        return choice

    def open_store(self) -> Store:
        from plumbline.store import open_store

        return open_store(self.store)

    def plan(self, app: App, revision: str | None, *, recheck: bool = False) -> tuple[Plan, engine.Rendered]:
        """``app``'s plan as configured (``plumb diff``, ``plumb capture``), against this run's
        cluster and store, progress on standard error; ``recheck``: see :data:`RECHECK`."""
        return engine.plan(
            app,
            self.config,
            kubeconfig=self.kubeconfig,
            context=self.context,
            revision=revision,
            progress=progress,
            store=self.store,
            recheck=recheck,
        )


def settings(ctx: typer.Context) -> Settings:
    obj = ctx.find_root().obj
    assert isinstance(obj, Settings)
    return obj


def progress(message: str) -> None:
    err.print(f"[dim]… {escape(message)}[/]")


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


@cache
def status_colour() -> dict[SyncStatus, str]:
    from plumbline.plan import SyncStatus

    return {SyncStatus.SYNCED: "green", SyncStatus.OUT_OF_SYNC: "yellow"}


@cache
def action_colour() -> dict[Action, str]:
    from plumbline.plan import Action

    return {
        Action.CREATE: "32",  # green
        Action.UPDATE: "33",  # yellow
        Action.PRUNE: "31",  # red
        Action.UNCHANGED: "2",  # dim
    }


DIFF_COLOUR = {"+": "32", "-": "31", "@": "36"}


@cache
def attribution_colour() -> dict[Attribution, str]:
    from plumbline.plan.attribution import Attribution

    return {
        Attribution.COMMIT: "32",
        Attribution.DRIFT_REVERT: "1;31",
        Attribution.CONFLICT: "1;31",
        Attribution.CREATE: "32",
        Attribution.PRUNE: "31",
        Attribution.RUNTIME: "2",
        Attribution.UNMANAGED_ADDITION: "1;33",
    }


def change_line(change: FieldChange, paint: Any = None) -> str:
    """``  drift-revert  /data/DB_HOST  "B" → "A"  (kubectl-edit, Update, 183 days ago)``"""
    from plumbline.plan.age import age_in_words
    from plumbline.plan.attribution import Attribution
    from plumbline.sync.run import show

    paint = paint or (lambda text, _code: text)
    label = paint(f"{change.attribution.value:<18}", attribution_colour()[change.attribution])
    if change.attribution is Attribution.UNMANAGED_ADDITION:
        values = f"{show(change.live)} (not in Git; kept unless --revert-drift)"
    else:
        values = f"{show(change.live)} → {show(change.git)}"
    if len(values) > 200:
        values = values[:197] + "..."
    who = ""
    if change.editor is not None and change.attribution is not Attribution.COMMIT:
        e = change.editor
        who = f"  ({e.manager}, {e.operation}, {age_in_words(e.time)})"
    rule = f"  [{change.rule}]" if change.rule else ""
    return f"  {label}{change.pointer}  {values}{who}{rule}"


class Painter:
    """ANSI colour when stdout is a terminal (and NO_COLOR is unset), plain text otherwise.

    Plans can run to tens of thousands of lines; formatting them by hand and writing once is ~50x
    cheaper than a rich markup call per line.
    """

    def __init__(self) -> None:
        import os

        self.on = sys.stdout.isatty() and not os.environ.get("NO_COLOR")

    def __call__(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.on and code else text


def plan_lines(plan: Plan, *, show_unchanged: bool = False, show_diff: bool = True) -> list[str]:
    from plumbline.plan import Action
    from plumbline.plan.attribution import NEEDS_CONSENT, Attribution

    paint = Painter()
    lines: list[str] = []
    for item in sorted(plan.items, key=lambda i: (i.action is Action.UNCHANGED, str(i.ref))):
        noted = any(c.attribution is not Attribution.RUNTIME for c in item.changes)
        if item.action is Action.UNCHANGED and not show_unchanged and not noted:
            continue
        source = paint(f"  ({item.source})", "2") if item.source else ""
        # A kept prune candidate is shown as such: no sync deletes it (the note says why).
        label = (
            paint("kept     ", "1;33")
            if item.kept
            else paint(f"{item.action.value:<9}", "1;" + action_colour()[item.action])
        )
        lines.append(f"{label} {item.ref}{source}")
        if item.note:
            lines.append(paint(f"          {item.note}", "2"))
        if item.error:
            lines.append(f"          {paint('the server refused the dry run:', '1;31')} {item.error}")
        if item.conflict:
            live_edit = any(c.attribution in NEEDS_CONSENT for c in item.changes)
            hint = (
                "(a live edit owns these fields: sync refuses unless --revert-drift)"
                if live_edit
                else "(sync refuses unless --force-conflicts)"
            )
            lines.append(f"          {paint('conflict:', '1;31')} {item.conflict} " + paint(hint, "2"))
        for change in item.changes:
            if change.attribution not in (Attribution.CREATE, Attribution.PRUNE):
                lines.append(change_line(change, paint))
        if show_diff and item.action is not Action.PRUNE and item.diff:
            for line in item.diff.rstrip("\n").splitlines():
                code = "1" if line.startswith(("---", "+++")) else DIFF_COLOUR.get(line[:1], "")
                lines.append(paint(line, code))
    counts = plan.counts
    lines.append(
        f"{paint(plan.app, '1')} at {plan.sha[:12]} ({plan.revision}): "
        f"{paint(str(counts['create']) + ' to create', '32')}, "
        f"{paint(str(counts['update']) + ' to update', '33')}, "
        f"{counts['unchanged']} unchanged, {paint(str(counts['prune']) + ' prune candidate(s)', '31')}"
        + (f", {counts['kept']} kept (not this app's to delete)" if counts["kept"] else "")
    )
    lines += unscanned_lines(plan.unscanned, paint)
    return lines


UNSCANNED_TITLE = {
    "prune": "prune scan incomplete:",
    "hpa": "HorizontalPodAutoscaler scan incomplete:",
    "unowned": "scan for objects no app owns incomplete:",
}


def unscanned_lines(unscanned: list[Unscanned], paint: Painter) -> list[str]:
    """One line per scan that was not allowed to list some kinds: where, and what that leaves unknown."""
    lines = []
    for scan in UNSCANNED_TITLE:
        gaps = [u for u in unscanned if u.scan == scan]
        if not gaps:
            continue
        where = ", ".join(
            f"{u.kind}{'.' + u.group if u.group else ''} in {u.namespace or '(cluster-wide)'}"
            for u in gaps[:8]
        )
        more = f" and {len(gaps) - 8} more" if len(gaps) > 8 else ""
        lines.append(
            paint(UNSCANNED_TITLE[scan], "1;33")
            + f" not allowed to list {where}{more}; {gaps[0].means} (grant list, or check by hand)"
        )
    return lines


def print_plan(plan: Plan, *, show_unchanged: bool = False, show_diff: bool = True) -> None:
    sys.stdout.write("\n".join(plan_lines(plan, show_unchanged=show_unchanged, show_diff=show_diff)) + "\n")
    sys.stdout.flush()


def register(app: typer.Typer) -> None:
    """Add the GitOps commands to the root ``plumb`` app."""

    @app.command("apps")
    def apps_cmd(ctx: typer.Context, output: Output = OUTPUT) -> None:
        """List the configured apps: project, environment, source, destination, mode."""
        from rich.table import Table

        config = settings(ctx).config
        rows = [
            {
                "name": a.name,
                "project": a.spec.project,
                "environment": a.spec.environment,
                "source": f"{a.spec.source.repo_url}@{a.spec.source.target_revision}:{a.spec.source.path}",
                "tool": a.spec.source.tool.value,
                "destination": a.spec.destination.namespace
                + (f" ({a.spec.destination.context})" if a.spec.destination.context else ""),
                "mode": a.spec.mode.value,
            }
            for a in config.apps.values()
        ]
        if output is Output.JSON:
            emit_json(rows)
            return
        table = Table("APP", "PROJECT", "ENVIRONMENT", "SOURCE", "DESTINATION", "MODE", box=None)
        for row in rows:
            table.add_row(
                row["name"],
                row["project"],
                row["environment"],
                escape(row["source"]),
                row["destination"],
                row["mode"],
            )
        out.print(table)

    @app.command("diff")
    def diff_cmd(
        ctx: typer.Context,
        name: str,
        revision: str | None = REVISION,
        recheck: bool = RECHECK,
        output: Output = OUTPUT,
    ) -> None:
        """Show what a sync would change, object by object. Exit 0: no changes, 1: changes, 2: error."""
        from plumbline.plan.report import plan_to_dict

        s = settings(ctx)
        target = s.app(name)
        plan, rendered = s.plan(target, revision, recheck=recheck)
        health = engine.planned_health(target, plan, s.config)
        signatures = engine.signatures_of(target, s.config, rendered.checkout)
        if output is Output.JSON:
            live = {"status": health.status.value, "message": health.message}
            signed = [checked.to_dict() for checked in signatures]
            emit_json({**plan_to_dict(plan), "health": live, "signatures": signed})
        else:
            print_plan(plan)
            _print_live_health(target.name, health)
            _print_signatures(signatures)
        if plan.errors:
            raise typer.Exit(2)
        raise typer.Exit(1 if plan.has_changes else 0)

    @app.command("sync")
    def sync_cmd(
        ctx: typer.Context,
        name: str,
        revision: str | None = REVISION,
        dry_run: bool = DRY_RUN,
        prune: bool = PRUNE,
        force_conflicts: bool = typer.Option(
            False, "--force-conflicts", help="Take ownership of fields other field managers own."
        ),
        revert_drift: bool = typer.Option(
            False,
            "--revert-drift",
            help="Undo live edits the plan shows (drift-revert, conflict) and remove unmanaged additions.",
        ),
        allow: list[str] = ALLOW,
        reason: str | None = REASON,
        wait: bool = typer.Option(
            False, "--wait", help="After the sync, wait until the app's objects are Healthy (or Suspended)."
        ),
        timeout: str = typer.Option(
            WAIT_TIMEOUT, "--timeout", help="How long --wait waits: 90s, 5m, 1h.", show_default=True
        ),
        verify: bool = typer.Option(
            True,
            "--verify/--no-verify",
            help="With --wait, once Healthy, run the app's verification window (spec.verification), if any.",
        ),
        recheck: bool = RECHECK,
        output: Output = OUTPUT,
    ) -> None:
        """Apply the app's revision: dry-run everything, run every guard, then server-side apply in waves.

        Exit 0: synced (or nothing to do) — and with --wait, Healthy and verified; 1: refused or blocked
        by a guard (nothing written), 2: failed part-way; 4 (with --wait): synced, but an object is
        Degraded or not Healthy when the timeout passes; 5 (with --wait): Healthy, but the
        verification window Failed or was Inconclusive. While a controller manages the app (its App
        object in the cluster), the sync is requested on the App and carried out by the controller,
        as you (without --dry-run and --wait, which run here).
        """
        from plumbline.config import OperationAction
        from plumbline.plan.report import plan_to_dict
        from plumbline.store import SyncResult

        timeout_s = _wait_timeout(timeout, wait=wait, dry_run=dry_run)
        s = settings(ctx)
        target = s.app(name)
        if not dry_run and not wait:
            from plumbline.cli.operate import hand_over  # (it builds on this module)

            args: dict[str, Any] = {"revision": revision, "prune": prune, "forceConflicts": force_conflicts}
            args |= {"revertDrift": revert_drift, "allow": allow, "reason": reason, "recheck": recheck}
            hand_over(s, target, OperationAction.SYNC, args, output=output)  # exits if it was handed over
        # The write path refuses a paused app and takes the app's Lease itself, only to write.
        with engine.session(target, kubeconfig=s.kubeconfig, context=s.context, store=s.store) as session:
            plan, report, record = engine.sync_app(
                target,
                cluster=session.cluster,
                store=session.store,
                revision=revision,
                prune=prune,
                force_conflicts=force_conflicts,
                revert_drift=revert_drift,
                dry_run=dry_run,
                config=s.config,
                allow=allow,
                reason=reason,
                progress=progress,
                cause="plumb sync",
                recheck=recheck,
            )
            if output is not Output.JSON:
                _print_sync(plan, report, record, dry_run=dry_run)
            waited: engine.WaitResult | None = None
            if wait and record.result is SyncResult.SUCCEEDED:
                if output is not Output.JSON:
                    out.print(f"waiting up to {escape(timeout)} for {escape(target.name)} to be Healthy")
                waited = engine.wait_healthy(
                    target,
                    plan,
                    cluster=session.cluster,
                    config=s.config,
                    timeout_s=timeout_s,
                    on_change=None if output is Output.JSON else _print_health_change,
                    store=session.store,
                    record=record,
                )
            verified: Verification | None = None
            if waited is not None and waited.healthy and verify:
                verified = _verify(target, plan, session, s.config, record, output=output)
        if output is Output.JSON:
            data = {
                "record": engine.record_to_dict(record),
                "plan": plan_to_dict(plan),
                "report": _report_dict(report),
            }
            if wait:
                data["health"] = waited.to_dict() if waited else None
                data["verification"] = verified.to_dict() if verified else None
            emit_json(data)
        elif waited is not None:
            _print_waited(target.name, waited)
            if verified is not None:
                _print_verified(target.name, verified)
        if record.result is SyncResult.BLOCKED:
            raise typer.Exit(1)
        if record.result is SyncResult.FAILED:
            raise typer.Exit(2)
        if waited is not None and not waited.healthy:
            raise typer.Exit(EXIT_UNHEALTHY)
        if verified is not None and not verified.passed:
            raise typer.Exit(EXIT_UNVERIFIED)

    @app.command("drift")
    def drift_cmd(
        ctx: typer.Context, name: str, revision: str | None = REVISION, output: Output = OUTPUT
    ) -> None:
        """Can the app's namespace be rebuilt from Git? Drifted fields (with who and when), unmanaged
        additions, tracked objects missing, objects no app owns, kinds it may not list. Exit 0: rebuildable,
        1: not (or not known: some kind could not be listed), 2: error."""
        from plumbline.plan.drift import drift_to_dict

        s = settings(ctx)
        target = s.app(name)
        with engine.session(target, kubeconfig=s.kubeconfig, context=s.context, store=s.store) as session:
            report = engine.drift_app(
                target, cluster=session.cluster, store=session.store, revision=revision, config=s.config
            )
        if output is Output.JSON:
            emit_json(drift_to_dict(report))
        else:
            _print_drift(report)
        raise typer.Exit(0 if report.rebuildable else 1)

    @app.command("status")
    def status_cmd(
        ctx: typer.Context, name: str | None = typer.Argument(None), output: Output = OUTPUT
    ) -> None:
        """Synced / OutOfSync for each app (or one), with its health and the last sync. Exit 1 if any is
        OutOfSync (health is shown, not yet gated on), 2 if any could not be checked (the error is
        shown below the table)."""
        from rich.table import Table

        s = settings(ctx)
        targets = [s.app(name)] if name else list(s.config.apps.values())
        with s.open_store() as store:
            rows = [
                engine.app_status(t, config=s.config, store=store, kubeconfig=s.kubeconfig, context=s.context)
                for t in targets
            ]
        if output is Output.JSON:
            emit_json([row.to_dict() for row in rows])
        else:
            table = Table(
                "APP",
                "STATUS",
                "HEALTH",
                "VERIFIED",
                "MODE",
                "STATE",
                "SYNCED REVISION",
                "LAST SYNC",
                "CHANGES",
                "EXCEPTIONS",
                box=None,
            )
            for row in rows:
                colour = status_colour().get(row.status, "red")
                counts = row.counts
                changes = (
                    f"{counts['create']} create, {counts['update']} update, {counts['prune']} prune"
                    if counts
                    else "[red]error (below)[/]"
                )
                last_sync = f"{row.last_result.value} {_ago(row.last_at)}" if row.last_result else "never"
                if row.unfinished:
                    last_sync = row.unfinished[-1].state.value
                table.add_row(
                    row.app,
                    f"[{colour}]{row.status.value}[/]",
                    row.health.value if row.health else "-",
                    _verified_cell(row.verification),
                    row.mode.value,
                    _state_cell(row),
                    (row.last_synced_sha or "-")[:12],
                    last_sync,
                    changes,
                    _exceptions_cell(row.exceptions),
                )
            out.print(table)
            if rows:
                out.print(f"[dim]store: {rows[0].store_backend.value} ({escape(rows[0].store_where)})[/]")
            for row in rows:
                for e in row.exceptions:
                    colour = "red" if e["state"] == "expired" else "dim"
                    target = e["target"]["kind"] + "/" + e["target"]["name"]
                    out.print(
                        f"[{colour}]{row.app}: {e['state']} exception {escape(e['name'])}[/] "
                        f"({escape(e['guard'])} {escape(target)}, owner {escape(e['owner'])}, "
                        f"expires {e['expires'][:10]}): {escape(e['reason'])}"
                    )
                if held := row.held_line():
                    out.print(f"[yellow]{escape(held)}[/]")
                if row.pause is not None:
                    out.print(
                        f"[yellow]{row.app}: {row.state.value}[/] by {escape(row.pause.actor)}: "
                        f"{escape(row.pause.reason)}"
                    )
                for found in row.unfinished:
                    interrupted = found.running is False
                    colour = "bold red" if interrupted else "yellow"
                    hint = f"; `plumb sync {row.app}` finishes it" if interrupted else ""
                    out.print(f"[{colour}]{row.app}[/]: {escape(found.describe())}{escape(hint)}")
                if row.error:  # in full, not squeezed into a column
                    err.print(f"[bold red]error:[/] {row.app}: {escape(row.error)}")
        if any(row.error for row in rows):
            raise typer.Exit(2)  # an error is not "out of sync" (1): CI must not read one as the other
        if not all(row.settled for row in rows):
            raise typer.Exit(1)

    @app.command("history")
    def history_cmd(
        ctx: typer.Context,
        name: str,
        limit: int = typer.Option(20, help="How many records, newest first."),
        output: Output = OUTPUT,
    ) -> None:
        """Every recorded sync of an app: revision, result, actor, time."""
        from rich.table import Table

        s = settings(ctx)
        s.app(name)  # an unknown app is an error, with the closest name
        with s.open_store() as store:
            records = engine.history(store, name, limit=limit, desired=output is Output.JSON)
        if output is Output.JSON:
            emit_json([engine.record_to_dict(r, desired=True) for r in records])
            return
        if not records:
            out.print(f"no syncs recorded for {name} yet")
            return
        table = Table("#", "WHEN", "REVISION", "SHA", "RESULT", "ACTOR", "SUMMARY", box=None)
        for r in records:
            table.add_row(
                str(r.id),
                r.started_at.strftime("%Y-%m-%d %H:%M:%S"),
                escape(r.revision),
                r.sha[:12],
                r.result.value,
                escape(r.actor),
                escape(r.message),
            )
        out.print(table)


def _state_cell(row: engine.AppStatus) -> str:
    """``paused until 14:05 UTC (1h 59m left)``; the reason and who follow below the table."""
    from plumbline.store import AppStateKind, now

    pause = row.pause
    if row.state is AppStateKind.PAUSED and pause is not None and pause.until is not None:
        left = max(0, int((pause.until - now()).total_seconds()) // 60)
        return f"[bold]paused[/] until {pause.until:%H:%M} UTC ({left // 60}h {left % 60}m left)"
    return row.state.value


def _exceptions_cell(exceptions: list[dict[str, Any]]) -> str:
    expired = sum(1 for e in exceptions if e["state"] == "expired")
    if not exceptions:
        return "-"
    return f"{len(exceptions)}" + (f" [red]({expired} expired)[/]" if expired else "")


def _ago(moment: datetime | None) -> str:
    from plumbline.plan.age import age_in_words

    return age_in_words(moment) if moment else ""


def _print_drift(report: DriftReport) -> None:
    from plumbline.plan.attribution import Attribution

    paint = Painter()
    lines = [f"{paint(report.app, '1')} in namespace {report.namespace}, Git at {report.sha[:12]}"]
    sections: list[tuple[str, list[str]]] = [
        ("drifted fields (live differs from Git; a sync would revert them)", []),
        ("unmanaged additions (live has them, Git never had them)", []),
    ]
    for change in report.drifted:
        index = 1 if change.attribution is Attribution.UNMANAGED_ADDITION else 0
        sections[index][1].append(f"{change.ref}\n  {change_line(change, paint).lstrip()}")
    sections.append(
        ("tracked objects missing from the cluster (Git can rebuild them)", [str(r) for r in report.missing])
    )
    sections.append(
        ("objects in the namespace no app owns (Git cannot rebuild them)", [str(r) for r in report.unowned])
    )
    sections.append(("commits not synced yet (not drift)", [f"{c.ref} {c.pointer}" for c in report.pending]))
    for title, entries in sections:
        lines.append(f"{title}: {len(entries) or 'none'}")
        lines += [f"  {entry}" for entry in entries]
    lines += unscanned_lines(report.unscanned, paint)
    if report.rebuildable:
        verdict = paint("yes", "1;32")
    elif report.drifted or report.unowned:
        verdict = paint("no", "1;31")
    else:
        verdict = paint("not known", "1;33") + " (some kinds could not be read, above)"
    lines.append(f"rebuildable from Git: {verdict}")
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()


def _print_findings(record: SyncRecord) -> None:
    """Guard findings and overrides, as recorded: guard, severity, object, field, why, how to fix."""
    from plumbline.config import Severity

    overridden = {(o["guard"], o["subject"]) for o in record.flags.get("overrides") or []}
    for finding in record.flags.get("findings") or []:
        let_through = (finding["guard"], finding["subject"]) in overridden
        label = "overridden" if let_through else finding["severity"]
        colour = "yellow" if let_through or finding["severity"] == Severity.WARN else "bold red"
        where = finding["subject"] + (f" {finding['field']}" if finding.get("field") else "")
        what = f"{escape(finding['guard'])}: {escape(where)}: {escape(finding['message'])}"
        out.print(f"[{colour}]{label:<9}[/] {what}")
        if not let_through and finding.get("fix"):
            out.print(f"          [dim]fix: {escape(finding['fix'])}[/]")
    for o in record.flags.get("overrides") or []:
        via = o["via"]
        if o.get("exception"):
            via = f"exception {o['exception']} (owner {o['owner']}, expires {o['expires'][:10]})"
        who = f"{escape(o['guard'])} {escape(o['subject'])} via {escape(via)}"
        out.print(f"[yellow]override[/]  {who}: {escape(o['reason'])}")
    for e in record.flags.get("exceptions") or []:
        if e["state"] == "expired":
            out.print(
                f"[bold red]expired[/]   exception {escape(e['name'])} (owner {escape(e['owner'])}) "
                f"expired {e['expires'][:10]}: it lets nothing through; renew it in Git or remove it"
            )


def _print_sync(plan: Plan, report: SyncReport | None, record: SyncRecord, *, dry_run: bool) -> None:
    from plumbline.store import SyncResult

    print_plan(plan, show_diff=dry_run)
    for done in record.flags.get("finishes") or []:
        out.print(
            f"[yellow]interrupted[/] the sync of {escape(done['revision'])} at {done['sha'][:12]} "
            f"started by {escape(done['actor'])} at {done['startedAt']} stopped mid-apply "
            f"(history #{done['sync']}); this sync finishes it"
        )
    if report is not None:
        _print_report(report)
    _print_findings(record)
    style = {SyncResult.SUCCEEDED: "green", SyncResult.DRY_RUN: "cyan"}.get(record.result, "red")
    out.print(f"[bold {style}]{record.result.value}[/]: {escape(record.message)} (history #{record.id})")


def _wait_timeout(text: str, *, wait: bool, dry_run: bool) -> float:
    """``--timeout`` in seconds, checked before anything is planned or written: a usage error (exit 2)."""
    from plumbline.engine.pause import parse_duration

    if wait and dry_run:
        raise typer.BadParameter("a dry run writes nothing to wait for", param_hint="--wait")
    try:
        return parse_duration(text).total_seconds()
    except PlumbError as error:
        raise typer.BadParameter(str(error), param_hint="--timeout") from None


def _print_signatures(signatures: list[Checked]) -> None:
    """One line per commit a signature requirement checks: who signed it, or why a sync would block."""
    for checked in signatures:
        if checked.error is not None:
            out.print(f"[red]signatures ({escape(checked.required_by)}): {escape(checked.error)}[/]")
        for verdict in checked.verdicts:
            colour = "green" if verdict.good else "red"
            blocks = "" if verdict.good else " — a sync is blocked (environment guard)"
            text = f"signatures ({checked.required_by}): {verdict.sha[:12]} {verdict.describe()}{blocks}"
            out.print(f"[{colour}]{escape(text)}[/]")


def _print_live_health(app: str, health: Health) -> None:
    """``shop is Progressing now (Deployment/web: ...)``: the live app's health as the plan read it."""
    colour = health_colour().get(health.status, "")
    why = f" ({escape(health.message)})" if health.message else ""
    out.print(f"{escape(app)} is [{colour}]{health.status}[/] now{why}")


def _print_health_change(change: engine.ObjectHealth) -> None:
    colour = health_colour().get(change.health.status, "") if change.health else "dim"
    out.print(f"[{colour}]{escape(change.line())}[/]" if colour else escape(change.line()))


def _print_waited(app: str, waited: engine.WaitResult) -> None:
    health = waited.health
    if waited.healthy:
        out.print(f"[bold green]{app}: {health.status}[/] after {waited.elapsed_s:.0f}s")
        return
    why = "timed out" if waited.timed_out else "stopped waiting"
    out.print(f"[bold red]{app}: {health.status}[/] ({why} after {waited.elapsed_s:.0f}s); not Healthy:")
    for entry in waited.not_done:
        out.print(f"  {escape(entry.line())}")


def _verify(
    target: App, plan: Plan, session: engine.Session, config: Config, record: SyncRecord, *, output: Output
) -> Verification | None:
    """The app's verification window after a Healthy wait, announced and with a line per round."""
    from plumbline.verify import HEALTH

    spec = config.verification(target)
    if spec is None or not spec.enabled:
        return None
    if output is not Output.JSON:
        checks = ", ".join([HEALTH, *(c.name for c in spec.checks)])
        every = f"for {spec.window} (every {spec.interval})"
        out.print(f"verifying {escape(target.name)} {every}: {escape(checks)}")
    return engine.verify_app(
        target,
        plan,
        cluster=session.cluster,
        config=config,
        store=session.store,
        record=record,
        on_progress=None if output is Output.JSON else _print_round,
    )


def _verified_cell(outcome: VerificationOutcome | None) -> str:
    """How the synced commit's verification window ended, coloured; ``-``: never verified."""
    return f"[{verdict_colour()[outcome]}]{outcome.value}[/]" if outcome else "-"


@cache
def phase_colour() -> dict[Phase, str]:
    from plumbline.verify import Phase

    return {Phase.SUCCESSFUL: "green", Phase.FAILED: "red", Phase.ERROR: "yellow"}


@cache
def verdict_colour() -> dict[VerificationOutcome, str]:
    from plumbline.config import VerificationOutcome

    return {
        VerificationOutcome.PASSED: "green",
        VerificationOutcome.FAILED: "red",
        VerificationOutcome.INCONCLUSIVE: "yellow",
    }


def _print_round(taken: Sequence[Measurement]) -> None:
    """``12s: health Healthy · error-ratio 0.01, fails when > 0.05``, each part in its phase's colour."""
    at = taken[0].at if taken else 0.0
    parts = [f"[{phase_colour()[m.phase]}]{escape(m.check)} {escape(m.message)}[/]" for m in taken]
    out.print(f"{at:.0f}s: " + " · ".join(parts))


def _print_verified(app: str, verified: Verification) -> None:
    colour = verdict_colour()[verified.outcome]
    line = f"[bold {colour}]{app}: verification {verified.outcome}[/] after {verified.elapsed_s:.0f}s"
    out.print(f"{line}: {escape(verified.reason)}")
    if not verified.passed:
        out.print(f"  configured response (onFailure): {verified.on_failure}")


def _print_report(report: SyncReport) -> None:
    from plumbline.sync import Outcome

    for entry in report.objects:
        if entry.outcome is Outcome.FAILED:
            out.print(f"[bold red]failed[/]    {escape(str(entry.item.ref))}: {escape(entry.message)}")
        elif entry.outcome is Outcome.NOT_REACHED:
            out.print(f"[dim]not reached {escape(str(entry.item.ref))} (wave {entry.wave})[/]")
        elif entry.outcome is Outcome.KEPT:
            out.print(f"[yellow]kept[/]      {escape(str(entry.item.ref))}: {escape(entry.message)}")
    for line in report.refused:
        out.print(f"[bold red]refused[/]   {escape(line)}")


def _report_dict(report: SyncReport | None) -> dict[str, Any] | None:
    if report is None:
        return None
    return {
        "ok": report.ok,
        "refused": report.refused,
        "durationSeconds": round(report.duration_s, 3),
        "objects": [
            {"object": str(o.item.ref), "outcome": o.outcome.value, "wave": o.wave, "message": o.message}
            for o in report.objects
        ],
    }
