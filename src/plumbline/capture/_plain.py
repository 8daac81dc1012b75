"""Plain YAML: the source document is edited in place (ruamel round-trip: comments, key order,
quoting and list indentation kept; list items with a merge key addressed by it)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from plumbline.capture import _yamlfile as yf
from plumbline.capture._model import Captured, FileEdit, Unmapped
from plumbline.capture._work import Work, apply
from plumbline.plan.fields import PathError
from plumbline.render import Manifest


def capture(work: Work) -> tuple[list[FileEdit], list[Captured]]:
    manifests, by_manifest, plan = work.manifests, work.by_manifest, work.plan
    by_file: dict[str, list[int]] = defaultdict(list)
    for n in by_manifest:
        by_file[manifests[n].file].append(n)
    edits: list[FileEdit] = []
    captured: list[Captured] = []
    for file, indices in sorted(by_file.items()):
        if file.endswith(".json"):
            for n in indices:
                for change in by_manifest[n]:
                    plan.unmapped.append(Unmapped(change, f"{file} is JSON; capture edits YAML files only"))
            continue
        old = work.read(file)
        loaded = yf.load_all(old, file=file)
        documents = [d for d in loaded if d is not None]
        changed = False
        for n in indices:
            manifest = manifests[n]
            document = _object_in(documents[manifest.index], manifest)
            for change in by_manifest[n]:
                try:
                    apply(document, change)
                except PathError as error:
                    plan.unmapped.append(Unmapped(change, f"{manifest.where}: {error}"))
                    continue
                captured.append(Captured(change, file, "edited in place"))
                changed = True
        if changed:
            edit = yf.edit(file, old, yf.rewrite(old, loaded, file=file))
            work.write(edit)
            edits.append(edit)
    return edits, captured


def _object_in(document: Any, manifest: Manifest) -> Any:
    """The object in ``document``: the document itself, or the matching item of a ``kind: List``."""
    if isinstance(document, dict) and isinstance(document.get("items"), list) and "metadata" not in document:
        for item in document["items"]:
            if (
                isinstance(item, dict)
                and item.get("kind") == manifest.kind
                and (item.get("metadata") or {}).get("name") == manifest.name
            ):
                return item
    return document
