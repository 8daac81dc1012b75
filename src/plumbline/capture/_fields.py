"""Reading and writing a :data:`FieldPath` in an object tree (plain data or ruamel's round-trip data).

Merge-key parts (``{"name": "web"}``) address the list item whose entries match, not a position, so
an edit lands on the right container or env var even if the file lists them in another order.
"""

from __future__ import annotations

from typing import Any

from plumbline.plan.attribution import FieldPath, PathPart

ABSENT: Any = object()


class PathError(Exception):
    """The path cannot be followed or written in this tree; the message says where it stopped."""


def _matches(item: Any, key: dict[str, Any]) -> bool:
    return isinstance(item, dict) and all(item.get(k) == v for k, v in key.items())


def _step(node: Any, part: PathPart) -> Any:
    if isinstance(part, dict):
        if isinstance(node, list):
            for item in node:
                if _matches(item, part):
                    return item
        return ABSENT
    if isinstance(part, int):
        if isinstance(node, list) and 0 <= part < len(node):
            return node[part]
        return ABSENT
    if isinstance(node, dict) and part in node:
        return node[part]
    return ABSENT


def get(node: Any, path: FieldPath) -> Any:
    """The value at ``path``, or :data:`ABSENT`."""
    for part in path:
        node = _step(node, part)
        if node is ABSENT:
            return ABSENT
    return node


def shown(path: FieldPath) -> str:
    parts = []
    for part in path:
        if isinstance(part, dict):
            parts.append("[" + ",".join(f"{k}={v}" for k, v in part.items()) + "]")
        else:
            parts.append(str(part))
    return "/" + "/".join(parts)


def _new_container(part: PathPart) -> Any:
    return [] if isinstance(part, dict | int) else {}


def set_value(root: Any, path: FieldPath, value: Any, *, convert: Any = None) -> None:
    """Make ``path`` hold ``value``, creating mappings and merge-keyed list items on the way.

    ``convert(old, new)`` may turn the new value into the representation to store (keeping the old
    scalar's quoting style, for instance). A position (int) past the end of a list is refused: a
    position says nothing about what the new item is.
    """
    if not path:
        raise PathError("an empty path cannot be set")
    node = root
    for depth, part in enumerate(path[:-1]):
        child = _step(node, part)
        if child is ABSENT:
            child = _new_container(path[depth + 1])
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
        index = next(i for i, item in enumerate(node) if _matches(item, last))
        node[index] = stored
    else:
        node[last] = stored
        _keep_comment_column(node, last, old, stored)


def _scalar_width(value: Any) -> int:
    quoted = type(value).__name__ in ("DoubleQuotedScalarString", "SingleQuotedScalarString")
    return len(str(value)) + (2 if quoted else 0)


def _keep_comment_column(node: Any, key: PathPart, old: Any, new: Any) -> None:
    """Move an end-of-line comment (ruamel keeps its column) by as much as the value grew or shrank,
    so ``host: a  # why`` keeps its two spaces when ``a`` becomes longer."""
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


def delete(root: Any, path: FieldPath) -> None:
    """Remove ``path`` (a key, or a merge-keyed list item); mappings and lists it leaves empty go too.

    Removing what is not there is not an error: the result is the same.
    """
    chain = [root]
    for part in path[:-1]:
        node = _step(chain[-1], part)
        if node is ABSENT:
            return
        chain.append(node)
    _remove(chain[-1], path[-1])
    for depth in range(len(path) - 1, 0, -1):
        container = chain[depth]
        if isinstance(container, dict | list) and not container and depth > 1:
            _remove(chain[depth - 1], path[depth - 1])
        else:
            break


def _remove(node: Any, part: PathPart) -> None:
    if isinstance(part, dict):
        if isinstance(node, list):
            node[:] = [item for item in node if not _matches(item, part)]
    elif isinstance(part, int):
        if isinstance(node, list) and 0 <= part < len(node):
            del node[part]
    elif isinstance(node, dict) and part in node:
        del node[part]


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
        if value is None:
            last = path[-1]
            if isinstance(last, dict):
                set_value(patch, path, {"$patch": "delete"})
            else:
                set_value(patch, path, None)
        else:
            set_value(patch, path, value)
    return patch
