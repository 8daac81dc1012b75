"""``python -m plumbline.cli.relist``: write ``listing.json`` (what ``plumb --help`` shows) from the tree.

Run it after adding a command, renaming one, changing the first paragraph of a command's docstring
or a root option; ``tests/unit/test_startup.py`` fails until the listing matches the tree.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperGroup
from typer.main import get_command

from plumbline.cli.app import MODULES, app


def _first_paragraph(text: str | None) -> str:
    return " ".join(inspect.cleandoc(text or "").split("\n\n")[0].split())


def tree() -> tuple[Any, Any]:
    """The root group with every command's module loaded, and a context for it."""
    group = get_command(app)
    assert isinstance(group, TyperGroup)
    group.load_all()  # type: ignore[attr-defined]
    return group, typer.Context(group, info_name="plumb")


def listing() -> dict[str, Any]:
    """What ``plumb --help`` shows, from the tree as it is now."""
    group, ctx = tree()
    usage = " ".join(group.collect_usage_pieces(ctx))
    options = []
    for param in group.get_params(ctx):
        if getattr(param, "hidden", False):
            continue
        # a default, an environment variable or "required" would add to the help cell: not drawn here
        assert not param.required and not param.envvar and not param.default, param.name
        longs = [o for o in param.opts if "--" in o]
        shorts = [o for o in param.opts if "--" not in o]
        second_longs = [o for o in param.secondary_opts if "--" in o]
        second_shorts = [o for o in param.secondary_opts if "--" not in o]
        cells = [",".join(longs), ",".join(shorts), ",".join(second_longs), ",".join(second_shorts)]
        options.append([*cells, param.display_type_rich(ctx) or "", " ".join((param.help or "").split())])
    owner = {name: module for module, names in group.loaded.items() for name in names}
    order = [name for module in MODULES for name in group.loaded[module]]
    order += [name for name in group.commands if name not in order]
    commands = []
    for name in order:
        command = group.get_command(ctx, name)
        if not command.hidden:
            help_text = _first_paragraph(command.short_help or command.help)
            commands.append([name, owner.get(name, "plumbline.cli.app"), help_text])
    return {"usage": usage, "help": _first_paragraph(group.help), "options": options, "commands": commands}


def source() -> str:
    """The text of ``listing.json`` for the tree as it is now."""
    known = listing()

    def dumps(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False)

    def rows(key: str) -> str:
        return ",\n".join(f"  {dumps(row)}" for row in known[key])

    return (
        f'{{\n "usage": {dumps(known["usage"])},\n "help": {dumps(known["help"])},\n'
        f' "options": [\n{rows("options")}\n ],\n "commands": [\n{rows("commands")}\n ]\n}}\n'
    )


PATH = Path(__file__).with_name("listing.json")

if __name__ == "__main__":
    PATH.write_text(source())
    print(f"wrote {PATH}")
