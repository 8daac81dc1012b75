"""Field paths over plain objects, and who owns them according to ``metadata.managedFields``.

The one field-path library: reading (:func:`get_path`, :func:`positions`, :func:`json_pointer`),
writing (:func:`set_value`, :func:`remove_path`, :func:`strategic_patch`) and comparing
(:func:`differences`), for the plan and for capture's edits of source files (ruamel's round-trip
data are dicts and lists too). Pure functions on dicts: no API access.

Lists whose items carry a merge key (containers and env by ``name``, ports by ``containerPort``,
...) are addressed by that key (``{"name": "web"}``), so a path stays valid when the list is
reordered; other lists are compared as one value (atomic), the way the API server treats most of
them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from plumbline.plan.attribution import Editor, FieldPath, PathPart

# Tried in order; the first that every item on both sides has, with unique values, keys the list.
MERGE_KEYS = ("name", "containerPort", "port", "mountPath", "devicePath", "ip", "topologyKey")


class _Absent:
    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()


def merge_key(*lists: list[Any]) -> str | None:
    """The merge key shared by every item of ``lists``, or None (the lists are then atomic)."""
    items = [item for items in lists for item in items]
    if not items or not all(isinstance(item, dict) for item in items):
        return None
    for key in MERGE_KEYS:
        if all(key in item for item in items) and all(
            len({json.dumps(i[key], sort_keys=True) for i in items}) == len(items) for items in lists
        ):
            return key
    return None


class PathError(Exception):
    """The path cannot be followed or written in this tree; the message says where it stopped."""


def _find(items: list[Any], part: dict[str, Any]) -> tuple[int, Any]:
    for index, item in enumerate(items):
        if isinstance(item, dict) and all(item.get(k) == v for k, v in part.items()):
            return index, item
    return -1, ABSENT


def _step(node: Any, part: PathPart) -> Any:
    """The child of ``node`` at one path part, or :data:`ABSENT`."""
    if isinstance(part, dict):
        return _find(node, part)[1] if isinstance(node, list) else ABSENT
    if isinstance(part, int):
        return node[part] if isinstance(node, list) and 0 <= part < len(node) else ABSENT
    return node[part] if isinstance(node, dict) and part in node else ABSENT


def _chain(obj: Any, path: FieldPath) -> list[Any] | None:
    """The nodes along ``path``: ``obj``, then the value at each prefix; None if one is absent."""
    chain = [obj]
    for part in path:
        node = _step(chain[-1], part)
        if node is ABSENT:
            return None
        chain.append(node)
    return chain


def get_path(obj: Any, path: FieldPath) -> Any:
    """The value at ``path`` in ``obj``, or :data:`ABSENT`."""
    chain = _chain(obj, path)
    return ABSENT if chain is None else chain[-1]


def positions(obj: Any, path: FieldPath) -> tuple[str | int, ...] | None:
    """``path`` with merge-key parts turned into positions in ``obj``; None if it is not there."""
    chain = _chain(obj, path)
    if chain is None:
        return None
    return tuple(
        _find(node, part)[0] if isinstance(part, dict) else part
        for node, part in zip(chain, path, strict=False)
    )


def json_pointer(obj: Any, path: FieldPath) -> str | None:
    """An RFC 6901 pointer to ``path`` in ``obj`` (merge keys resolved to positions), or None."""
    found = positions(obj, path)
    if found is None:
        return None
    return "/" + "/".join(str(part).replace("~", "~0").replace("/", "~1") for part in found)


def _remove(node: Any, part: PathPart) -> None:
    if isinstance(part, dict):
        node[:] = [item for item in node if _find([item], part)[0] < 0]
    else:
        del node[part]


def remove_path(obj: Any, path: FieldPath, *, in_source: bool = False) -> bool:
    """Remove the field at ``path`` (a key, a position, or a merge-keyed list item) from ``obj`` in
    place; True if it was there. Mappings left empty by the removal go too (an empty mapping in an
    apply would still claim the field). ``in_source`` (editing a file of the source): emptied lists go
    too, and a top-level field stays (a document keeps its ``data:``)."""
    chain = _chain(obj, path[:-1]) if path else None
    if chain is None or _step(chain[-1], path[-1]) is ABSENT:
        return False
    _remove(chain[-1], path[-1])
    for depth in range(len(path) - 1, 0, -1):
        container, part = chain[depth], path[depth - 1]
        if in_source:
            emptied = isinstance(container, dict | list) and not container and depth > 1
        else:
            emptied = container == {} and isinstance(part, str)
        if not emptied:
            break
        _remove(chain[depth - 1], part)
    return True


def shown(path: FieldPath) -> str:
    """``/spec/containers/[name=web]/image``: a path for messages."""
    parts = []
    for part in path:
        if isinstance(part, dict):
            parts.append("[" + ",".join(f"{k}={v}" for k, v in part.items()) + "]")
        else:
            parts.append(str(part))
    return "/" + "/".join(parts)


def set_value(root: Any, path: FieldPath, value: Any, *, convert: Any = None) -> None:
    """Make ``path`` hold ``value``, creating mappings and merge-keyed list items on the way.

    ``convert(old, new)`` may turn the new value into the representation to store (keeping the old
    scalar's quoting style, for instance). A position (int) past the end of a list is refused: a
    position says nothing about what the new item is. PathError where the path cannot be written.
    """
    if not path:
        raise PathError("an empty path cannot be set")
    node = root
    for depth, part in enumerate(path[:-1]):
        child = _step(node, part)
        if child is ABSENT:
            child = [] if isinstance(path[depth + 1], dict | int) else {}
            _insert(node, part, child, shown(path[: depth + 1]))
            if isinstance(part, dict):
                child = _step(node, part)
        elif not isinstance(child, dict | list):
            raise PathError(f"{shown(path[: depth + 1])} is a {type(child).__name__}, not a mapping or list")
        node = child
    last = path[-1]
    old = _step(node, last)
    if isinstance(last, dict) and isinstance(value, dict):
        value = {**last, **value}  # the item keeps its merge key
    stored = convert(old, value) if convert is not None else value
    if old is ABSENT:
        _insert(node, last, stored, shown(path))
    elif isinstance(last, dict):
        node[_find(node, last)[0]] = stored
    else:
        node[last] = stored
        _keep_comment_column(node, last, old, stored)


def _scalar_width(value: Any) -> int:
    quoted = type(value).__name__ in ("DoubleQuotedScalarString", "SingleQuotedScalarString")
    return len(str(value)) + (2 if quoted else 0)


def _keep_comment_column(node: Any, key: PathPart, old: Any, new: Any) -> None:
    """Move an end-of-line comment (ruamel round-trip data keeps its column) by as much as the value
    grew or shrank, so ``host: a  # why`` keeps its two spaces when ``a`` becomes longer."""
    items = getattr(getattr(node, "ca", None), "items", None)
    if not isinstance(items, dict) or isinstance(old, dict | list) or isinstance(new, dict | list):
        return
    entry = items.get(key)
    token = entry[2] if entry and len(entry) > 2 else None
    if token is not None and hasattr(token, "column"):
        token.column = max(0, token.column + _scalar_width(new) - _scalar_width(old))


def _insert(node: Any, part: PathPart, value: Any, where: str) -> None:
    if isinstance(part, dict):
        if not isinstance(node, list):
            raise PathError(f"{where}: the parent is not a list")
        if isinstance(value, list | dict) and not value:
            value = dict(part)  # a new list item starts with its merge key
        elif isinstance(value, dict):
            value = {**part, **value}
        node.append(value)
    elif isinstance(part, int):
        raise PathError(
            f"{where}: list position {part} does not exist, and a position cannot name a new item"
        )
    else:
        if not isinstance(node, dict):
            raise PathError(f"{where}: the parent is not a mapping")
        node[part] = value


def strategic_patch(obj: dict[str, Any], changes: list[tuple[FieldPath, Any]]) -> dict[str, Any]:
    """A strategic-merge patch for ``obj`` (apiVersion, kind, name, namespace) that sets each path to
    its value, or removes it when the value is None (``null`` for a key, ``$patch: delete`` for a
    merge-keyed item). Positions (int parts) cannot be expressed and raise :class:`PathError`."""
    metadata = obj.get("metadata") or {}
    patch: dict[str, Any] = {
        "apiVersion": obj.get("apiVersion"),
        "kind": obj.get("kind"),
        "metadata": {"name": metadata.get("name")},
    }
    if metadata.get("namespace"):
        patch["metadata"]["namespace"] = metadata["namespace"]
    for path, value in changes:
        if any(isinstance(part, int) for part in path):
            raise PathError(f"{shown(path)} addresses a list item by position; a patch cannot say which item")
        if value is None and isinstance(path[-1], dict):
            value = {"$patch": "delete"}
        set_value(patch, path, value)
    return patch


@dataclass(frozen=True)
class Difference:
    path: FieldPath
    live: Any  # ABSENT when live lacks it
    after: Any  # ABSENT when the other side lacks it


def differences(live: Any, after: Any, path: FieldPath = ()) -> Iterator[Difference]:
    """Every leaf (or whole added/removed subtree, or atomic list) where ``live`` and ``after`` differ."""
    if isinstance(live, dict) and isinstance(after, dict):
        for key in list(live) + [k for k in after if k not in live]:
            yield from differences(live.get(key, ABSENT), after.get(key, ABSENT), (*path, key))
        return
    if isinstance(live, list) and isinstance(after, list) and live != after:
        key = merge_key(live, after)
        if key is not None:
            before = {json.dumps(i[key], sort_keys=True): i for i in live}
            later = {json.dumps(i[key], sort_keys=True): i for i in after}
            for k in list(before) + [k for k in later if k not in before]:
                value = (before.get(k) or later.get(k) or {})[key]
                yield from differences(before.get(k, ABSENT), later.get(k, ABSENT), (*path, {key: value}))
            return
    if live != after:
        yield Difference(path, live, after)


def present(value: Any) -> Any:
    """ABSENT as None, for reports."""
    return None if value is ABSENT else value


# ---- managedFields ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Manager:
    """One ``metadata.managedFields`` entry."""

    editor: Editor
    fields: dict[str, Any]  # fieldsV1

    def owns(self, path: FieldPath) -> bool:
        """True if this entry owns ``path`` (the field, an atomic ancestor of it, or part of its subtree)."""
        node: Any = self.fields
        for part in path:
            if node == {}:
                return True  # an atomic ancestor: owned whole
            key = _child_key(node, part)
            if key is None:
                return False
            node = node[key]
        return True


def _child_key(node: dict[str, Any], part: PathPart) -> str | None:
    if isinstance(part, dict):
        for key in node:
            if key.startswith("k:"):
                try:
                    merge = json.loads(key[2:])
                except ValueError:
                    continue
                if isinstance(merge, dict) and all(merge.get(k) == v for k, v in part.items()):
                    return key
        return None
    key = f"i:{part}" if isinstance(part, int) else f"f:{part}"
    return key if key in node else None


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def managers(obj: dict[str, Any] | None) -> list[Manager]:
    """The field managers of ``obj`` (empty when it has none, e.g. not live)."""
    entries = ((obj or {}).get("metadata") or {}).get("managedFields") or []
    out = []
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("subresource"):
            continue  # status subresource writers do not own spec fields
        out.append(
            Manager(
                editor=Editor(
                    manager=str(entry.get("manager", "")),
                    operation=str(entry.get("operation", "")),
                    time=_time(entry.get("time")),
                ),
                fields=entry.get("fieldsV1") or {},
            )
        )
    return out


def owners(obj: dict[str, Any] | None, path: FieldPath) -> list[Editor]:
    """Who owns ``path`` in ``obj``, latest write first."""
    found = [m.editor for m in managers(obj) if m.owns(path)]
    return sorted(found, key=lambda e: e.time.timestamp() if e.time else 0.0, reverse=True)
