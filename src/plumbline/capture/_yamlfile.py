"""Round-trip YAML editing with ruamel: comments, key order and quoting survive; the indentation style
of the file (how far lists are indented under their key) is detected and kept."""

from __future__ import annotations

import difflib
import io
import re
from typing import Any

import yaml as pyyaml
from ruamel.yaml import YAML
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString

from plumbline.capture._model import FileEdit

_KEY = re.compile(r"^(\s*)(?:- )?[^\s#-][^:#]*:\s*(#.*)?$")
_ITEM = re.compile(r"^(\s*)- ")


def _style(text: str) -> tuple[int, int, int]:
    """(mapping indent, sequence indent, sequence dash offset) as ``ruamel.yaml.YAML.indent`` takes them.

    Kubernetes YAML comes in two styles: lists flush with their key (``containers:\\n- name``) or
    indented under it (``containers:\\n  - name``); the first list under a key decides.
    """
    mapping = 2
    lines = text.splitlines()
    for i, line in enumerate(lines[:-1]):
        key = _KEY.match(line)
        if not key or line.lstrip().startswith("- "):
            continue
        following = next((n for n in lines[i + 1 :] if n.strip() and not n.lstrip().startswith("#")), "")
        item = _ITEM.match(following)
        if item:
            offset = len(item.group(1)) - len(key.group(1))
            if offset <= 0:
                return mapping, 2, 0
            return mapping, offset + 2, offset
        nested = re.match(r"^(\s*)\S", following)
        if nested and len(nested.group(1)) > len(key.group(1)):
            mapping = len(nested.group(1)) - len(key.group(1))
    return mapping, 2, 0


def yaml_for(text: str) -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap long values
    mapping, sequence, offset = _style(text)
    yaml.indent(mapping=mapping, sequence=max(sequence, offset + 2), offset=offset)
    yaml.explicit_start = text.lstrip().startswith("---")
    return yaml


def load_all(text: str) -> tuple[YAML, list[Any]]:
    yaml = yaml_for(text)
    return yaml, list(yaml.load_all(io.StringIO(text)))


def dump_all(yaml: YAML, documents: list[Any]) -> str:
    stream = io.StringIO()
    yaml.dump_all(documents, stream)
    return stream.getvalue()


def dump_one(data: Any) -> str:
    yaml = YAML(typ="rt")
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.representer.add_representer(
        type(None), lambda r, _: r.represent_scalar("tag:yaml.org,2002:null", "null")
    )
    stream = io.StringIO()
    yaml.dump(safe_strings(data), stream)
    return stream.getvalue()


def keep_quoting(old: Any, new: Any) -> Any:
    """The new value, quoted the way the old one was (a string replacing a quoted string), and quoted
    anyway where kubectl's YAML 1.1 would read it as something else (``on``, ``yes``, ``0755``)."""
    if isinstance(new, str) and isinstance(old, DoubleQuotedScalarString | SingleQuotedScalarString):
        return type(old)(new)
    return safe_strings(new)


_RESOLVER = pyyaml.resolver.Resolver()


def safe_strings(value: Any) -> Any:
    """``value`` with every string that YAML 1.1 would not read back as that string double-quoted.

    ruamel writes YAML 1.2, where ``on`` and ``no`` are strings; kubectl, Helm and plumbline read YAML
    1.1, where they are booleans. A captured ``value: on`` must stay the string it was live.
    """
    if isinstance(value, dict):
        return {k: safe_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [safe_strings(v) for v in value]
    if isinstance(value, str) and not isinstance(value, DoubleQuotedScalarString | SingleQuotedScalarString):
        tag = _RESOLVER.resolve(pyyaml.ScalarNode, value, (True, False))  # type: ignore[no-untyped-call]
        if tag != "tag:yaml.org,2002:str":
            return DoubleQuotedScalarString(value)
    return value


def edit(path: str, old: str | None, new: str) -> FileEdit:
    diff = "".join(
        difflib.unified_diff(
            (old or "").splitlines(keepends=True),
            new.splitlines(keepends=True),
            fromfile="/dev/null" if old is None else f"a/{path}",
            tofile=f"b/{path}",
        )
    )
    return FileEdit(path=path, content=new, diff=diff, created=old is None)
