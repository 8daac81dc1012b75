"""``plumb``, ``plumb --help`` and ``plumb version`` without Typer, click or rich (decision 0027).

Importing Typer (with the click it vendors) and rich costs a 2-core machine more than 0.1 s of CPU
before a line is printed — more than every other part of these answers together. The console script
(:func:`main`) therefore answers these three itself and hands every other command line to Typer
(:func:`plumbline.cli.app.main`), which loads only the module of the command that runs.

The top-level help is drawn from ``listing.json`` beside this module, which
``python -m plumbline.cli.relist`` writes from the command tree itself (names, one-line help, the
root options), in the layout and colours Typer gives it. ``tests/unit/test_cli_help.py`` compares
it, character for character, with what Typer prints for the whole tree, so a command missing here or
a stale line fails there.
"""

from __future__ import annotations

import json
import os
import sys
from functools import cache
from pathlib import Path
from typing import Any, TextIO

Row = tuple[list[str], str]
"""One row of a panel: the cells that never wrap (command name, or option names and type), the help."""


def main() -> None:
    """Entry point of the console script (``plumb``) and of ``python -m plumbline``."""
    args = sys.argv[1:]
    if args == ["version"]:
        print_version()
    elif args == ["--help"]:
        sys.stdout.write(top_help(width(), program_name(), colour=in_colour(sys.stdout)))
    elif not args:  # as click's no_args_is_help: the help on stderr, exit 2 (a usage error)
        sys.stderr.write(top_help(width(), program_name(), colour=in_colour(sys.stderr)))
        sys.exit(2)
    else:
        from plumbline.cli.app import main as full

        full()


@cache
def listing() -> dict[str, Any]:
    """``listing.json``: ``usage``, ``help``, ``options`` (long names, short names, negative long and
    short names, type, help) and ``commands`` (name, the module that registers it, one-line help)."""
    data: dict[str, Any] = json.loads(Path(__file__).with_name("listing.json").read_text(encoding="utf-8"))
    return data


def print_version() -> None:
    """``plumb version``: plumbline's version and the pinned versions of the binaries it runs."""
    from plumbline import __version__
    from plumbline.toolchain import KITS

    print(f"plumbline {__version__}")
    for kit in KITS.values():
        print(f"{kit.name} {kit.version}")


def program_name() -> str:
    """What the usage line calls the program, as click names it: ``plumb``, or ``python -m plumbline``."""
    main_module = sys.modules.get("__main__")
    package = getattr(main_module, "__package__", None)
    path = sys.argv[0] if sys.argv and sys.argv[0] else "plumb"
    if not package:
        return os.path.basename(path)
    name = os.path.splitext(os.path.basename(path))[0]
    return f"python -m {package if name == '__main__' else f'{package}.{name}'}"


def in_colour(stream: TextIO) -> bool:
    """Whether Typer's help would be in colour on ``stream``: $NO_COLOR says no; $FORCE_COLOR,
    $PY_COLORS or $GITHUB_ACTIONS yes; otherwise a terminal that is not ``TERM=dumb``."""
    environ = os.environ
    if environ.get("NO_COLOR"):
        return False
    if environ.get("FORCE_COLOR") or environ.get("PY_COLORS") or environ.get("GITHUB_ACTIONS"):
        return not environ.get("_TYPER_FORCE_DISABLE_TERMINAL")
    return stream.isatty() and environ.get("TERM", "") not in ("dumb", "unknown")


def width() -> int:
    """The width Typer's help uses: $TERMINAL_WIDTH, else the terminal's (``$COLUMNS`` first), else 80."""
    fixed = os.environ.get("TERMINAL_WIDTH", "")
    if fixed:
        return int(fixed)
    columns = 0
    for descriptor in (0, 1, 2):
        try:
            columns = os.get_terminal_size(descriptor).columns
        except (OSError, ValueError):
            continue
        break
    environ = os.environ.get("COLUMNS", "")
    if environ.isdigit():
        columns = int(environ)
    return columns or 80


def top_help(width: int, program: str, *, colour: bool = False) -> str:
    """The text of ``plumb --help`` at ``width`` columns; ``colour``: with Typer's colours (ANSI)."""
    known = listing()

    def padded(line: str) -> str:
        return f"{line:<{width}}"

    usage = wrap(f"Usage: {program} {known['usage']}", width - 2)
    lines = [padded("")]
    lines += [_paint(padded(f" {line}"), "1", colour) for line in usage]
    if colour:  # "Usage: " in bold yellow, as Typer's highlighter paints it
        lines[1] = lines[1].replace("Usage: ", "\x1b[1;33mUsage: \x1b[0;1m", 1)
    lines.append(padded(""))
    lines += [padded(f" {line}") for line in wrap(known["help"], width - 2)]
    lines.append(padded(""))
    options: list[Row] = [(cells, text) for *cells, text in known["options"]]
    lines += panel("Options", options, width, shrink=True, colour=colour)
    commands: list[Row] = [([name], text) for name, _, text in known["commands"]]
    lines += panel("Commands", commands, width, shrink=False, colour=colour)
    return "".join(f"{line}\n" for line in lines) + "\n"  # click ends the help with a blank line


CELL_STYLES = {"Options": ("1;36", "1;32", "1;35", "1;31", "1;33"), "Commands": ("1;36",)}
"""Typer's colours for the cells that are not help: option names (long, short, negative long and
short) and type; command names."""


def _paint(text: str, style: str, on: bool) -> str:
    return f"\x1b[{style}m{text}\x1b[0m" if on and text.strip() else text


def panel(title: str, rows: list[Row], width: int, *, shrink: bool, colour: bool = False) -> list[str]:
    """A rich ``Panel`` around a borderless ``Table`` (cell padding 0 1, none at the edges), as Typer
    draws its Options and Commands panels: each column as wide as its widest cell, the help column
    (the last) the rest of the line, its words wrapped in it and a word too long for it cut (…).
    ``shrink``: the other columns narrow too when the line is short (the options table; the commands
    table keeps its names whole), widest first, as rich collapses a table."""
    inner = width - 4
    columns = len(rows[0][0]) + 1
    padding = [(0 if i == 0 else 1) + (0 if i == columns - 1 else 1) for i in range(columns)]
    widths = [max(len(row[0][i]) for row in rows) + padding[i] or 1 for i in range(columns - 1)]
    widths.append(max(1, inner - sum(widths)))
    if shrink:
        widths = _collapse([*widths[:-1], inner], inner)
    styles = CELL_STYLES[title]
    side = _paint("│", "2", colour)
    lines = [_paint(f"╭─{f' {title} ':─<{inner}}─╮", "2", colour)]
    for cells, text in rows:
        for n, line in enumerate(wrap(text, widths[-1] - padding[-1], fold=False)):
            left = "".join(
                (" " if i else "")
                + _paint(_cut(cell if n == 0 else "", widths[i] - padding[i]), styles[i], colour)
                + " "
                for i, cell in enumerate(cells)
            )
            lines.append(f"{side} {left} {line:<{widths[-1] - padding[-1]}} {side}")
    lines.append(_paint(f"╰{'─' * (width - 2)}╯", "2", colour))
    return lines


def _cut(text: str, width: int) -> str:
    """``text`` in ``width`` columns: padded, or cut with an ellipsis (rich's ``overflow="ellipsis"``)."""
    return text.ljust(width) if len(text) <= width else text[: max(0, width - 1)] + "…"[:width]


def _collapse(widths: list[int], most: int) -> list[int]:
    """rich's ``Table._collapse_widths``: the widest columns narrow first until the table fits."""
    excess = sum(widths) - most
    while excess > 0:
        widest = max(widths)
        second = max((w for w in widths if w != widest), default=0)
        if widest == second:
            break
        ratios = [1 if w == widest else 0 for w in widths]
        widths = _reduce(excess, ratios, [min(excess, widest - second)] * len(widths), widths)
        excess = sum(widths) - most
    if excess > 0:  # rich's last resort: every column narrows evenly
        widths = _reduce(excess, [1] * len(widths), widths, widths)
    return widths


def _reduce(total: int, ratios: list[int], maximums: list[int], values: list[int]) -> list[int]:
    """rich's ``ratio_reduce``: ``total`` taken from ``values`` in proportion to ``ratios``."""
    ratios = [r if m else 0 for r, m in zip(ratios, maximums, strict=True)]
    total_ratio, remaining, result = sum(ratios), total, []
    for ratio, maximum, value in zip(ratios, maximums, values, strict=True):
        if ratio and total_ratio > 0:
            taken = min(maximum, round(ratio * remaining / total_ratio))
            result.append(value - taken)
            remaining -= taken
            total_ratio -= ratio
        else:
            result.append(value)
    return result


def wrap(text: str, width: int, *, fold: bool = True) -> list[str]:
    """rich's word wrap (``divide_line``): greedy; a word longer than the line is folded onto the
    next lines, or (``fold=False``) given a line of its own and cut there with an ellipsis."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in _words(paragraph):
            stripped = word.rstrip()
            if len(line) + len(stripped) <= width:
                line += word
            elif len(stripped) > width and fold:
                if line:
                    lines.append(line)
                while len(word) > width:
                    lines.append(word[:width])
                    word = word[width:]
                line = word
            else:
                if line:
                    lines.append(line)
                line = word
        lines.append(line)
    return [_cut(line.rstrip(), width).rstrip() for line in lines]


def _words(text: str) -> list[str]:
    """Each word with the whitespace after it (and, for the first, before it), as rich splits."""
    import re

    return re.findall(r"\s*\S+\s*", text)
