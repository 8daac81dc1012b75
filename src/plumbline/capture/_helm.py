"""Helm: find the one value behind a drifted field by experiment, never by name.

For a drifted scalar field, every scalar in the app's value files and the chart's ``values.yaml``
that equals the field's Git value, or is part of it (``tag: "1.25"`` inside ``image: "nginx:1.25"``),
is a candidate. Each candidate is replaced by a unique marker and the chart
rendered again: it proves out when exactly that one field changes in the whole output, and changes
to the Git value with the candidate's text replaced by the marker. If exactly one candidate proves
out (and the live value fits the same surrounding text), that value is edited — or, for a default
in the chart's ``values.yaml`` while the app has value files, overridden in the app's last value
file (the chart's defaults serve other environments too). Otherwise the field is reported unmapped,
with the strategic-merge patch that would express it.
"""

from __future__ import annotations

import posixpath
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from ruamel.yaml.comments import CommentedMap

from plumbline.capture import _yamlfile as yf
from plumbline.capture._model import Captured, FileEdit, Unmapped, is_secret
from plumbline.capture._work import Work
from plumbline.config import Tool
from plumbline.errors import PlumbError, RenderError
from plumbline.plan.attribution import FieldChange
from plumbline.plan.fields import ABSENT, PathError, positions, set_value, strategic_patch
from plumbline.render import Manifest, value_file_path
from plumbline.source import safe_join

MARKER = "plumbline-capture-marker-7c1f0e"
# Renders tried per drifted field at most (each is one `helm template`); more candidates than this
# are not tried, and the field is then unmapped unless one of those tried proves out.
MAX_EXPERIMENTS = 32

Leaf = tuple[str, tuple[str | int, ...]]  # (value file relative to the repo, key path inside it)


@dataclass
class _Proof:
    leaf: Leaf
    value: Any  # what the leaf must become for the field to carry the live value


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool) and value is not None


def _leaves(node: Any, prefix: tuple[str | int, ...] = ()) -> list[tuple[tuple[str | int, ...], Any]]:
    if isinstance(node, dict):
        return [leaf for k, v in node.items() for leaf in _leaves(v, (*prefix, str(k)))]
    if isinstance(node, list):
        return [leaf for i, v in enumerate(node) for leaf in _leaves(v, (*prefix, i))]
    return [(prefix, node)] if _scalar(node) else []


def _flatten(node: Any, prefix: tuple[Any, ...] = ()) -> dict[tuple[Any, ...], Any]:
    if isinstance(node, dict):
        return {p: v for k, value in node.items() for p, v in _flatten(value, (*prefix, k)).items()}
    if isinstance(node, list):
        return {p: v for i, value in enumerate(node) for p, v in _flatten(value, (*prefix, i)).items()}
    return {prefix: node}


def _leaves_of(objects: list[Manifest]) -> dict[tuple[Any, ...], Any]:
    flat: dict[tuple[Any, ...], Any] = {}
    for manifest in objects:
        for path, value in _flatten(manifest.obj).items():
            flat[(manifest.key, *path)] = value
    return flat


def capture(work: Work) -> tuple[list[FileEdit], list[Captured]]:
    if work.helm is None:
        raise RenderError(f"capture: {work.app_path!r} is a Helm chart, but no Helm options were given")
    app_path, options, plan = work.app_path, work.helm, work.plan
    chart = app_path if app_path not in ("", ".") else ""
    # With value files, the chart's defaults are never edited (other environments share them), but a
    # default proven to feed the field is overridden in the app's last value file (the one that wins).
    defaults = posixpath.normpath(posixpath.join(chart, "values.yaml"))
    has_defaults = safe_join(work.root, defaults).is_file()
    files = [value_file_path(name) for name in options.value_files] or ([defaults] if has_defaults else [])
    if defaults in files or not has_defaults:
        defaults = ""
    texts = {file: work.read(file) for file in [*files, defaults] if file}
    leaves: list[tuple[Leaf, Any]] = []
    for file in texts:
        loaded = yf.load_all(texts[file], file=file)
        for path, value in _leaves(loaded[0] if loaded else None):
            if file != defaults or not any(isinstance(p, int) for p in path):
                leaves.append(((file, path), value))

    baseline = work.render(Tool.HELM)
    if isinstance(baseline, PlumbError):
        raise baseline
    base_flat = _leaves_of(baseline)
    experiments: dict[Leaf, dict[tuple[Any, ...], Any] | str] = {}

    def experiment(leaf: Leaf) -> dict[tuple[Any, ...], Any] | str:
        """The leaves that change when ``leaf`` becomes the marker (or why the render failed)."""
        if leaf not in experiments:
            file, path = leaf
            loaded = yf.load_all(texts[file], file=file)
            set_value(loaded[0], path, MARKER)
            target = safe_join(work.root, file)
            target.write_text(yf.rewrite(texts[file], loaded, file=file), encoding="utf-8")
            try:
                objects = work.render(Tool.HELM)
            finally:
                target.write_text(texts[file], encoding="utf-8")
            if isinstance(objects, PlumbError):
                experiments[leaf] = f"rendering with it replaced failed: {objects}"
            else:
                flat = _leaves_of(objects)
                experiments[leaf] = {
                    k: flat.get(k, ABSENT)
                    for k in set(flat) | set(base_flat)
                    if flat.get(k, ABSENT) != base_flat.get(k, ABSENT)
                }
        return experiments[leaf]

    chosen: dict[str, list[tuple[Leaf, Any, FieldChange]]] = defaultdict(list)
    for n, changes in work.by_manifest.items():
        manifest = work.manifests[n]
        base_obj = next((m.obj for m in baseline if m.key == manifest.key), manifest.obj)
        for change in changes:
            proof, reason = _prove(change, manifest, base_obj, leaves, experiment)
            if proof is None:
                plan.unmapped.append(Unmapped(change, reason, _patch_text(manifest.obj, change)))
            else:
                file = files[-1] if proof.leaf[0] == defaults else proof.leaf[0]
                chosen[file].append((proof.leaf, proof.value, change))

    edits: list[FileEdit] = []
    captured: list[Captured] = []
    for file, items in chosen.items():
        loaded = yf.load_all(texts[file], file=file)
        if not loaded or loaded[0] is None:
            loaded = [CommentedMap()]
        for (source, path), value, change in items:
            set_value(loaded[0], path, value, convert=yf.keep_quoting)
            key = ".".join(str(p) for p in path)
            how = f"helm value {posixpath.relpath(file, chart or '.')}: {key}"
            if source != file:
                how += f" (overrides the chart's default in {posixpath.relpath(source, chart or '.')})"
            captured.append(Captured(change, file, how))
        edit = yf.edit(file, texts[file], yf.rewrite(texts[file], loaded, file=file))
        work.write(edit)
        edits.append(edit)
    return edits, captured


def _prove(
    change: FieldChange,
    manifest: Manifest,
    base_obj: dict[str, Any],
    leaves: list[tuple[Leaf, Any]],
    experiment: Any,
) -> tuple[_Proof | None, str]:
    git, live = change.git, change.live
    if not (_scalar(git) and _scalar(live)):
        return None, "only a scalar that Git and live both have can be traced to a Helm value"
    where = positions(base_obj, change.path)
    if where is None:
        return None, "the field is not in the chart's rendered output"
    target = (manifest.key, *where)
    git_text = str(git)
    exact = [
        (leaf, value)
        for leaf, value in leaves
        if (type(value) is type(git) and value == git)
        or (isinstance(value, int | float) and not isinstance(value, bool) and str(value) == git_text)
    ]
    # Part of the Git value (a tag inside an image); one character says too little to try.
    partial = [
        (leaf, value)
        for leaf, value in leaves
        if isinstance(value, str) and len(value) > 1 and value in git_text and (leaf, value) not in exact
    ]
    partial.sort(key=lambda candidate: -len(candidate[1]))
    candidates = (exact + partial)[:MAX_EXPERIMENTS]
    if not candidates:
        return None, "no value in the value files equals or is part of the field's Git value"
    proofs: list[_Proof] = []
    notes: list[str] = []
    for leaf, value in candidates:
        shown = f"{leaf[0]}: {'.'.join(str(p) for p in leaf[1])}"
        result = experiment(leaf)
        if isinstance(result, str):
            notes.append(f"{shown}: {result}")
            continue
        if set(result) != {target}:
            if target in result:
                notes.append(f"{shown} also sets {len(set(result) - {target})} other field(s)")
            else:
                notes.append(f"{shown} does not feed this field")
            continue
        rendered = str(result[target])
        before, found, after = rendered.partition(MARKER)
        if not found or before + str(value) + after != git_text:
            notes.append(f"{shown} feeds the field through a transformation")
            continue
        live_text = str(live)
        if not (
            live_text.startswith(before)
            and live_text.endswith(after)
            and len(live_text) >= len(before) + len(after)
        ):
            around = "" if is_secret(change.ref) else f" ({before!r}…{after!r})"
            notes.append(f"{shown}: the live value does not keep the text around it{around}")
            continue
        new_text = live_text[len(before) : len(live_text) - len(after)]
        new_value: Any = live if not (before or after) else new_text
        if isinstance(value, int) and not isinstance(value, bool) and re.fullmatch(r"-?[0-9]+", new_text):
            new_value = int(new_text)  # the value file keeps its type
        proofs.append(_Proof(leaf, new_value))
    if len(proofs) == 1:
        return proofs[0], ""
    if not proofs:
        return None, "no value maps to this field alone (" + "; ".join(notes) + ")"
    shown_all = ", ".join(f"{p.leaf[0]}: {'.'.join(str(x) for x in p.leaf[1])}" for p in proofs)
    return None, f"ambiguous: each of {shown_all} alone sets this field"


def _patch_text(obj: dict[str, Any], change: FieldChange) -> str | None:
    try:
        return yf.dump_one(strategic_patch(obj, [(change.path, change.live)]))
    except PathError:
        return None
