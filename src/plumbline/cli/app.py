"""``plumb``: the root command, error handling and exit codes.

Exit codes follow diff(1) and DESIGN.md: 0 ok / no changes, 1 changes found or blocked by a guard,
2 and above errors. A :class:`PlumbError` is printed as one readable message, never a traceback.

The commands live in the modules of :data:`MODULES`, each adding its own with ``register(app)``. The
root group loads a module only when one of its commands runs or shows its help (decision 0027): it
finds the module in ``listing.json``, which ``python -m plumbline.cli.relist`` writes from this
tree. A command the listing does not know yet still runs: every module is loaded to find it.
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
from typer.main import get_group

from plumbline.cli import gitops, quick
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


MODULES = (
    "plumbline.cli.gitops",
    "plumbline.cli.check",
    "plumbline.cli.capture",
    "plumbline.cli.controller",
    "plumbline.cli.migrate",
    "plumbline.cli.rollback",
    "plumbline.cli.install",
    "plumbline.cli.ui",
    "plumbline.cli.local",
    "plumbline.cli.store",
)
"""The modules that register the commands (``register(app)``), in the order ``plumb --help`` lists them;
the root's own (``version``) come last."""
LISTED = {name: module for name, module, _ in quick.listing()["commands"]}


class _Plumb(TyperGroup):
    """The root group: loads a command's module when the command is looked up; every command's help
    (nested groups too) is made of whole sentences."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.loaded: dict[str, list[str]] = {}
        """Each module loaded so far, with the names of the commands it registered."""
        _unwrap(self)

    def load(self, module: str) -> list[str]:
        """Register ``module``'s commands on this group (once); their names, in its order."""
        if module not in self.loaded:
            holder = typer.Typer()
            __import__(module)  # not importlib.import_module: -X importtime lists only this (test_startup)
            sys.modules[module].register(holder)
            group = get_group(holder)
            for name, command in group.commands.items():
                _unwrap(command)
                self.add_command(command, name)
            self.loaded[module] = list(group.commands)
        return self.loaded[module]

    def load_all(self) -> None:
        for module in MODULES:
            self.load(module)

    def list_commands(self, ctx: Any) -> list[str]:
        names = list(LISTED)
        return names + [name for name in self.commands if name not in names]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands:
            if cmd_name in LISTED:
                self.load(LISTED[cmd_name])
            if cmd_name not in self.commands:  # new since the listing was written, or no command
                self.load_all()
        return self.commands.get(cmd_name)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and self.get_command(ctx, args[0]) is None:
            self.load_all()  # so that "Did you mean ...?" can suggest any command
        return super().resolve_command(ctx, args)


app = typer.Typer(
    name="plumb",
    cls=_Plumb,
    help="plumbline: GitOps for Kubernetes that shows where a cluster leaves Git, and what a sync "
    "would really do about it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


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
    quick.print_version()


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
