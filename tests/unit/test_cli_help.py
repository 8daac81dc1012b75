"""``plumb --help`` and every command's ``--help`` read as whole sentences: no paragraph of a
docstring is broken where the source happened to wrap it. ``plumb --help`` as the console script
prints it without Typer (plumbline.cli.quick, decision 0027) is the help Typer prints for the whole
command tree, character for character."""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
from typing import Any

import pytest
import typer.rich_utils
from typer.testing import CliRunner

from plumbline.cli import quick, relist
from plumbline.cli.app import app


def _commands(command: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    found = [(path, command)]
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        found += _commands(sub, (*path, name))
    return found


COMMANDS = _commands(relist.tree()[0])


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


def test_the_listing_plumb_help_is_drawn_from_is_the_command_tree_s() -> None:
    """A command added, renamed or removed, a first paragraph or a root option changed: the listing
    must be written again, or ``plumb --help`` would not show it."""
    assert relist.PATH.read_text(encoding="utf-8") == relist.source(), (
        "plumbline/cli/listing.json is stale: run .venv/bin/python -m plumbline.cli.relist"
    )
    listed = [name for name, _, _ in quick.listing()["commands"]]
    tree = relist.tree()[0]
    assert sorted(listed) == sorted(name for name, command in tree.commands.items() if not command.hidden)


@pytest.mark.parametrize("width", [40, 80, 123, 1000])
def test_the_quick_top_level_help_is_typer_s_for_the_whole_tree(
    width: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(typer.rich_utils, "MAX_WIDTH", width)
    done = CliRunner().invoke(app, ["--help"], prog_name="plumb", env={"NO_COLOR": "1"})
    assert done.exit_code == 0, done.output
    assert quick.top_help(width, "plumb") == done.output


def _plumb(*args: str, columns: int = 80, colour: bool = False) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": str(columns), **({"FORCE_COLOR": "1"} if colour else {"NO_COLOR": "1"})}
    for name in (
        "TERMINAL_WIDTH",
        *(("NO_COLOR",) if colour else ("FORCE_COLOR", "PY_COLORS", "GITHUB_ACTIONS")),
    ):
        env.pop(name, None)
    return subprocess.run(
        [sys.executable, "-m", "plumbline", *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_plumb_help_and_plumb_alone_print_the_help_as_click_would() -> None:
    """``--help``: on stdout, exit 0; no arguments: the same on stderr, exit 2 (a usage error)."""
    helped, bare = _plumb("--help", columns=100), _plumb(columns=100)
    assert (helped.returncode, helped.stderr) == (0, "")
    assert helped.stdout == quick.top_help(100, "python -m plumbline")
    assert (bare.returncode, bare.stdout, bare.stderr) == (2, "", helped.stdout)


def test_in_colour_the_quick_help_is_the_same_text_painted() -> None:
    """Where Typer would paint its help (a terminal, or $FORCE_COLOR), the quick help is painted too:
    the same characters once the colours are taken out."""
    done = _plumb("--help", colour=True)
    assert done.returncode == 0, done.stderr
    assert "\x1b[1;36m--config" in done.stdout
    assert re.sub(r"\x1b\[[0-9;]*m", "", done.stdout) == quick.top_help(80, "python -m plumbline")


def test_plumb_version_is_the_version_command_s_output() -> None:
    quick_run = _plumb("version")
    full = CliRunner().invoke(app, ["version"])
    assert quick_run.returncode == full.exit_code == 0
    assert quick_run.stdout == full.output
    assert quick_run.stdout.startswith("plumbline ")


def test_an_unknown_command_is_a_usage_error_that_suggests_the_command_meant() -> None:
    done = _plumb("synk")
    assert done.returncode == 2
    assert "No such command 'synk'. Did you mean 'sync'?" in done.stderr


def test_a_bad_option_is_a_usage_error_of_the_command_it_was_given_to() -> None:
    done = _plumb("apps", "--no-such-option")
    assert done.returncode == 2
    assert "No such option: --no-such-option" in done.stderr
    assert "plumbline apps [OPTIONS]" in done.stderr
