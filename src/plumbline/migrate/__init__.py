"""Migration from Argo CD and Flux: their objects in, plumbline's configuration out, and a report of
every field that could not be carried over, and why.

    result = import_files(Source.ARGOCD, [Path("apps.yaml")])
    print(result.to_yaml())              # Projects, Environments, Apps (``plumb apps`` reads it)
    for report in result.reports:        # one per input object
        for f in report.not_carried:
            print(report.label, f.path, f.why)

Every field of every input object is either carried (and where to) or not carried (and why): a
field the converter does not know is listed too, never dropped in silence. An object that cannot
become plumbline configuration at all (an ``ApplicationSet``, a chart from a Helm repository, an
unknown kind) is reported with every field not carried. The mapping is documented in docs/import.md.
"""

from __future__ import annotations

from pathlib import Path

from plumbline.migrate import argocd, flux
from plumbline.migrate._report import (
    UNKNOWN_FIELD,
    FieldReport,
    InvalidInput,
    ObjectReport,
    Status,
    leaves,
    show_path,
)
from plumbline.migrate._result import ImportResult, Written, read_inputs
from plumbline.words import Source


def import_files(source: Source, files: list[Path]) -> ImportResult:
    """Read ``files`` (multi-document YAML, bounded like all YAML plumbline reads) and convert them.

    Raises :class:`InvalidInput` (exit 2) for a file that cannot be read or a field of the wrong
    type, naming the file, the object and the field."""
    readings = read_inputs(files)
    return argocd.convert(readings) if source is Source.ARGOCD else flux.convert(readings)


__all__ = [
    "UNKNOWN_FIELD",
    "FieldReport",
    "ImportResult",
    "InvalidInput",
    "ObjectReport",
    "Source",
    "Status",
    "Written",
    "import_files",
    "leaves",
    "show_path",
]
