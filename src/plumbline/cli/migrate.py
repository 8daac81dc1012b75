"""``plumb import argocd|flux FILE…``: Argo CD or Flux objects in, plumbline configuration out.

The configuration (Projects, Environments, Apps) goes to standard output, or to ``--out FILE``; above
each object, comments name the input object it came from and every field of it that was not carried
over, with the reason. The same report goes to standard error. The mapping is in docs/import.md.

Exit codes: 0 every field of every input object was carried over, 1 some were not (the configuration
is still written; read the report), 2 errors (a file that cannot be read, a field of the wrong type:
the message names the file, the object and the field).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from plumbline.errors import PlumbError
from plumbline.words import Source

if TYPE_CHECKING:  # the rest is imported where it is used: `plumb --help` loads none of it
    from plumbline.migrate import ImportResult

SOURCE = typer.Argument(..., metavar="argocd|flux", help="Whose objects: argocd or flux.")
FILES = typer.Argument(..., metavar="FILE...", help="YAML files holding the objects (multi-document).")
OUT = typer.Option(
    None, "--out", help="Write the configuration to this file (replaced) instead of standard output."
)


def register(app: typer.Typer) -> None:
    """Add ``import`` to the root ``plumb`` app."""

    @app.command("import")
    def import_cmd(source: Source = SOURCE, files: list[Path] = FILES, out: Path | None = OUT) -> None:
        """Turn Argo CD Applications and AppProjects, or Flux Kustomizations and HelmReleases (with
        their GitRepositories), into plumbline configuration, and list every field not carried over and
        why. Exit 0: all carried, 1: some not (see the report), 2: error."""
        from plumbline.migrate import import_files

        result = import_files(source, files)
        text = result.to_yaml()
        if out is None:
            typer.echo(text, nl=False)
        else:
            try:
                out.write_text(text, encoding="utf-8")
            except OSError as error:
                raise PlumbError(f"{out}: cannot be written: {error.strerror or error}") from None
        _report(result, out)
        raise typer.Exit(0 if result.complete else 1)


def _report(result: ImportResult, out: Path | None) -> None:
    def say(line: str) -> None:
        typer.echo(line, err=True)

    for report in result.reports:
        made = f" → {', '.join(report.written)}" if report.written else ": nothing written"
        say(f"{report.label} ({report.where}){made}")
        for f in report.not_carried:
            say(f"  not carried: {f.describe()}")
    written = len(result.written)
    missing = sum(len(r.not_carried) for r in result.reports)
    unwritten = sum(1 for r in result.reports if not r.written)
    where = f" to {out}" if out else ""
    say(
        f"{len(result.reports)} input object(s): {written} plumbline object(s) written{where}; "
        f"{unwritten} input object(s) produced nothing; {missing} field(s) not carried over"
    )
