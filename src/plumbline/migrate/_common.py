"""What the Argo CD and Flux converters share: names, metadata, the check that what is written is
valid plumbline configuration, and the assembly of the result."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ValidationError

from plumbline.config import App, Environment, Project, check_dns1123_label
from plumbline.migrate._report import Abandon, Path, Reading
from plumbline.migrate._result import ImportResult, Written

_MODELS: dict[str, type[BaseModel]] = {"App": App, "Project": Project, "Environment": Environment}

SERVER_SET_WHY = "kept by the API server, not configuration"


def label(name: str, what: str) -> str:
    """``name`` if it is a DNS-1123 label (plumbline's names are); else Abandon saying so."""
    try:
        return check_dns1123_label(name)
    except ValueError as error:
        raise Abandon(f"{what} {name!r} cannot be a plumbline name: {error}") from None


def metadata(
    r: Reading, *, own: tuple[str, ...], own_why: str, to: str, finalizers_why: str
) -> dict[str, Any]:
    """The labels and annotations carried to the plumbline object (``to`` names it); annotations whose
    key contains one of ``own`` are the tool's own instructions (``own_why``) and are not carried.
    Every other metadata field is reported, except ``namespace``: the caller says what became of it."""
    meta = r.get(("metadata",), dict, {}) or {}
    out: dict[str, Any] = {}
    r.carry(("metadata", "name"), f"{to}.metadata.name")
    r.drop(("metadata", "finalizers"), finalizers_why)
    labels = r.get(("metadata", "labels"), dict, {}) or {}
    r.carry(("metadata", "labels"), f"{to}.metadata.labels")
    if labels:
        out["labels"] = {str(k): str(v) for k, v in labels.items()}
    annotations = r.get(("metadata", "annotations"), dict, {}) or {}
    kept = {}
    if not annotations:
        r.carry(("metadata", "annotations"), f"{to}.metadata.annotations")
    for key, value in annotations.items():
        path: Path = ("metadata", "annotations", str(key))
        if any(o in str(key) for o in own):
            r.drop(path, own_why)
        else:
            kept[str(key)] = str(value)
            r.carry(path, f"{to}.metadata.annotations")
    if kept:
        out["annotations"] = kept
    for key in meta:
        if key not in ("name", "namespace", "finalizers", "labels", "annotations"):
            r.drop(("metadata", key), SERVER_SET_WHY)
    return out


def valid(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` if plumbline's configuration model accepts it; else Abandon with the model's words."""
    model = _MODELS[obj["kind"]]
    try:
        model.model_validate(obj)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise Abandon(f"not valid as a plumbline {obj['kind']}: {where}: {first['msg']}") from None
    return obj


def convert_each(readings: list[Reading], convert: Callable[[Reading], None]) -> None:
    """Run ``convert`` on each reading; an Abandon marks that object as not written, with its reason."""
    for r in readings:
        try:
            convert(r)
        except Abandon as why:
            r.abandon(str(why))


def result(tool: str, readings: list[Reading], written: list[Written]) -> ImportResult:
    """The result, with duplicates (two inputs making one plumbline object) refused for the second."""
    seen: dict[str, Written] = {}
    kept: list[Written] = []
    for w in written:
        if w.label in seen:
            first = seen[w.label].origin
            where = f" (from {first.label}, {first.file}:{first.line})" if first else ""
            if w.origin is not None:
                w.origin.abandon(
                    f"{w.label} is already written{where}: import each cluster's objects into a "
                    "configuration of its own, or rename one"
                )
            continue
        seen[w.label] = w
        kept.append(w)
    reports = [r.finish(api_version=str(r.obj.get("apiVersion"))) for r in readings]
    return ImportResult(tool=tool, written=kept, reports=reports)
