"""``plumb --help`` and every command's ``--help`` read as whole sentences: no paragraph of a
docstring is broken where the source happened to wrap it."""

from __future__ import annotations

import inspect
import re
from typing import Any

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from plumbline.cli import app


def _commands(command: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    found = [(path, command)]
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        found += _commands(sub, (*path, name))
    return found


COMMANDS = _commands(get_command(app))


def _lines(output: str) -> list[str]:
    """Each line of help output without the panel borders, whitespace squeezed."""
    return [re.sub(r"\s+", " ", line.strip(" │╭╮╰╯─")).strip() for line in output.splitlines()]


def _help(path: tuple[str, ...]) -> str:
    # Wide enough that the terminal never wraps: only the help text's own line breaks remain.
    done = CliRunner().invoke(app, [*path, "--help"], terminal_width=1000, env={"COLUMNS": "1000"})
    assert done.exit_code == 0, done.output
    return done.output


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) or "plumb" for p, _ in COMMANDS])
def test_every_paragraph_of_a_command_s_help_is_one_line(path: tuple[str, ...], command: Any) -> None:
    paragraphs = [
        " ".join(p.split()) for p in inspect.cleandoc(command.help or "").split("\n\n") if p.strip()
    ]
    lines = _lines(_help(path))
    for paragraph in paragraphs:
        assert paragraph in lines, f"plumb {' '.join(path)} --help breaks the paragraph {paragraph!r}"


def test_the_command_list_shows_each_first_paragraph_on_one_line() -> None:
    for path, command in COMMANDS:
        subcommands = getattr(command, "commands", {})
        if not subcommands:
            continue
        lines = _lines(_help(path))
        for name, sub in subcommands.items():
            first = " ".join(inspect.cleandoc(sub.help or "").split("\n\n")[0].split())
            assert f"{name} {first}" in lines, f"plumb {' '.join(path)} --help: {name} is broken mid-sentence"
