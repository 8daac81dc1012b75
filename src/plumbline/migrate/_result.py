"""The result of an import: the plumbline objects written, the report on every input object, and the
configuration YAML (each object preceded by comments naming where it came from and what was not
carried)."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from plumbline.config import API_VERSION
from plumbline.migrate._report import InvalidInput, ObjectReport, Reading
from plumbline.yamlio import MAX_FILE_BYTES, YamlError, load_documents


@dataclass
class Written:
    """One plumbline object (``Project``, ``Environment``, ``App``) and the input objects it came from."""

    obj: dict[str, Any]
    inputs: list[Reading] = field(default_factory=list)  # the first is the one it was converted from

    @property
    def origin(self) -> Reading | None:
        return self.inputs[0] if self.inputs else None

    @property
    def label(self) -> str:
        return f"{self.obj['kind']}/{self.obj['metadata']['name']}"


@dataclass
class ImportResult:
    """What ``plumb import`` made of its input files. ``complete``: every field was carried."""

    tool: str
    written: list[Written]
    reports: list[ObjectReport]

    @property
    def complete(self) -> bool:
        return not any(r.not_carried for r in self.reports)

    def to_yaml(self) -> str:
        """The configuration as multi-document YAML (``plumb --config FILE apps`` reads it): a header,
        then each object preceded by comments: where it came from and what of it was not carried."""
        by_place = {(r.file, r.line): r for r in self.reports}
        lines = [
            f"# plumbline configuration imported from {self.tool} by `plumb import {self.tool}`.",
            "# Every field that could not be carried over is listed in a comment above the object it",
            "# belongs to, and on standard error. Review before use.",
        ]
        dropped = [r for r in self.reports if not r.written]
        if dropped:
            lines.append("#")
            lines.append("# Input objects that produced nothing here:")
            for unwritten in dropped:
                reason = unwritten.not_carried[0].why if unwritten.not_carried else "nothing to carry"
                lines.append(f"#   {unwritten.label} ({unwritten.where}): {_one_line(reason)}")
        listed: set[tuple[str, int]] = set()
        for written in self.written:
            lines.append("---")
            for source in written.inputs:
                place = (source.file, source.line)
                lines.append(f"# from {self.tool} {source.label} ({source.file}:{source.line})")
                report = by_place.get(place)
                if place in listed or report is None:
                    continue  # its fields are listed above the first object written from it
                listed.add(place)
                for f in report.not_carried:
                    lines.append(f"#   not carried: {_one_line(f.describe())}")
            lines.append(yaml.safe_dump(written.obj, sort_keys=False, width=110, allow_unicode=True).rstrip())
        return "\n".join(lines) + "\n"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def read_inputs(files: list[Path]) -> list[Reading]:
    """Every document of every file, as a :class:`Reading`, in file order. Bounded like every YAML
    plumbline reads (size, alias bombs). InvalidInput (exit 2) for a file that cannot be read or a
    document that is not a Kubernetes object."""
    readings: list[Reading] = []
    for file in files:
        name = str(file)
        try:
            if file.stat().st_size > MAX_FILE_BYTES:
                raise InvalidInput(f"{name}: larger than {MAX_FILE_BYTES} bytes")
            text = file.read_text(encoding="utf-8")
            documents = load_documents(text, file=name)
        except OSError as error:
            raise InvalidInput(f"{name}: cannot be read: {error.strerror or error}") from None
        except UnicodeDecodeError:
            raise InvalidInput(f"{name}: not UTF-8 text") from None
        except YamlError as error:
            raise InvalidInput(str(error)) from None
        for doc in documents:
            data = doc.data
            if not isinstance(data, dict):
                raise InvalidInput(f"{name}:{doc.line}: expected a Kubernetes object (a mapping), got a list")
            reading = Reading(data, file=name, line=doc.line)
            for key in ("apiVersion", "kind"):
                if not isinstance(data.get(key), str) or not data[key]:
                    raise reading.error((key,), "missing: every Kubernetes object has apiVersion and kind")
            reading.get(("metadata",), dict)
            reading.get(("metadata", "name"), str)
            reading.get(("metadata", "namespace"), str)
            readings.append(reading)
    if not readings:
        raise InvalidInput(f"{', '.join(map(str, files))}: no Kubernetes objects to import")
    return readings


def new_object(
    kind: str, name: str, spec: dict[str, Any], metadata: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": kind,
        "metadata": {"name": name, **(metadata or {})},
        "spec": spec,
    }


def repo_path(path: str) -> str | None:
    """A repository path as plumbline writes it (``./apps/x`` → ``apps/x``); None if it leaves the
    repository."""
    normal = posixpath.normpath(path or ".")
    if posixpath.isabs(normal) or normal == ".." or normal.startswith("../"):
        return None
    return normal
