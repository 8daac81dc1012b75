"""Runtime fields: what other controllers and the server own, so a difference there is not drift.

The default rules live here, in one place (documented in docs/runtime-fields.md); an app adds its own
with ``spec.ignoreDifferences``. A field an ignore rule matches is classified ``runtime``, is not a
change, and is dropped from the object plumbline applies, so server-side apply leaves it to its owner.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from plumbline.plan.attribution import FieldPath
from plumbline.plan.fields import Manager

# Field managers that are controllers of the cluster itself, not people or deploy tools.
CONTROLLER_MANAGERS = frozenset(
    {"kube-controller-manager", "kube-scheduler", "kubelet", "kube-apiserver", "cloud-controller-manager"}
)
# Kinds whose spec.replicas a HorizontalPodAutoscaler sets.
SCALABLE_KINDS = frozenset({("apps", "Deployment"), ("apps", "StatefulSet"), ("apps", "ReplicaSet")})
REPLICAS: FieldPath = ("spec", "replicas")
# What the API server sets on every Namespace: its name as a label, and the finalizer that holds its
# deletion until its content is gone.
NAMESPACE_NAME_LABEL: FieldPath = ("metadata", "labels", "kubernetes.io/metadata.name")
NAMESPACE_FINALIZERS: FieldPath = ("spec", "finalizers")


@dataclass(frozen=True)
class IgnoreRule:
    """Ignore differences on matching objects: at ``json_pointers`` and/or in fields ``managers`` own.

    ``group``/``kind``/``name`` are globs (``name`` None: every name). Pointers are JSON pointers;
    a list position may be written as ``*`` (any item) or ``[name=web]`` (the item with that key).
    """

    group: str = "*"
    kind: str = "*"
    name: str | None = None
    json_pointers: tuple[str, ...] = ()
    managers: tuple[str, ...] = ()
    reason: str = "spec.ignoreDifferences"

    def applies_to(self, *, group: str, kind: str, name: str) -> bool:
        return (
            fnmatchcase(group, self.group)
            and fnmatchcase(kind, self.kind)
            and (self.name is None or fnmatchcase(name, self.name))
        )


def _pointer_parts(pointer: str) -> list[str]:
    if pointer in ("", "/"):
        return []
    return [p.replace("~1", "/").replace("~0", "~") for p in pointer.lstrip("/").split("/")]


def pointer_matches(pointer: str, path: FieldPath) -> bool:
    """True if ``path`` is at or under ``pointer``."""
    parts = _pointer_parts(pointer)
    if len(parts) > len(path):
        return False
    for want, have in zip(parts, path, strict=False):
        if want == "*":
            continue
        if isinstance(have, dict):
            shown = "[" + ",".join(f"{k}={v}" for k, v in have.items()) + "]"
            if want != shown:
                return False
        elif str(have) != want:
            return False
    return True


@dataclass(frozen=True)
class RuntimeRules:
    """Everything that decides whether a field is runtime, for one plan."""

    rules: tuple[IgnoreRule, ...] = ()
    hpa_targets: frozenset[tuple[str, str, str, str]] = frozenset()  # (namespace, group, kind, name)
    controllers: frozenset[str] = CONTROLLER_MANAGERS
    self_manager: str = "plumbline"

    def why_ignored(
        self, obj: dict[str, Any], path: FieldPath, field_managers: list[Manager] | None = None
    ) -> str | None:
        """The rule (as people read it) that makes ``path`` of ``obj`` a runtime field, or None."""
        if path and path[0] == "status":
            return "status is reported by controllers"
        group = str(obj.get("apiVersion", "")).rpartition("/")[0]
        kind = str(obj.get("kind", ""))
        metadata = obj.get("metadata") or {}
        name, namespace = str(metadata.get("name", "")), str(metadata.get("namespace") or "")
        if path == REPLICAS and (namespace, group, kind, name) in self.hpa_targets:
            return "spec.replicas is set by a HorizontalPodAutoscaler"
        if (group, kind) == ("", "Namespace") and (
            path == NAMESPACE_NAME_LABEL
            or (path == NAMESPACE_FINALIZERS and (obj.get("spec") or {}).get("finalizers") == ["kubernetes"])
        ):
            return "set by the API server on every Namespace"
        owning = [m for m in field_managers or [] if m.owns(path)]
        if owning and all(m.editor.manager in self.controllers for m in owning):
            return f"owned by controller {', '.join(sorted({m.editor.manager for m in owning}))}"
        for rule in self.rules:
            if not rule.applies_to(group=group, kind=kind, name=name):
                continue
            if any(pointer_matches(p, path) for p in rule.json_pointers):
                return f"{rule.reason}: {kind} {name} {'/'.join(str(p) for p in rule.json_pointers)}"
            hit = [
                m.editor.manager
                for m in owning
                if any(fnmatchcase(m.editor.manager, g) for g in rule.managers)
            ]
            if hit:
                return f"{rule.reason}: owned by {', '.join(sorted(set(hit)))}"
        return None


@dataclass
class HpaTargets:
    """Collects (namespace, group, kind, name) of workloads HorizontalPodAutoscalers scale."""

    found: set[tuple[str, str, str, str]] = field(default_factory=set)

    def add(self, hpa: dict[str, Any]) -> None:
        ref = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
        group = str(ref.get("apiVersion", "")).rpartition("/")[0]
        namespace = str((hpa.get("metadata") or {}).get("namespace") or "")
        self.found.add((namespace, group, str(ref.get("kind", "")), str(ref.get("name", ""))))
