"""What an import carried over and what it did not, field by field, and the walk that proves nothing
was left out.

Each input object is read through a :class:`Reading`. A converter marks every field it uses
(:meth:`Reading.carry`, with where it went) and every field it cannot use (:meth:`Reading.drop`,
with why). :meth:`Reading.finish` then walks every leaf of the input object: a leaf that no mark
covers is listed as not carried ("plumb import does not know this field"), so a field is never
dropped in silence, even one a newer Argo CD or Flux adds (an empty list or mapping, which sets
nothing, is listed as carried with nothing to carry).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from plumbline.errors import PlumbError

Path = tuple[str | int, ...]

UNKNOWN_FIELD = "plumb import does not know this field"

T = TypeVar("T")

_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+")


class InvalidInput(PlumbError):
    """An input file that cannot be imported: not YAML, not a Kubernetes object, a field of the wrong
    type. Names the file (and line), the object and the field. Exit 2."""


class Abandon(Exception):
    """Raised by a converter when an input object cannot become a plumbline object at all; the
    message says why, and every field of the object is then reported as not carried."""


class Status(StrEnum):
    """Whether an input field made it into plumbline's configuration."""

    CARRIED = "carried"
    NOT_CARRIED = "not carried"


def show_path(path: Path) -> str:
    """``spec.source.helm.valueFiles[0]``; keys that are not plain words are quoted:
    ``metadata.annotations["argocd.argoproj.io/tracking-id"]``. The empty path is the whole object."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(part):
            text += f".{part}" if text else part
        else:
            text += '["' + part.replace("\\", "\\\\").replace('"', '\\"') + '"]'
    return text


def leaves(value: Any, path: Path = ()) -> list[Path]:
    """Every leaf path of ``value``: scalars, and empty mappings and lists (which say something too)."""
    if isinstance(value, dict) and value:
        return [p for k, v in value.items() for p in leaves(v, (*path, str(k)))]
    if isinstance(value, list) and value:
        return [p for i, v in enumerate(value) for p in leaves(v, (*path, i))]
    return [path]


def covers(mark: Path, leaf: Path) -> bool:
    return leaf[: len(mark)] == mark


@dataclass(frozen=True)
class FieldReport:
    """One input field (or subtree) and what became of it. ``to`` names where it went (carried);
    ``why`` says why it was not carried, or adds what a reader should know about how it was."""

    path: str
    status: Status
    to: str = ""
    why: str = ""

    def describe(self) -> str:
        if self.status is Status.CARRIED:
            where = f" → {self.to}" if self.to else ""
            return f"{self.path or '(object)'}{where}" + (f" ({self.why})" if self.why else "")
        return f"{self.path or '(whole object)'}: {self.why}"


@dataclass
class ObjectReport:
    """An input object (file, line, kind, name), the plumbline objects written from it and its fields."""

    file: str
    line: int
    api_version: str
    kind: str
    name: str
    written: list[str] = field(default_factory=list)
    fields: list[FieldReport] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.kind}/{self.name}"

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    @property
    def not_carried(self) -> list[FieldReport]:
        return [f for f in self.fields if f.status is Status.NOT_CARRIED]

    @property
    def carried(self) -> list[FieldReport]:
        return [f for f in self.fields if f.status is Status.CARRIED]


@dataclass
class _Mark:
    path: Path
    status: Status
    to: str
    why: str


class Reading:
    """One input object being converted: typed access to its fields and the marks on them."""

    def __init__(self, obj: dict[str, Any], *, file: str, line: int) -> None:
        self.obj = obj
        self.file = file
        self.line = line
        metadata = obj.get("metadata")
        name = metadata.get("name") if isinstance(metadata, dict) else None
        self.kind = str(obj.get("kind") or "?")
        self.name = name if isinstance(name, str) else "(unnamed)"
        self.namespace = metadata.get("namespace") if isinstance(metadata, dict) else None
        self.marks: list[_Mark] = []
        self.written: list[str] = []
        self.abandoned: str | None = None

    @property
    def label(self) -> str:
        return f"{self.kind}/{self.name}"

    def error(self, path: Path, message: str) -> InvalidInput:
        return InvalidInput(f"{self.file}:{self.line}: {self.label}: {show_path(path)}: {message}")

    def get(self, path: Path, kind: type[T], default: T | None = None) -> T | None:
        """The value at ``path``, checked to be of ``kind`` (``dict``, ``list``, ``str``, ``bool``,
        ``int``); ``default`` if absent or null. A value of another type is bad input (exit 2)."""
        value: Any = self.obj
        for part in path:
            if isinstance(part, int):
                value = value[part] if isinstance(value, list) and part < len(value) else None
            else:
                value = value.get(part) if isinstance(value, dict) else None
            if value is None:
                return default
        if kind is int and isinstance(value, bool):
            raise self.error(path, f"expected a number, got {value!r}")
        if not isinstance(value, kind):
            names = {
                dict: "a mapping",
                list: "a list",
                str: "a string",
                bool: "true or false",
                int: "a number",
            }
            raise self.error(path, f"expected {names.get(kind, kind.__name__)}, got {_shown_type(value)}")
        return value

    def has(self, path: Path) -> bool:
        value: Any = self.obj
        for part in path:
            if isinstance(part, int):
                if not isinstance(value, list) or part >= len(value):
                    return False
                value = value[part]
            elif isinstance(value, dict) and part in value:
                value = value[part]
            else:
                return False
        return True

    def carry(self, path: Path, to: str, note: str = "") -> None:
        """``path`` (and everything below it) went to ``to`` in plumbline's configuration."""
        if self.has(path):
            self.marks.append(_Mark(path, Status.CARRIED, to, note))

    def marked(self, path: Path) -> bool:
        """True if a mark was made at exactly ``path``."""
        return any(m.path == path for m in self.marks)

    def drop(self, path: Path, why: str) -> None:
        """``path`` (and everything below it) was not carried, because ``why``."""
        if self.has(path):
            self.marks.append(_Mark(path, Status.NOT_CARRIED, "", why))

    def same_or_drop(self, path: Path, default: Any, *, to: str, same: str, why: str) -> None:
        """Carried when the value is ``default`` (plumbline behaves that way: ``same``); else ``why``."""
        if not self.has(path):
            return
        if self.obj_at(path) == default:
            self.carry(path, to, same)
        else:
            self.drop(path, why)

    def obj_at(self, path: Path) -> Any:
        value: Any = self.obj
        for part in path:
            value = value[part]
        return value

    def abandon(self, why: str) -> None:
        """Nothing of this object is written: the report holds the object as a whole, not carried
        because ``why``, and the fields already found not carried for reasons of their own."""
        self.abandoned = why
        self.written.clear()
        self.marks = [m for m in self.marks if m.status is Status.NOT_CARRIED]

    def finish(self, *, api_version: str) -> ObjectReport:
        """The report: the marks in input order, plus every leaf no mark covers (never dropped silently).

        ``apiVersion`` and ``kind`` are the object's identity, named in the report's header."""
        identity = {("apiVersion",), ("kind",)}
        reports: list[FieldReport] = []
        if self.abandoned is not None:
            reports.append(FieldReport("", Status.NOT_CARRIED, "", self.abandoned))
        done: set[int] = set()
        for leaf in leaves(self.obj):
            if leaf in identity:
                continue
            found = [i for i, m in enumerate(self.marks) if covers(m.path, leaf)]
            if not found:
                if self.abandoned is not None:
                    continue
                if self.obj_at(leaf) in ({}, []):  # an empty list or mapping sets nothing
                    reports.append(
                        FieldReport(show_path(leaf), Status.CARRIED, "", "empty: nothing to carry")
                    )
                else:
                    reports.append(FieldReport(show_path(leaf), Status.NOT_CARRIED, "", UNKNOWN_FIELD))
                continue
            # Under a subtree not carried nothing is carried, and its reason is the one to read; in a
            # carried subtree the most specific mark decides (it may hold a field not carried).
            dropped = [i for i in found if self.marks[i].status is Status.NOT_CARRIED]
            if dropped:
                best = min(dropped, key=lambda i: len(self.marks[i].path))
            else:
                best = max(found, key=lambda i: len(self.marks[i].path))
            if best not in done:
                done.add(best)
                m = self.marks[best]
                reports.append(FieldReport(show_path(m.path), m.status, m.to, m.why))
        return ObjectReport(
            file=self.file,
            line=self.line,
            api_version=api_version,
            kind=self.kind,
            name=self.name,
            written=list(self.written),
            fields=reports,
        )


def _shown_type(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value) if not isinstance(value, str) else f"the string {value!r}"
