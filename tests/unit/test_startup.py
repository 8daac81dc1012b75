"""``plumb --help``, ``plumb version`` and ``plumb apps`` start without loading what only other commands
need (issue 16, item 4): the Kubernetes client, CEL, detect-secrets, the guards and the engine's
pipeline — and, for the first two, not even the configuration models (whose pydantic schemas take
most of a second to build), nor Typer, click and rich (more than 0.1 s of CPU to import; decision
0027). A command, or its ``--help``, loads the one module of ``plumbline.cli`` that registers it.

Each command runs as users run it (``python -m plumbline``, a child process) under ``-X importtime``,
which lists every module the process imported; nothing here is timed. A heavy import put back at the
top of a ``plumbline.cli`` module (or of ``plumbline.engine``'s ``__init__``) fails these tests: import
it inside the command that needs it instead.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from plumbline.cli.app import MODULES
from tests.support.config import app_yaml

HEAVY = (
    "kubernetes",
    "celpy",
    "detect_secrets",
    "plumbline.guards",
    "plumbline.engine._pipeline",
    "plumbline.render",
    "plumbline.controller",
    "plumbline.cluster",
)
"""Never imported by the light commands."""
MODELS = ("plumbline.config",)
"""Not imported by the commands that read no configuration."""
TYPER = ("typer", "click", "rich", "pydantic", "plumbline.cli.app")
"""Not imported by ``plumb``, ``plumb --help`` and ``plumb version`` (plumbline.cli.quick answers them)."""
COMMAND_MODULES = (*MODULES, "plumbline.cli.operate")
"""The modules that register commands; a command loads its own (and what it imports), no other."""


def imported(*args: str, cwd: Path, code: int = 0) -> set[str]:
    """Every module ``python -m plumbline ARGS`` imports (exit ``code`` required)."""
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("PLUMBLINE_CONFIG", None)
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "plumbline", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == code, done.stdout + done.stderr
    modules = set()
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            modules.add(line.rsplit("|", 1)[1].strip())
    assert "plumbline.cli.quick" in modules, done.stderr[-2000:]  # the listing is there at all
    return modules


def loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in names))


@pytest.mark.parametrize(("args", "code"), [(("--help",), 0), (("version",), 0), ((), 2)])
def test_help_and_version_load_neither_typer_nor_rich_nor_any_command_module(
    args: tuple[str, ...], code: int, tmp_path: Path
) -> None:
    modules = imported(*args, cwd=tmp_path, code=code)
    assert loaded(modules, HEAVY + MODELS + TYPER + COMMAND_MODULES) == []


@pytest.mark.parametrize(
    ("command", "module"), [("sync", "gitops"), ("controller", "controller"), ("up", "local")]
)
def test_a_command_s_help_loads_its_own_module_and_no_heavy_one(
    command: str, module: str, tmp_path: Path
) -> None:
    args = ("local", "up", "--help") if command == "up" else (command, "--help")
    modules = imported(*args, cwd=tmp_path)
    assert loaded(modules, HEAVY + MODELS) == []
    assert f"plumbline.cli.{module}" in modules
    # every command loads gitops (the root options' Settings); controller also operate (the hand-over)
    needs = ("gitops", "operate") if module == "controller" else ("gitops",)
    others = tuple(m for m in COMMAND_MODULES if m.rsplit(".", 1)[1] not in (module, *needs))
    assert loaded(modules, others) == []


@pytest.mark.parametrize("output", ["table", "json"])
def test_apps_reads_the_configuration_without_the_heavy_modules(output: str, tmp_path: Path) -> None:
    (tmp_path / "plumbline.yaml").write_text(app_yaml("shop", namespace="shop"))
    modules = imported("apps", "-o", output, cwd=tmp_path)
    assert "plumbline.config._model" in modules  # it did read the configuration
    assert loaded(modules, HEAVY) == []
    assert loaded(modules, tuple(m for m in COMMAND_MODULES if not m.endswith(".gitops"))) == []


def test_every_name_plumbline_engine_exports_is_there_when_used() -> None:
    """The engine's lazy table (``_WHERE``) and ``__all__`` name the same things, and each resolves:
    an export added to the TYPE_CHECKING imports alone would type-check and fail at run time."""
    import plumbline.engine as engine

    assert sorted(engine._WHERE) == sorted(engine.__all__)
    for name in engine.__all__:
        assert getattr(engine, name) is not None, name
