"""Round-trip YAML editing with ruamel: comments, key order and quoting survive; the indentation style
of the file (how far lists are indented under their key) is detected and kept. Files are read through
:func:`plumbline.yamlio.load_round_trip`, so a source file is bounded as every render's input is
(size, alias bombs, duplicate keys)."""

from __future__ import annotations

import difflib
import io
import re
from typing import Any

import yaml as pyyaml
from ruamel.yaml import YAML
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString

from plumbline.capture._model import FileEdit
from plumbline.yamlio import load_round_trip

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


def load_all(text: str, *, file: str) -> list[Any]:
    """The documents of ``text`` (the file ``file`` of the source), for editing and :func:`rewrite`.
    YamlError (naming ``file``) for a file too large, an alias bomb or YAML that is not valid."""
    return load_round_trip(text, file=file, yaml=yaml_for(text))


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


# --- writing an edit back: only what changed --------------------------------------------------------

_SEPARATOR = re.compile(r"^(?:---|\.\.\.)(?:[ \t].*)?$")


def rewrite(old: str, documents: list[Any], *, file: str) -> str:
    """``old`` with the edits made to ``documents`` (its documents from :func:`load_all`), and nothing else.

    A person's edit of one field changes one line; so does ours. A changed scalar is replaced where it
    stands, in its own quoting style; every other byte of the file — a licence header before the first
    ``---``, other documents, comments, each list's own indentation — stays as it was. A document whose
    shape changed (a key or list item added or removed, a multi-line value) gets only the lines of that
    change: the document is dumped before and after the edit, and the lines that differ are applied to
    the original text. Only if they touch lines the dump would have written differently is that one
    document written out whole, in its own detected style.
    """
    originals = load_all(old, file=file)  # checked before it is composed again here
    nodes = list(YAML(typ="rt").compose_all(io.StringIO(old)))
    if not (len(nodes) == len(originals) == len(documents)):
        return dump_all(yaml_for(old), documents)  # cannot line documents up: never guess
    spans: list[tuple[int, int, str]] = []  # (start, end, replacement) in ``old``
    regions = _regions(old)
    for node, original, document in zip(nodes, originals, documents, strict=True):
        if _same(original, document):
            continue
        scalars: list[tuple[int, int, str]] = []
        if node is not None and _scalar_edits(node, original, document, scalars):
            spans += scalars
            continue
        region = _region_of(regions, node)
        if region is None:
            return dump_all(yaml_for(old), documents)
        start, end = region
        spans.append((start, end, _merge_document(old[start:end], original, document)))
    new = old
    for start, end, text in sorted(spans, reverse=True):
        new = new[:start] + text + new[end:]
    return new


def _same(a: Any, b: Any) -> bool:
    return (type(a) is type(b) and a == b) or (a is None and b is None)


def _scalar_edits(node: Any, original: Any, document: Any, out: list[tuple[int, int, str]]) -> bool:
    """Collect the replacement of every changed scalar; False if anything but scalars changed."""
    from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

    if isinstance(node, MappingNode):
        if not isinstance(original, dict) or not isinstance(document, dict):
            return False
        if list(original.keys()) != list(document.keys()) or len(node.value) != len(original):
            return False
        for (key, value), name in zip(node.value, original.keys(), strict=True):
            if not isinstance(key, ScalarNode) or key.tag == "tag:yaml.org,2002:merge":
                return False
            if not _scalar_edits(value, original[name], document[name], out):
                return False
        return True
    if isinstance(node, SequenceNode):
        if not isinstance(original, list) or not isinstance(document, list) or len(original) != len(document):
            return False
        if len(node.value) != len(original):
            return False
        triples = zip(node.value, original, document, strict=True)
        return all(_scalar_edits(n, o, d, out) for n, o, d in triples)
    if not isinstance(node, ScalarNode):
        return False
    if _same(original, document):
        return True
    if isinstance(document, dict | list) or node.anchor is not None:
        return False
    text = _scalar_text(document, node.style)
    if text is None:
        return False
    out.append((node.start_mark.index, node.end_mark.index, text))
    return True


def _scalar_text(value: Any, style: str | None) -> str | None:
    """``value`` as one YAML scalar in ``style`` (None: plain where safe), or None if it needs more than
    one line or a style that cannot be kept."""
    import json

    if style in ("|", ">"):
        return None
    if isinstance(value, DoubleQuotedScalarString):
        style = '"'
    elif isinstance(value, SingleQuotedScalarString):
        style = "'"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    if not isinstance(value, str) or "\n" in value or "\r" in value:
        return None
    if style == "'":
        return "'" + value.replace("'", "''") + "'"
    if style is None and _plain_is_safe(value):
        return value
    return json.dumps(str(value), ensure_ascii=False)


def _plain_is_safe(value: str) -> bool:
    """True if ``value`` written plain after ``key:`` reads back as that very string in YAML 1.1 and 1.2."""
    if not value or value != value.strip() or isinstance(safe_strings(value), DoubleQuotedScalarString):
        return False
    try:
        return bool(pyyaml.safe_load(f"k: {value}\n") == {"k": value})
    except pyyaml.YAMLError:
        return False


def _regions(text: str) -> list[tuple[int, int]]:
    """Each document's text, between the separator lines (``---``, ``...``), as (start, end) offsets."""
    regions: list[tuple[int, int]] = []
    start = offset = 0
    for line in text.splitlines(keepends=True):
        if _SEPARATOR.match(line.rstrip("\r\n")):
            regions.append((start, offset))
            start = offset + len(line)
        offset += len(line)
    regions.append((start, len(text)))
    return regions


def _region_of(regions: list[tuple[int, int]], node: Any) -> tuple[int, int] | None:
    """The region holding ``node``; None if it starts on a separator line (``--- |``) or is missing."""
    if node is None:
        return None
    index = node.start_mark.index
    for start, end in regions:
        if start <= index < end or (start == end == index):
            return start, end
    return None


def _merge_document(text: str, original: Any, document: Any) -> str:
    """``text`` (one document) with the lines that changed between ``original`` and ``document``."""
    yaml = yaml_for(text)
    yaml.explicit_start = False
    before = dump_all(yaml, [original]).splitlines(keepends=True)
    after = dump_all(yaml, [document])
    merged = _apply_line_changes(before, after.splitlines(keepends=True), text.splitlines(keepends=True))
    if merged is None:
        return after
    return "".join(merged)


def _apply_line_changes(base: list[str], changed: list[str], ours: list[str]) -> list[str] | None:
    """``ours`` with the changes from ``base`` to ``changed`` applied (a three-way merge by lines); None
    where a change touches a line that ``ours`` has differently from ``base``.

    Lines are matched without their indentation, and each change is shifted by the indentation
    difference of the line it is anchored to: a file whose lists sit two columns deeper than the dump's
    gets its new list item two columns deeper too.
    """
    stripped = [line.strip() for line in ours]
    to_ours: dict[int, int] = {}
    matcher = difflib.SequenceMatcher(None, [line.strip() for line in base], stripped, autojunk=False)
    for tag, i1, i2, j1, _ in matcher.get_opcodes():
        if tag == "equal":
            to_ours.update({i1 + k: j1 + k for k in range(i2 - i1)})
    result = list(ours)
    hunks = difflib.SequenceMatcher(None, base, changed, autojunk=False).get_opcodes()
    for tag, i1, i2, j1, j2 in reversed(hunks):
        if tag == "equal":
            continue
        if i1 < i2:
            where = [to_ours.get(i) for i in range(i1, i2)]
            first = where[0]
            if first is None or where != list(range(first, first + (i2 - i1))):
                return None
            anchor, at, span = i1, first, i2 - i1
        elif i1 - 1 in to_ours:
            anchor, at, span = i1 - 1, to_ours[i1 - 1] + 1, 0
        elif i1 in to_ours:
            anchor, at, span = i1, to_ours[i1], 0
        else:
            return None
        shift = _indent(ours[to_ours[anchor]]) - _indent(base[anchor])
        result[at : at + span] = [_shifted(line, shift) for line in changed[j1:j2]]
    return result


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _shifted(line: str, shift: int) -> str:
    if shift >= 0 or not line.strip():
        return " " * shift + line if line.strip() else line
    return line[min(-shift, _indent(line)) :]
