"""Three-way attribution: for each field a sync would change, whose change it is.

Inputs per object: the desired object (what would be applied), the server's prediction (dry-run
apply), the live object with its ``managedFields``, and the desired object of the last successful
sync (None when there was none). Pure logic: see :func:`attribute`.

The rules, field by field where live and the prediction differ:

* an ignore rule (status, HPA replicas, controller-owned, ``spec.ignoreDifferences``) → ``runtime``;
* Git does not set the field and the server keeps both values → ``runtime`` (defaulting, admission);
* Git does not set it but the prediction drops it (plumbline set it before) → ``commit``;
* with a last sync: Git's value equals the last-synced value → ``drift-revert`` (live moved, Git
  did not); else live still has the last-synced value → ``commit``; else → ``conflict``;
* without a last sync: another manager owns the live field → ``drift-revert``; else ``commit``.

Fields live has, Git never had, that the prediction keeps (server-side apply never removes what
another manager owns) and that a person's field manager owns → ``unmanaged-addition``.

All four objects are compared with secret values fingerprinted (:mod:`plumbline.redact`): the
history keeps only fingerprints, equal values have equal fingerprints, and so every change carries
fingerprints, never a secret value.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from plumbline.plan.attribution import Attribution, Editor, FieldChange, FieldPath
from plumbline.plan.fields import (
    ABSENT,
    Manager,
    differences,
    get_path,
    managers,
    merge_key,
    present,
    remove_path,
)
from plumbline.plan.model import ObjectRef
from plumbline.plan.normalize import comparable
from plumbline.plan.runtime import RuntimeRules
from plumbline.redact import Redactor, ephemeral


def leaves(obj: Any, path: FieldPath = ()) -> Iterator[FieldPath]:
    """Every leaf path of ``obj`` (keyed list items are descended, atomic lists are leaves)."""
    if isinstance(obj, dict) and obj:
        for key, value in obj.items():
            yield from leaves(value, (*path, key))
        return
    if isinstance(obj, list) and obj and (key := merge_key(obj)) is not None:
        for item in obj:
            yield from leaves(item, (*path, {key: item[key]}))
        return
    yield path


def strip_runtime(
    desired: dict[str, Any],
    *,
    live: dict[str, Any] | None,
    rules: RuntimeRules,
    redactor: Redactor | None = None,
) -> tuple[dict[str, Any], list[FieldChange]]:
    """``desired`` without the fields ignore rules give to others (applying it leaves them to their
    owners), and a ``runtime`` change for each of those where live differs from Git."""
    redactor = redactor or ephemeral()
    field_managers = managers(live)
    ref = ObjectRef.of(desired)
    nlive = comparable(live, redactor)
    shown: dict[str, Any] | None = None  # ``desired`` with secret values fingerprinted, when needed
    dropped: list[FieldChange] = []
    out = desired
    for path in list(leaves(desired)):
        if path[:1] in (("apiVersion",), ("kind",)) or path[:2] in (
            ("metadata", "name"),
            ("metadata", "namespace"),
        ):
            continue
        reason = rules.why_ignored(desired, path, field_managers)
        if reason is None:
            continue
        if out is desired:
            out = copy.deepcopy(desired)
        if shown is None:
            shown = redactor.redact(desired)
        git = get_path(shown, path)
        remove_path(out, path)
        live_value = get_path(nlive, path) if nlive is not None else ABSENT
        if live is not None and live_value != git:
            dropped.append(
                FieldChange(
                    ref=ref,
                    path=path,
                    attribution=Attribution.RUNTIME,
                    live=present(live_value),
                    git=present(git),
                    editor=_latest(field_managers, path, exclude=()),
                    rule=reason,
                )
            )
    return out, dropped


def _latest(field_managers: list[Manager], path: FieldPath, *, exclude: tuple[str, ...]) -> Editor | None:
    found = [m.editor for m in field_managers if m.owns(path) and m.editor.manager not in exclude]
    found.sort(key=lambda e: e.time.timestamp() if e.time else 0.0, reverse=True)
    return found[0] if found else None


def attribute(
    *,
    ref: ObjectRef,
    desired: dict[str, Any] | None,
    predicted: dict[str, Any] | None,
    live: dict[str, Any] | None,
    last_synced: dict[str, Any] | None,
    rules: RuntimeRules,
    redactor: Redactor | None = None,
) -> list[FieldChange]:
    """The attributed field changes of one object (see the module docstring for the rules), their
    values fingerprinted by ``redactor`` where secret (default: a key of this process alone)."""
    if desired is None:
        return [FieldChange(ref=ref, path=(), attribution=Attribution.PRUNE)]
    if live is None:
        return [FieldChange(ref=ref, path=(), attribution=Attribution.CREATE)]
    me = rules.self_manager
    field_managers = managers(live)
    redactor = redactor or ephemeral()
    nlive = comparable(live, redactor)
    nafter = comparable(predicted if predicted is not None else desired, redactor)
    ndesired = comparable(desired, redactor)
    nlast = comparable(last_synced, redactor)
    changes: list[FieldChange] = []
    for d in differences(nlive, nafter):
        path = d.path
        git = get_path(ndesired, path)
        last = get_path(nlast, path) if nlast is not None else ABSENT
        editor = _latest(field_managers, path, exclude=(me,))
        base = {"ref": ref, "path": path, "live": present(d.live), "git": present(d.after), "editor": editor}
        base["last_synced"] = present(last)
        reason = rules.why_ignored(live, path, field_managers)
        if reason is not None:
            changes.append(FieldChange(**base, attribution=Attribution.RUNTIME, rule=reason))
        elif git is ABSENT:
            if d.after is ABSENT:
                changes.append(FieldChange(**base, attribution=Attribution.COMMIT))  # Git dropped a field
            else:
                rule = "set by the server (defaulting or admission), not by Git"
                changes.append(FieldChange(**base, attribution=Attribution.RUNTIME, rule=rule))
        elif nlast is not None:
            if last == git:
                changes.append(FieldChange(**base, attribution=Attribution.DRIFT_REVERT))
            elif d.live == last:
                changes.append(FieldChange(**base, attribution=Attribution.COMMIT))
            else:
                changes.append(FieldChange(**base, attribution=Attribution.CONFLICT))
        elif editor is not None:
            changes.append(FieldChange(**base, attribution=Attribution.DRIFT_REVERT))
        else:
            changes.append(FieldChange(**base, attribution=Attribution.COMMIT))
    changes += _additions(ref, nlive, ndesired, nafter, field_managers, rules, live)
    return changes


def _additions(
    ref: ObjectRef,
    nlive: Any,
    ndesired: Any,
    nafter: Any,
    field_managers: list[Manager],
    rules: RuntimeRules,
    live: dict[str, Any],
) -> list[FieldChange]:
    """Fields live has and Git never had, that a sync would keep, written by a person's manager."""
    out: list[FieldChange] = []
    skip = {rules.self_manager, *rules.controllers}

    def check(path: FieldPath, value: Any) -> None:
        owning = [m for m in field_managers if m.owns(path)]
        if any(m.editor.manager == rules.self_manager for m in owning):
            return
        people = [m for m in owning if m.editor.manager not in skip]
        if not people or get_path(nafter, path) != value:
            return
        if rules.why_ignored(live, path, field_managers) is not None:
            return
        editor = _latest(people, path, exclude=())
        out.append(
            FieldChange(
                ref=ref, path=path, attribution=Attribution.UNMANAGED_ADDITION, live=value, editor=editor
            )
        )

    def walk(node: Any, want: Any, path: FieldPath) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                inner = want.get(key, ABSENT) if isinstance(want, dict) else ABSENT
                if inner is ABSENT and not isinstance(value, (dict, list)):
                    check((*path, key), value)
                else:
                    walk(value, inner, (*path, key))
            return
        if isinstance(node, list) and (key := merge_key(node)) is not None:
            for item in node:
                part = {key: item[key]}
                inner = get_path(want, (part,)) if isinstance(want, list) else ABSENT
                if inner is ABSENT:
                    check((*path, part), item)
                else:
                    walk(item, inner, (*path, part))
            return
        if want is ABSENT:
            check(path, node)

    walk(nlive, ndesired, ())
    return out
