"""A plan without a cluster: two renders compared, for ``plumb check`` on a merge request.

The base revision's objects stand in for live state: an object only in head is a create, only in base
a prune candidate (``live`` is the base object), in both an update or unchanged. An update that changes
a field the API server would refuse to change in place carries a ``replace:`` note for the destructive
guard. Namespaces are defaulted to the app's, except for kinds known to be cluster-scoped.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any, Protocol

from plumbline.guards._objects import CLUSTER_SCOPED
from plumbline.guards.destructive import REPLACE_NOTE, changed_immutable
from plumbline.plan import Action, ObjectRef, Plan, PlanItem


class _Manifest(Protocol):
    @property
    def obj(self) -> dict[str, Any]: ...
    @property
    def file(self) -> str: ...


def _placed(obj: dict[str, Any], namespace: str) -> dict[str, Any]:
    obj = copy.deepcopy(obj)
    group = str(obj.get("apiVersion", "")).rpartition("/")[0]
    metadata = obj.setdefault("metadata", {})
    if (group, obj.get("kind")) in CLUSTER_SCOPED:
        metadata.pop("namespace", None)
    else:
        metadata.setdefault("namespace", namespace)
    return obj


def offline_plan(
    *,
    app: str,
    namespace: str,
    base: Sequence[_Manifest],
    head: Sequence[_Manifest],
    revision: str,
    sha: str,
) -> Plan:
    """``head`` compared with ``base`` as if base were live (see the module docstring)."""
    before = {ObjectRef.of(o): (o, m.file) for m in base for o in [_placed(m.obj, namespace)]}
    plan = Plan(app=app, revision=revision, sha=sha, namespace=namespace)
    for manifest in head:
        obj = _placed(manifest.obj, namespace)
        ref = ObjectRef.of(obj)
        old = before.pop(ref, None)
        live = old[0] if old else None
        note = ""
        if live is None:
            action = Action.CREATE
        elif live == obj:
            action = Action.UNCHANGED
        else:
            action = Action.UPDATE
            changed = changed_immutable(ref, live, obj)
            if changed:
                note = f"{REPLACE_NOTE}{changed} changed (immutable)"
        plan.items.append(_item(ref, action, manifest.file, obj, live, note))
    for ref, (obj, file) in before.items():
        plan.items.append(_item(ref, Action.PRUNE, file, None, obj))
    return plan


def _item(
    ref: ObjectRef,
    action: Action,
    source: str,
    desired: dict[str, Any] | None,
    live: dict[str, Any] | None,
    note: str = "",
) -> PlanItem:
    """An item as the dry run would predict it: the desired object applied as it is."""
    api_version = str((desired or live or {}).get("apiVersion", ""))
    return PlanItem(ref, action, source, desired, live, desired, api_version=api_version, note=note)
