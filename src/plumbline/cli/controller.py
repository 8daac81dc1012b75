"""``plumb controller | pause | resume | mode | readiness | audit``: continuous reconciliation and the
controls people use around it. Registered on the root app with :func:`register`.

Exit codes (DESIGN.md): 0 ok, 1 refused / not safe / chain broken / still pending, 2+ errors.
"""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape

from plumbline import engine
from plumbline.cli.gitops import OUTPUT, WHY, Output, emit_json, err, out, settings
from plumbline.cli.operate import hand_over
from plumbline.words import KUBE_API_BURST, KUBE_API_QPS, LEASE_DURATION_S, LEASE_NAMESPACE, WORKERS, Mode

if TYPE_CHECKING:  # the rest is imported where it is used: `plumb --help` loads none of it
    from plumbline.controller import Outcome
    from plumbline.store import AuditRecord, Broken, Store


MODE_ARGUMENT = typer.Argument(None, help="The new mode; omit to show the current one.")
NOTIFY = typer.Option([], "--notify", help="Generic webhook URL for notifications (JSON); repeatable.")
NOTIFY_SLACK = typer.Option([], "--notify-slack", help="Slack-compatible incoming webhook URL; repeatable.")
COMMANDS = ("controller", "pause", "resume", "mode", "readiness", "audit")


def registered(app: typer.Typer) -> bool:
    return any(c.name == "controller" for c in app.registered_commands)


def register(app: typer.Typer) -> None:
    """Add the controller commands to the root ``plumb`` app (once; a second call does nothing)."""
    if registered(app):
        return

    @app.command("controller")
    def controller_cmd(
        ctx: typer.Context,
        once: bool = typer.Option(False, "--once", help="One pass over every app, then exit (tests, cron)."),
        interval: float = typer.Option(30.0, "--interval", help="Seconds between Git polls of each app."),
        workers: int = typer.Option(
            WORKERS, "--workers", min=1, help="Apps reconciled at once (the worker pool)."
        ),
        kube_api_qps: float = typer.Option(
            KUBE_API_QPS,
            "--kube-api-qps",
            help="Requests a second to each API server, on average (0: no limit).",
        ),
        kube_api_burst: int = typer.Option(
            KUBE_API_BURST,
            "--kube-api-burst",
            min=1,
            help="Requests at once to each API server after a lull.",
        ),
        identity: str | None = typer.Option(
            None, "--identity", help="This replica's lease holder name (default: host-pid-random)."
        ),
        lease_namespace: str = typer.Option(LEASE_NAMESPACE, "--lease-namespace"),
        lease_duration: int = typer.Option(LEASE_DURATION_S, "--lease-duration", help="Seconds."),
        watch: bool = typer.Option(True, "--watch/--no-watch", help="Watch managed objects for live edits."),
        listen: str | None = typer.Option(
            None,
            "--listen",
            help="HOST:PORT for the dashboard, /metrics, /healthz, /readyz and /webhook (127.0.0.1:8080).",
        ),
        json_logs: bool = typer.Option(False, "--json-logs", help="One JSON object per log line."),
        fight_limit: int = typer.Option(3, "--fight-limit", help="Heals of the same drift before stopping."),
        fight_window: float = typer.Option(600.0, "--fight-window", help="Seconds the fight limit counts."),
        health_timeout: str = typer.Option(
            "5m", "--health-timeout", help="After a new commit's sync, how long to wait for Healthy: 90s, 5m."
        ),
        recheck_every: str = typer.Option(
            "10m",
            "--recheck-every",
            help="How often at least each app's plan dry-runs every object, none proved unchanged "
            "(docs/unchanged.md): 10m, 1h; 0s: every pass.",
        ),
        notify: list[str] = NOTIFY,
        notify_slack: list[str] = NOTIFY_SLACK,
        output: Output = OUTPUT,
    ) -> None:
        """Reconcile every configured app per its mode, continuously (or once with --once: exit 0
        all fine, 1 an app blocked or fighting another writer, 2 an app errored or failed).

        observe: plan and report. sync: apply new commits, leave drift. self-heal: also revert drift,
        with backoff, stopping when it fights another writer. prune: syncs also delete what left Git.
        """
        from plumbline.cluster import Cluster
        from plumbline.config import cluster_namespace
        from plumbline.controller import Controller, Notifier, Settings, log, serve, setup_logging
        from plumbline.engine.lease import default_identity
        from plumbline.engine.pause import parse_duration
        from plumbline.web import parse_listen

        s = settings(ctx)
        setup_logging(json_logs=json_logs)
        namespace = cluster_namespace(s.config_path)
        options = Settings(
            identity=identity or default_identity(),
            interval_s=interval,
            workers=workers,
            kube_api_qps=kube_api_qps,
            kube_api_burst=kube_api_burst,
            lease_namespace=lease_namespace,
            lease_duration_s=lease_duration,
            watch=watch and not once,
            fight_limit=fight_limit,
            fight_window_s=fight_window,
            health_timeout_s=parse_duration(health_timeout).total_seconds(),
            recheck_every_s=parse_duration(recheck_every).total_seconds(),
            kubeconfig=s.kubeconfig,
            context=s.context,
        )
        home = None
        if namespace is not None:
            # Apps, Projects and Environments are objects there; each App's status is written back.
            kubeconfig = Path(s.kubeconfig) if s.kubeconfig else None
            home = Cluster(kubeconfig=kubeconfig, context=s.context, limits=options.limits)
        with s.open_store() as store:
            controller = Controller(
                config=engine.ConfigReader(s.config_path, home=home, lenient=True),
                store=store,
                settings=options,
                notifier=Notifier(webhooks=notify, slack=notify_slack),
                apps_in=home,
            )
            server = None
            try:
                if listen:
                    try:
                        host, port = parse_listen(listen)
                    except ValueError as error:
                        raise typer.BadParameter(str(error), param_hint="--listen") from None
                    server = serve(controller, host=host, port=port)
                    log(logging.INFO, f"serving the dashboard and endpoints on {server.url}/")
                if once:
                    outcomes = controller.run_once()
                    if output is Output.JSON:
                        emit_json([o.__dict__ for o in outcomes])
                    else:
                        for o in outcomes:
                            facts = f"{o.status}, mode {o.mode.value}, {o.state.value}"
                            line = f"{o.app}: {o.result.value} ({facts})"
                            out.print(escape(line + (f" — {o.message}" if o.message else "")))
                    code = once_exit_code(outcomes)
                    if code:
                        raise typer.Exit(code)
                    return

                def stop(signum: int, frame: FrameType | None) -> None:
                    controller.stop()

                if threading.current_thread() is threading.main_thread():
                    signal.signal(signal.SIGTERM, stop)
                    signal.signal(signal.SIGINT, stop)
                log(logging.INFO, f"controller {options.identity} started", interval_s=interval)
                controller.run()
            finally:
                if server is not None:
                    server.shutdown()
                controller.close()
                if home is not None:
                    home.close()

    @app.command("pause")
    def pause_cmd(
        ctx: typer.Context,
        name: str,
        reason: str = typer.Option(..., "--reason", help="Why (shown in the audit trail)."),
        duration: str = typer.Option(..., "--for", help="How long: 30m, 2h, 1d. At most 30d."),
    ) -> None:
        """Break-glass: stop all writes to APP until resumed or the time runs out. Drift is still observed."""
        from plumbline.config import OperationAction
        from plumbline.engine.pause import parse_duration, pause
        from plumbline.store import current_actor

        s = settings(ctx)
        target = s.app(name)
        length = parse_duration(duration)
        args = {"reason": reason, "duration": duration}
        hand_over(s, target, OperationAction.PAUSE, args, offline_ok=True)  # exits if a controller took it
        with s.open_store() as store:
            state = pause(store, target.name, reason=reason, duration=length, actor=current_actor())
        out.print(f"{target.name}: paused until {state.until:%Y-%m-%d %H:%M:%S} UTC — {escape(reason)}")

    @app.command("resume")
    def resume_cmd(
        ctx: typer.Context,
        name: str,
        revert: bool = typer.Option(
            False, "--revert", help="Revert the drift made during the pause (a sync with drift reverted)."
        ),
        reason: str = WHY,
    ) -> None:
        """End a pause. Drift made meanwhile keeps the app paused-pending: capture it into Git with
        `plumb capture`, or revert it with --revert. Exit 1 if it stays pending."""
        from plumbline.config import OperationAction
        from plumbline.store import AppStateKind, SyncResult, current_actor

        s = settings(ctx)
        target = s.app(name)
        hand_over(s, target, OperationAction.RESUME, {"reason": reason, "revert": revert})
        with engine.session(target, kubeconfig=s.kubeconfig, context=s.context, store=s.store) as session:
            done = engine.resume(
                target,
                cluster=session.cluster,
                store=session.store,
                config=s.config,
                actor=current_actor(),
                reason=reason,
                revert=revert,
            )
        if not done.was_paused:
            out.print(f"{target.name}: not paused")
            return
        if done.revert is not None:
            record = done.revert
            if record.result is not SyncResult.SUCCEEDED:
                err.print(
                    f"[red]the revert did not succeed ({record.result.value}):[/] " + escape(record.message)
                )
                raise typer.Exit(1 if record.result is SyncResult.BLOCKED else 2)
            out.print(f"{target.name}: active — drift reverted ({escape(record.message)})")
            return
        if done.state is AppStateKind.PAUSED_PENDING:
            out.print(f"{target.name}: paused-pending — drift made during the pause:")
            for line in done.drift:
                out.print(f"  {escape(line)}")
            out.print("capture it into Git (`plumb capture`), or `plumb resume --revert` to undo it")
            raise typer.Exit(1)
        out.print(f"{target.name}: active")

    @app.command("mode")
    def mode_cmd(
        ctx: typer.Context,
        name: str,
        mode: Mode | None = MODE_ARGUMENT,
        reason: str = WHY,
        clear: bool = typer.Option(False, "--clear", help="Drop the override: the config's mode applies."),
    ) -> None:
        """Show or set APP's mode. The setting is an override kept in the store (and audited) on top
        of the config's spec.mode; --clear returns to the config's."""
        from plumbline.config import OperationAction
        from plumbline.store import current_actor

        s = settings(ctx)
        target = s.app(name)
        if mode is not None or clear:
            args = {"mode": None if clear else mode, "reason": reason}
            hand_over(s, target, OperationAction.MODE, args, offline_ok=True)  # exits if a controller took it
        with s.open_store() as store:
            if mode is None and not clear:
                view = engine.mode_of(target, store)
                out.print(f"{target.name}: {view.mode.value} ({'override' if view.overridden else 'config'})")
                return
            change = engine.set_mode(
                target, store, None if clear else mode, actor=current_actor(), reason=reason
            )
        note = " (more than one step up the gradient: see `plumb readiness`)" if change.steps > 1 else ""
        out.print(f"{target.name}: {change.before.value} → {change.after.value}{note}")

    @app.command("readiness")
    def readiness_cmd(
        ctx: typer.Context,
        name: str,
        min_days: float = typer.Option(7.0, "--min-days", help="Days on the current step before the next."),
        output: Output = OUTPUT,
    ) -> None:
        """Is the next step on the gradient safe for APP, and why. Exit 0 if ready, 1 if not."""
        from plumbline.controller import readiness

        s = settings(ctx)
        target = s.app(name)
        with engine.session(target, kubeconfig=s.kubeconfig, context=s.context, store=s.store) as session:
            report = readiness(
                target, cluster=session.cluster, store=session.store, min_days=min_days, config=s.config
            )
        if output is Output.JSON:
            emit_json(report.as_dict())
        else:
            verdict = "[green]ready[/]" if report.ready else "[red]not ready[/]"
            step = report.next_mode.value if report.next_mode else "-"
            out.print(f"{target.name}: {report.mode.value} → {step}: {verdict}")
            for line in report.reasons:
                out.print(f"  {escape(line)}")
        if not report.ready:
            raise typer.Exit(1)

    @app.command("audit")
    def audit_cmd(
        ctx: typer.Context,
        target: str | None = typer.Argument(None, help="an app, or `verify` to prove the chain"),
        app_name: str | None = typer.Option(None, "--app", help="an app (also one called `verify`)"),
        limit: int = typer.Option(50, "--limit", "-n"),
        cluster_anchor: bool = typer.Option(
            False, "--cluster", help="verify: also against the anchor the controller filed in the cluster"
        ),
        lease_namespace: str = typer.Option(LEASE_NAMESPACE, "--lease-namespace"),
        output: Output = OUTPUT,
    ) -> None:
        """The audit trail (of one app), oldest first; `plumb audit verify` checks the keyed chains of
        the audit trail and the sync history and their anchor, and exits 1 at the first broken link."""
        from rich.table import Table

        with settings(ctx).open_store() as store:
            if target == "verify" and app_name is None:
                checked, broken = store.verify_audit()
                if broken is None and cluster_anchor:
                    broken = _verify_cluster_anchor(ctx, store, lease_namespace)
                if broken is None:
                    out.print(
                        f"audit trail intact: {checked} records verified (audit, sync history, intents)"
                    )
                    return
                where = {
                    "audit": f"record #{broken.id}",
                    "syncs": f"the history row of sync #{broken.id}",
                    "sync_intents": f"sync intent #{broken.id}",
                }
                err.print(
                    f"[bold red]audit trail broken[/] at {where.get(broken.table, 'its anchor')}: "
                    f"{escape(broken.why)} ({checked} records before it verified)"
                )
                raise typer.Exit(1)
            records = store.audit_log(app_name or target, limit=limit)
        if output is Output.JSON:
            emit_json([_audit_dict(r) for r in records])
            return
        table = Table(box=None, pad_edge=False)
        for column in ("#", "time", "actor", "app", "action", "revision", "outcome", "reason"):
            table.add_column(column)
        for r in records:
            table.add_row(
                str(r.id),
                f"{r.time:%Y-%m-%d %H:%M:%S}",
                r.actor,
                r.app,
                r.action,
                r.revision[:12],
                r.outcome,
                escape(r.reason),
            )
        out.print(table)


def _verify_cluster_anchor(ctx: typer.Context, store: Store, namespace: str) -> Broken | None:
    from plumbline.cluster import Cluster
    from plumbline.controller import verify_anchor

    s = settings(ctx)
    kubeconfig = engine.resolve_kubeconfig(s.kubeconfig)
    with Cluster(kubeconfig=kubeconfig, context=s.context) as cluster:
        return verify_anchor(cluster, store, namespace=namespace)


def once_exit_code(outcomes: list[Outcome]) -> int:
    """`plumb controller --once`: 2 if any app errored or its sync failed, else 1 if any was blocked (a
    guard, a refusal), self-heal stopped fighting another writer, or a sync was not verified (reported,
    or rolled back), else 0. Cron and CI act on it."""
    from plumbline.controller import Result

    results = {o.result for o in outcomes}
    if results & {Result.ERROR, Result.FAILED}:
        return 2
    return 1 if results & {Result.BLOCKED, Result.FIGHT, Result.UNVERIFIED, Result.ROLLED_BACK} else 0


def _audit_dict(record: AuditRecord) -> dict[str, Any]:
    """One audit record for ``-o json`` (camelCase keys, as every ``-o json``)."""
    return {
        "id": record.id,
        "time": record.time.isoformat(),
        "actor": record.actor,
        "app": record.app,
        "action": record.action.value,
        "revision": record.revision,
        "reason": record.reason,
        "summary": record.summary,
        "outcome": record.outcome.value,
        "prevHash": record.prev_hash,
        "hash": record.hash,
    }


def main() -> None:
    """``python -m plumbline.cli.controller ...``: the root ``plumb`` with these commands registered."""
    from plumbline.cli.app import app, main

    register(app)
    main()


if __name__ == "__main__":
    main()
