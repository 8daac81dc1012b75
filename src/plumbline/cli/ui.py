"""``plumb ui``: the dashboard on this machine, on 127.0.0.1 unless told otherwise.

The same pages ``plumb controller --listen`` serves, over the same application layer as every other
command; it runs until interrupted (Ctrl-C).
"""

from __future__ import annotations

import threading
import webbrowser

import typer

from plumbline.cli.gitops import err, out, settings
from plumbline.errors import PlumbError

DEFAULT_LISTEN = "127.0.0.1:8470"


def register(app: typer.Typer) -> None:
    """Add ``ui`` to the root ``plumb`` app."""

    @app.command("ui")
    def ui_cmd(
        ctx: typer.Context,
        listen: str = typer.Option(
            DEFAULT_LISTEN, "--listen", help="HOST:PORT to serve on (port 0: any free one)."
        ),
        read_only: bool = typer.Option(False, "--read-only", help="Show only: no sign-in, no actions."),
        no_browser: bool = typer.Option(False, "--no-browser", help="Do not open a browser."),
        refresh: float = typer.Option(10.0, "--refresh", help="Seconds between live updates."),
    ) -> None:
        """Serve the dashboard: every app's sync, health, mode, state and drift; one app's attributed
        plan, guard findings, rebuildability, history and audit trail. Actions (sync, pause, resume,
        capture) need a token the cluster accepts and allows, unless --read-only."""
        from plumbline.config import find_config, load_config
        from plumbline.web import Dashboard, parse_listen, serve

        s = settings(ctx)
        path = find_config(s.config_path)
        load_config(path)  # a broken config is an error now, not a blank page later
        try:
            host, port = parse_listen(listen)
        except ValueError as error:
            raise typer.BadParameter(str(error), param_hint="--listen") from None
        dashboard = Dashboard(
            lambda: load_config(path),
            kubeconfig=s.kubeconfig,
            context=s.context,
            read_only=read_only,
            refresh_s=refresh,
        )
        try:
            served = serve(dashboard.asgi(), host=host, port=port)
        except OSError as error:
            raise PlumbError(f"cannot serve on {listen}: {error}") from None
        out.print(
            f"plumbline dashboard: {served.url}/" + (" (read-only)" if read_only else ""), soft_wrap=True
        )
        if not no_browser:
            webbrowser.open(f"{served.url}/")
        stop = threading.Event()
        try:
            stop.wait()
        except KeyboardInterrupt:
            err.print("stopping")
        finally:
            served.shutdown()
