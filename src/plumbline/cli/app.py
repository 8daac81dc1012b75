"""``plumb``: the root command, error handling and exit codes.

Exit codes follow diff(1) and DESIGN.md: 0 ok / no changes, 1 changes found or blocked by a guard,
2 and above errors. A :class:`PlumbError` is printed as one readable message, never a traceback.
"""

from __future__ import annotations

import inspect
import sys
import traceback
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from plumbline import __version__
from plumbline.cli import capture, check, controller, gitops, install, local, migrate, rollback, store, ui
from plumbline.errors import PlumbError

err = Console(stderr=True, highlight=False, soft_wrap=True)


def whole_sentences(text: str | None) -> str | None:
    """``text`` with the line breaks inside each paragraph removed (``\\b`` paragraphs kept as written).

    Docstrings are wrapped at the source's line length; Typer's rich help keeps those breaks in the
    command list and in every paragraph after the first, so sentences broke mid-line. The terminal
    wraps the joined paragraphs at its own width instead.
    """
    if not text:
        return text
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(
        p if p.startswith("\b") else " ".join(line.strip() for line in p.splitlines()) for p in paragraphs
    )


def _unwrap(command: Any) -> None:  # a click command (Typer vendors click)
    command.help = whole_sentences(command.help)
    command.short_help = whole_sentences(command.short_help)
    for sub in getattr(command, "commands", {}).values():
        _unwrap(sub)


class _Plumb(TyperGroup):
    """The root group: every command's help (nested groups too) is made of whole sentences."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _unwrap(self)


app = typer.Typer(
    name="plumb",
    cls=_Plumb,
    help="plumbline: GitOps for Kubernetes that shows where a cluster leaves Git, and what a sync "
    "would really do about it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(local.app, name="local")
gitops.register(app)
check.register(app)
capture.register(app)
controller.register(app)
migrate.register(app)
rollback.register(app)
install.register(app)
ui.register(app)
store.register(app)


@app.callback()
def root(
    ctx: typer.Context,
    config: str | None = typer.Option(
        None,
        "--config",
        "-c",
        help="plumbline config file or folder, or cluster:NAMESPACE to read it from the cluster "
        "(default: $PLUMBLINE_CONFIG, ./plumbline.yaml, ./plumbline/)",
    ),
    kubeconfig: str | None = typer.Option(
        None, "--kubeconfig", help="kubeconfig file (default: the usual lookup)"
    ),
    context: str | None = typer.Option(
        None, "--context", help="kubeconfig context (default: the app's, else current)"
    ),
    store: str | None = typer.Option(
        None,
        "--store",
        help="where history, audit trail and app state are kept: sqlite or kubernetes (default: "
        "$PLUMBLINE_STORE_BACKEND, else the Instance's spec.store, else sqlite)",
    ),
) -> None:
    ctx.obj = gitops.Settings(config, kubeconfig, context, store)


@app.command()
def version() -> None:
    """Print plumbline's version and the pinned versions of the binaries it runs."""
    from plumbline.toolchain import KITS

    print(f"plumbline {__version__}")
    for kit in KITS.values():
        print(f"{kit.name} {kit.version}")


INTERNAL_ERROR = 3  # an exception plumbline did not expect: a bug, never "changes found" (1)


def main() -> None:
    """Entry point of the console script. Click handles usage errors (exit 2), --help and Ctrl-C
    (130) itself; every PlumbError leaves as one message and its exit code; anything else is a bug,
    reported with its traceback and exit 3 — never Python's default 1, which means "changes found"."""
    try:
        app()
    except PlumbError as error:
        err.print(f"[bold red]error:[/] {escape(str(error))}", soft_wrap=True)
        sys.exit(error.exit_code)
    except Exception as error:  # the last line of defence for the exit code
        traceback.print_exc()
        err.print(
            f"[bold red]internal error:[/] {escape(type(error).__name__)}: {escape(str(error))} — "
            "a bug in plumbline; please report it with the traceback above",
            soft_wrap=True,
        )
        sys.exit(INTERNAL_ERROR)
