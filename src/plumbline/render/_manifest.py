"""Rendered objects (:class:`Manifest`) and the checks every renderer's output goes through."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from plumbline.errors import RenderError
from plumbline.yamlio import Document


@dataclass(frozen=True)
class Manifest:
    """One desired Kubernetes object and where it came from.

    ``file`` is the path, relative to the repository root, of the file the object was read from: the
    YAML file for plain directories, the template for Helm (from its ``# Source:`` comment), the app
    path for Kustomize (whose output does not say). ``index`` is the document's position in that file
    (for Helm: among the documents rendered from that template).
    """

    obj: dict[str, Any]
    file: str
    index: int

    @property
    def api_version(self) -> str:
        return str(self.obj["apiVersion"])

    @property
    def kind(self) -> str:
        return str(self.obj["kind"])

    @property
    def group(self) -> str:
        """The API group: ``apps`` for ``apps/v1``, ``""`` for the core group (``v1``)."""
        return self.api_version.rpartition("/")[0]

    @property
    def name(self) -> str:
        return str(self.obj["metadata"]["name"])

    @property
    def namespace(self) -> str | None:
        namespace = self.obj["metadata"].get("namespace")
        return str(namespace) if namespace else None

    @property
    def key(self) -> tuple[str, str, str | None, str]:
        """Identity: (group, kind, namespace, name). The version is not part of it, as for the API."""
        return (self.group, self.kind, self.namespace, self.name)

    @property
    def ref(self) -> str:
        """For people: ``Deployment shop/web``, or ``ClusterRole/admin`` without a namespace."""
        if self.namespace:
            return f"{self.kind} {self.namespace}/{self.name}"
        return f"{self.kind}/{self.name}"

    @property
    def where(self) -> str:
        """``file`` and document index, for messages: ``apps/web/deploy.yaml (document 2)``."""
        return f"{self.file} (document {self.index + 1})"


def manifests_from(document: Document, *, file: str | None = None) -> list[Manifest]:
    """The object(s) in one document, checked: a mapping with apiVersion, kind and metadata.name.

    A ``List`` (``kind: List`` or ``*List`` with ``items``, as kubectl reads them) is flattened into
    its items, each checked. ``file`` overrides ``document.file`` in the result (the document's own
    name may say more in errors, e.g. "kustomize output").

    Raises :class:`RenderError` naming the file, the line and what is missing.
    """
    shown = file or document.file
    where = f"{document.file}:{document.line}" if document.line else document.file
    label = f"{where} (document {document.index + 1})"
    data = document.data
    if isinstance(data, dict) and _is_list(data):
        items = data.get("items") or []
        if not isinstance(items, list):
            raise RenderError(f"{label}: {data.get('kind')}.items must be a list of objects")
        return [
            Manifest(obj=_checked(item, f"{label}, item {n + 1}"), file=shown, index=document.index)
            for n, item in enumerate(items)
        ]
    return [Manifest(obj=_checked(data, label), file=shown, index=document.index)]


def _is_list(data: dict[str, Any]) -> bool:
    kind = data.get("kind")
    # Only the core group (v1) has List kinds, so a custom resource named "...List" is not one.
    return (
        isinstance(kind, str) and kind.endswith("List") and data.get("apiVersion") == "v1" and "items" in data
    )


def _checked(data: Any, label: str) -> dict[str, Any]:
    expected = "a Kubernetes object (a mapping with apiVersion, kind and metadata.name)"
    if not isinstance(data, dict):
        raise RenderError(f"{label}: this is a {_type_name(data)}, not {expected}")
    for field in ("apiVersion", "kind"):
        value = data.get(field)
        if not isinstance(value, str) or not value.strip():
            problem = "has no" if value is None else "has an invalid"
            raise RenderError(f"{label}: this document {problem} {field}; every object needs {expected[2:]}")
    metadata = data.get("metadata")
    what = f"{data['kind']}"
    if not isinstance(metadata, dict):
        raise RenderError(f"{label}: the {what} has no metadata; it needs metadata.name")
    name = metadata.get("name")
    if not isinstance(name, str) or not name:
        if metadata.get("generateName"):
            raise RenderError(
                f"{label}: the {what} uses metadata.generateName; plumbline needs a fixed metadata.name "
                "to compare Git with the cluster (a generated name is a new object on every sync)"
            )
        raise RenderError(f"{label}: the {what} has no metadata.name")
    namespace = metadata.get("namespace")
    if namespace is not None and not isinstance(namespace, str):
        raise RenderError(f"{label}: the {what} {name}: metadata.namespace must be a string")
    return data


def _type_name(data: Any) -> str:
    if isinstance(data, list):
        return "list"
    if isinstance(data, str):
        return "string"
    if isinstance(data, bool):
        return "boolean"
    if isinstance(data, int | float):
        return "number"
    return type(data).__name__


def check_unique(manifests: Iterable[Manifest]) -> None:
    """Refuse two objects with the same group, kind, namespace and name, naming both files."""
    seen: dict[tuple[str, str, str | None, str], Manifest] = {}
    for manifest in manifests:
        first = seen.setdefault(manifest.key, manifest)
        if first is not manifest:
            raise RenderError(
                f"{manifest.ref} is defined twice: in {first.where} and in {manifest.where}; "
                "each object may come from one place only"
            )
