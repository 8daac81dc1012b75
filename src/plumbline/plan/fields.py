"""Field paths over plain objects, and who owns them according to ``metadata.managedFields``.

Pure functions on dicts: no API access. Lists whose items carry a merge key (containers and env by
``name``, ports by ``containerPort``, ...) are addressed by that key (``{"name": "web"}``), so a
path stays valid when the list is reordered; other lists are compared as one value (atomic), the way
the API server treats most of them.
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


def _find(items: list[Any], part: dict[str, Any]) -> tuple[int, Any]:
    for index, item in enumerate(items):
        if isinstance(item, dict) and all(item.get(k) == v for k, v in part.items()):
            return index, item
    return -1, ABSENT


def get_path(obj: Any, path: FieldPath) -> Any:
    """The value at ``path`` in ``obj``, or :data:`ABSENT`."""
    node = obj
    for part in path:
        if isinstance(part, dict):
            if not isinstance(node, list):
                return ABSENT
            node = _find(node, part)[1]
        elif isinstance(part, int):
            if not isinstance(node, list) or not 0 <= part < len(node):
                return ABSENT
            node = node[part]
        else:
            if not isinstance(node, dict) or part not in node:
                return ABSENT
            node = node[part]
        if node is ABSENT:
            return ABSENT
    return node


def remove_path(obj: Any, path: FieldPath) -> bool:
    """Remove the field at ``path`` from ``obj`` in place; True if it was there. Mappings left empty
    by the removal are removed too (an empty mapping in an apply would still claim the field)."""
    if not path:
        return False
    parents: list[tuple[Any, PathPart]] = []
    node = obj
    for part in path[:-1]:
        parents.append((node, part))
        node = get_path(node, (part,))
        if node is ABSENT:
            return False
    last = path[-1]
    if isinstance(last, dict):
        if not isinstance(node, list):
            return False
        index, _ = _find(node, last)
        if index < 0:
            return False
        del node[index]
    elif isinstance(last, int):
        if not isinstance(node, list) or not 0 <= last < len(node):
            return False
        del node[last]
    else:
        if not isinstance(node, dict) or last not in node:
            return False
        del node[last]
    for parent, part in reversed(parents):
        child = get_path(parent, (part,))
        if isinstance(child, dict) and not child and isinstance(part, str) and isinstance(parent, dict):
            del parent[part]
        else:
            break
    return True


def json_pointer(obj: Any, path: FieldPath) -> str | None:
    """An RFC 6901 pointer to ``path`` in ``obj`` (merge keys resolved to positions), or None."""
    node = obj
    out: list[str] = []
    for part in path:
        if isinstance(part, dict):
            if not isinstance(node, list):
                return None
            index, node = _find(node, part)
            if index < 0:
                return None
            out.append(str(index))
        else:
            node = get_path(node, (part,))
            if node is ABSENT:
                return None
            out.append(str(part).replace("~", "~0").replace("/", "~1"))
    return "/" + "/".join(out)


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
