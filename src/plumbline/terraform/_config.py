"""What plan JSON does not carry: each resource block's ``lifecycle { prevent_destroy = true }``.

Read from the ``*.tf`` files of a root module folder and of every local module it calls (``source``
starting with ``./`` or ``../``), with python-hcl2. A module from a registry or Git is not at hand,
so its resources' setting is unknown (``None``), never guessed.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2

from plumbline.errors import TerraformPlanError

MAX_MODULE_DEPTH = 16


@dataclass(frozen=True)
class ResourceBlock:
    """A ``resource "TYPE" "NAME"`` block: where it is and whether it sets ``prevent_destroy``."""

    module: str  # module.db ("" for the root module)
    type: str
    name: str
    file: str  # as the caller labels it: infra/db.tf
    prevent_destroy: bool

    @property
    def address(self) -> str:
        return f"{self.module}.{self.type}.{self.name}" if self.module else f"{self.type}.{self.name}"


@dataclass
class TerraformConfig:
    """The resource blocks of a root module and its local modules; ``remote`` lists the module paths
    whose source is not a local folder (their blocks are unknown)."""

    root: Path
    blocks: dict[tuple[str, str], ResourceBlock] = field(default_factory=dict)  # (module, type.name)
    remote: dict[str, str] = field(default_factory=dict)  # module path -> source

    def block(self, module: str, config_key: str) -> ResourceBlock | None:
        return self.blocks.get((module, config_key))

    def known(self, module: str) -> bool:
        """False when ``module`` (or a module above it) comes from a source that is not at hand."""
        return not any(module == m or module.startswith(f"{m}.") for m in self.remote)


def has_terraform(folder: Path) -> bool:
    return folder.is_dir() and any(folder.glob("*.tf"))


def read_config(root: Path, *, label: str | None = None) -> TerraformConfig:
    """The ``*.tf`` files of ``root`` and of the local modules it calls. ``label`` names ``root`` in
    findings and errors (a repository-relative path); default: ``root`` itself."""
    config = TerraformConfig(root=root)
    _read_module(config, root, label or str(root), module="", depth=0)
    return config


def _read_module(config: TerraformConfig, folder: Path, label: str, *, module: str, depth: int) -> None:
    if depth > MAX_MODULE_DEPTH:
        raise TerraformPlanError(
            f"{label}: modules nest deeper than {MAX_MODULE_DEPTH} (a module calling itself?)"
        )
    for path in sorted(folder.glob("*.tf")):
        file = posixpath.join(label, path.name)
        body = _parse(path, file)
        for rtype, rname, block in _labelled(body.get("resource"), 2):
            key = f"{rtype}.{rname}"
            config.blocks[(module, key)] = ResourceBlock(module, rtype, rname, file, _prevents_destroy(block))
        for call, block in _labelled(body.get("module"), 1):
            source = _unquote(block.get("source", ""))
            child = f"{module}.module.{call}" if module else f"module.{call}"
            if isinstance(source, str) and source.startswith(("./", "../")):
                target = (folder / source).resolve()
                if not target.is_dir():
                    raise TerraformPlanError(f"{file}: module {call!r}: source {source!r}: no such folder")
                _read_module(
                    config,
                    target,
                    posixpath.normpath(posixpath.join(label, source)),
                    module=child,
                    depth=depth + 1,
                )
            else:
                config.remote[child] = str(source)


def _parse(path: Path, file: str) -> dict[str, Any]:
    try:
        with path.open(encoding="utf-8") as handle:
            parsed = hcl2.load(handle)
    except OSError as err:
        raise TerraformPlanError(f"{file}: cannot read: {err.strerror or err}") from None
    except Exception as err:  # python-hcl2 raises lark's errors (UnexpectedToken, ...) and others
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise TerraformPlanError(f"{file}: not valid HCL: {first}") from None
    if not isinstance(parsed, dict):
        raise TerraformPlanError(f"{file}: not a Terraform configuration file")
    return parsed


def _labelled(blocks: Any, depth: int) -> Iterator[tuple[Any, ...]]:
    """``(label1, ..., body)`` for each ``KIND "label1" ... { body }`` block python-hcl2 gives."""
    for entry in blocks or []:
        yield from _unnest(entry, depth, ())


def _unnest(node: Any, depth: int, labels: tuple[str, ...]) -> Iterator[tuple[Any, ...]]:
    if not isinstance(node, dict):
        return
    if depth == 0:
        yield (*labels, node)
        return
    for label, inner in node.items():
        if not label.startswith("__"):
            yield from _unnest(inner, depth - 1, (*labels, _unquote(label)))


def _prevents_destroy(block: dict[str, Any]) -> bool:
    for lifecycle in block.get("lifecycle") or []:
        if isinstance(lifecycle, dict):
            value = lifecycle.get("prevent_destroy")
            if value is True or (isinstance(value, str) and _unquote(value) == "true"):
                return True
    return False


def _unquote(value: Any) -> Any:
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value
