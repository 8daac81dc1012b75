"""Reading YAML from places plumbline does not control (Git repositories, rendered output), safely.

* Sizes are bounded: a file larger than ``MAX_FILE_BYTES`` or a document that *expands* (aliases
  followed) to more than ``MAX_NODES`` nodes is refused before anything is built from it. That stops
  "billion laughs" alias bombs in milliseconds instead of exhausting memory.
* Only plain data is built (mappings, sequences, scalars): no tags that construct objects.
* Errors name the file and the line.

``load_documents`` parses with libyaml (PyYAML's C loader, YAML 1.1 like kubectl's go-yaml) and
returns plain ``dict``/``list`` values, fast enough for thousands of objects; duplicate keys are an
error and timestamps stay strings, as Kubernetes reads them. ``load_documents_with_lines`` returns
ruamel's round-trip containers, whose ``.lc`` gives line numbers (for plumbline's own configuration).
``load_round_trip`` returns them for a file to be edited and written back (capture), loaded by the
caller's ``YAML`` instance (whose settings it writes with). All three are bounded the same way.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any, ClassVar

import yaml as pyyaml
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from plumbline.errors import RenderError

MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_NODES = 500_000


class YamlError(RenderError):
    """A YAML file that cannot be read: too large, malformed, or an alias bomb."""


@dataclass(frozen=True)
class Document:
    """One YAML document: its data, the file it came from, its index there and its first line (1-based)."""

    data: Any
    file: str
    index: int
    line: int


def _yaml(typ: str) -> YAML:
    yaml = YAML(typ=typ, pure=True)
    yaml.allow_duplicate_keys = False
    return yaml


def _expanded_size(node: Any, memo: dict[int, int], limit: int, file: str) -> int:
    """Nodes in ``node`` with every alias expanded, computed without expanding (memoised by identity).

    Works on ruamel's and PyYAML's nodes alike (same shapes). Also refuses duplicate mapping keys.
    """
    key = id(node)
    if key in memo:
        return memo[key]
    memo[key] = limit + 1  # a node reached again while being counted is a recursive alias: refuse
    total = 1
    shape = type(node).__name__
    if shape == "SequenceNode":
        for child in node.value:
            total += _expanded_size(child, memo, limit, file)
            if total > limit:
                break
    elif shape == "MappingNode":
        seen: set[str] = set()
        for k, v in node.value:
            if type(k).__name__ == "ScalarNode" and k.tag != "tag:yaml.org,2002:merge":
                if k.value in seen:
                    raise YamlError(
                        f"{file}:{k.start_mark.line + 1}: duplicate key {k.value!r} in one mapping"
                    )
                seen.add(k.value)
            total += _expanded_size(k, memo, limit, file) + _expanded_size(v, memo, limit, file)
            if total > limit:
                break
    elif shape != "ScalarNode":
        total = limit + 1
    memo[key] = total
    return total


def _refuse_bomb(node: Any, file: str, max_nodes: int) -> None:
    if _expanded_size(node, {}, max_nodes, file) > max_nodes:
        raise YamlError(
            f"{file}:{node.start_mark.line + 1}: this document expands to more than {max_nodes} "
            "nodes (aliases followed); refused as a possible alias bomb"
        )


def _size_check(text: str, file: str) -> None:
    size = len(text.encode("utf-8", errors="replace"))
    if size > MAX_FILE_BYTES:
        raise YamlError(
            f"{file}: {size} bytes is more than the {MAX_FILE_BYTES} bytes plumbline reads from one file"
        )


_FastLoader: Any = getattr(pyyaml, "CSafeLoader", pyyaml.SafeLoader)


class _KubeLoader(_FastLoader):  # type: ignore[misc]
    """libyaml's safe loader, minus timestamp resolution: ``2024-01-01`` stays a string, as in Kubernetes."""

    yaml_implicit_resolvers: ClassVar[dict[str, list[tuple[str, Any]]]] = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in _FastLoader.yaml_implicit_resolvers.items()
    }


def _check(text: str, file: str, max_nodes: int) -> list[int]:
    """Refuse oversized or bomb-shaped input; return each document's first line (1-based)."""
    _size_check(text, file)
    lines = []
    try:
        for node in _yaml("safe").compose_all(io.StringIO(text)):
            if node is None:
                lines.append(0)
                continue
            _refuse_bomb(node, file, max_nodes)
            lines.append(node.start_mark.line + 1)
    except MarkedYAMLError as error:
        raise YamlError(_describe(error, file)) from None
    except YAMLError as error:
        raise YamlError(f"{file}: not valid YAML: {error}") from None
    except RecursionError:
        raise YamlError(f"{file}: nested too deeply to be a Kubernetes manifest") from None
    return lines


def _describe(error: MarkedYAMLError, file: str) -> str:
    mark = error.problem_mark or error.context_mark
    where = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark else file
    problem = error.problem or error.context or "invalid YAML"
    return f"{where}: not valid YAML: {problem}"


def _built(yaml: YAML, text: str, file: str) -> list[Any]:
    """Every document of ``text`` built by ``yaml`` (None for an empty one); call after :func:`_check`."""
    try:
        return list(yaml.load_all(io.StringIO(text)))
    except MarkedYAMLError as error:
        raise YamlError(_describe(error, file)) from None
    except YAMLError as error:
        raise YamlError(f"{file}: not valid YAML: {error}") from None


def _load(text: str, file: str, typ: str, max_nodes: int) -> list[Document]:
    lines = _check(text, file, max_nodes)
    loaded = _built(_yaml(typ), text, file)
    present = [(d, line) for d, line in zip(loaded, lines, strict=True) if d is not None]
    return [Document(data=d, file=file, index=i, line=line) for i, (d, line) in enumerate(present)]


def load_documents(text: str, *, file: str, max_nodes: int = MAX_NODES) -> list[Document]:
    """Every non-empty document of ``text`` as plain data. ``file`` is used in error messages only.

    One pass: each document is composed, checked (size after aliases, duplicate keys), then built.
    """
    _size_check(text, file)
    loader = _KubeLoader(text)
    documents: list[Document] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            _refuse_bomb(node, file, max_nodes)
            data = loader.construct_document(node)
            if data is not None:
                documents.append(
                    Document(data=data, file=file, index=len(documents), line=node.start_mark.line + 1)
                )
    except pyyaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark else file
        raise YamlError(
            f"{where}: not valid YAML: {error.problem or error.context or 'invalid YAML'}"
        ) from None
    except pyyaml.YAMLError as error:
        raise YamlError(f"{file}: not valid YAML: {error}") from None
    except RecursionError:
        raise YamlError(f"{file}: nested too deeply to be a Kubernetes manifest") from None
    finally:
        loader.dispose()
    return documents


def load_documents_with_lines(text: str, *, file: str, max_nodes: int = MAX_NODES) -> list[Document]:
    """Like :func:`load_documents`, but mappings keep line numbers: ``doc.data.lc.key(name)``."""
    return _load(text, file, "rt", max_nodes)


def load_round_trip(text: str, *, file: str, yaml: YAML, max_nodes: int = MAX_NODES) -> list[Any]:
    """Every document of ``text`` (None for an empty one) as ruamel's round-trip data, loaded by
    ``yaml`` (a ``typ="rt"`` instance: comments, key order and quoting kept for writing back).

    Bounded and checked like :func:`load_documents` (size, aliases followed, duplicate keys) before
    anything is built; ``file`` is used in error messages only.
    """
    _check(text, file, max_nodes)
    return _built(yaml, text, file)
