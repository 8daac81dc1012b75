"""Kustomize: bases are left alone; a strategic-merge patch is added to the overlay (the app path)
and listed under ``patches:`` in its kustomization, or an ``images:`` entry is changed where a
transformer that runs after patches would override the patch."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from plumbline.capture import _yamlfile as yf
from plumbline.capture._model import Captured, FileEdit, Unmapped
from plumbline.capture._work import Work
from plumbline.config import Tool
from plumbline.plan.attribution import FieldChange
from plumbline.plan.fields import PathError, strategic_patch
from plumbline.render import Manifest, kustomization_file
from plumbline.source import safe_join


def capture(work: Work) -> tuple[list[FileEdit], list[Captured]]:
    app_path, manifests, plan = work.app_path, work.manifests, work.plan
    overlay = safe_join(work.root, app_path)
    kustomization = kustomization_file(overlay)
    if kustomization is None:
        for changes in work.by_manifest.values():
            plan.unmapped += [Unmapped(c, f"{app_path} has no kustomization.yaml") for c in changes]
        return [], []
    kustomization_rel = kustomization.relative_to(work.root).as_posix()
    original_kustomization = kustomization.read_text(encoding="utf-8")
    edits: list[FileEdit] = []
    captured: list[Captured] = []
    patch_names: list[str] = []
    overridden: list[tuple[Manifest, Unmapped]] = []
    for n, changes in work.by_manifest.items():
        manifest = manifests[n]
        usable: list[FieldChange] = []
        for c in changes:
            try:
                strategic_patch(manifest.obj, [(c.path, c.live)])
            except PathError as error:
                plan.unmapped.append(Unmapped(c, str(error)))
            else:
                usable.append(c)
        if not usable:
            continue
        name = _free_name(overlay, f"capture-{manifest.kind}-{manifest.name}".lower())
        rel = (Path(app_path) / name).as_posix() if app_path not in ("", ".") else name
        found = _patch_identity(work, kustomization, name, manifest, usable)
        identity, carried = found if found is not None else ({}, [])
        for c in usable:
            if c not in carried:
                reason = (
                    "with a patch in the overlay, kustomize build still does not give the live value "
                    "(the patch was tried under the object's rendered name and namespace and its name "
                    "without the overlay's prefix/suffix; a transformer that runs after patches, such "
                    "as images:, replicas: or replacements:, may override it)"
                )
                text = yf.dump_one(strategic_patch(manifest.obj, [(c.path, c.live)]))
                overridden.append((manifest, Unmapped(c, reason, text)))
        if not carried:
            continue
        changes = carried
        patch = strategic_patch(manifest.obj, [(c.path, c.live) for c in carried])
        patch["metadata"] = identity
        edit = yf.edit(os.path.normpath(rel), None, yf.dump_one(patch))
        work.write(edit)
        edits.append(edit)
        patch_names.append(name)
        captured += [Captured(c, edit.path, "kustomize patch") for c in changes]
    content = original_kustomization
    if patch_names:
        content = _add_patches(original_kustomization, patch_names, file=kustomization_rel)
    kustomization.write_text(content, encoding="utf-8")
    for manifest, unmapped in overridden:
        edited = _set_image(work, kustomization, manifest, unmapped.change)
        if edited is None:
            plan.unmapped.append(unmapped)
        else:
            content = edited
            captured.append(Captured(unmapped.change, kustomization_rel, "kustomize images:"))
    if content != original_kustomization:
        edits.append(yf.edit(kustomization_rel, original_kustomization, content))
    return edits, captured


_IMAGE_FIELDS = ("containers", "initContainers", "ephemeralContainers")


def _split_image(image: str) -> tuple[str, str | None, str | None]:
    """``registry:5000/app:1.2@sha256:...`` -> (``registry:5000/app``, ``1.2``, ``sha256:...``)."""
    rest, _, digest = image.partition("@")
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > slash:
        return rest[:colon], rest[colon + 1 :], digest or None
    return rest, None, digest or None


def _set_image(work: Work, kustomization: Path, manifest: Manifest, change: FieldChange) -> str | None:
    """The kustomization with its ``images:`` entry for the field's image set to the live image, if
    there is exactly one such entry and a build then gives the live image; else None (nothing changed).
    """
    path = change.path
    if not (
        len(path) >= 3
        and path[-1] == "image"
        and path[-3] in _IMAGE_FIELDS
        and isinstance(change.live, str)
        and isinstance(change.git, str)
    ):
        return None
    before = kustomization.read_text(encoding="utf-8")
    shown = kustomization.relative_to(work.root).as_posix()
    loaded = yf.load_all(before, file=shown)
    document = loaded[0] if loaded else None
    images = document.get("images") if isinstance(document, dict) else None
    if not isinstance(images, list):
        return None
    git_repo = _split_image(change.git)[0]
    entries = [e for e in images if isinstance(e, dict) and (e.get("newName") or e.get("name")) == git_repo]
    if len(entries) != 1:
        return None
    entry = entries[0]
    repo, tag, digest = _split_image(change.live)
    if repo != git_repo or "newName" in entry:
        entry["newName"] = repo
        if repo == entry.get("name"):
            del entry["newName"]
    for key, value in (("newTag", tag), ("digest", digest)):
        if value is None:
            entry.pop(key, None)
        else:
            entry[key] = yf.safe_strings(value)
    after = yf.rewrite(before, loaded, file=shown)
    kustomization.write_text(after, encoding="utf-8")
    if work.carried(Tool.KUSTOMIZE, manifest, [change]):
        return after
    kustomization.write_text(before, encoding="utf-8")
    return None


def _free_name(directory: Path, stem: str) -> str:
    stem = re.sub(r"[^a-z0-9.-]+", "-", stem)
    name, n = f"{stem}.yaml", 1
    while (directory / name).exists():
        n += 1
        name = f"{stem}-{n}.yaml"
    return name


def _add_patches(text: str, names: list[str], *, file: str) -> str:
    loaded = yf.load_all(text, file=file)
    document = loaded[0]
    patches = document.get("patches")
    if patches is None:
        document["patches"] = patches = []
    for name in names:
        patches.append({"path": name})
    return yf.rewrite(text, loaded, file=file)


def _patch_identity(
    work: Work, kustomization: Path, name: str, manifest: Manifest, changes: list[FieldChange]
) -> tuple[dict[str, Any], list[FieldChange]] | None:
    """The metadata (name, namespace) under which kustomize applies a patch of ``changes`` to
    ``manifest``'s object, and the changes the built object then carries.

    A patch in an overlay is matched before the overlay's own namePrefix/nameSuffix/namespace apply,
    so the rendered name is not always the one to write. Each candidate is proven with a build; when
    no candidate carries every change (a later transformer overrides one), the best is built again
    with only the changes it carried.
    """
    original = kustomization.read_text(encoding="utf-8")
    shown = kustomization.relative_to(work.root).as_posix()
    patch_file = kustomization.parent / name
    settings = yf.load_all(original, file=shown)[0] or {}
    rendered = strategic_patch(manifest.obj, [])["metadata"]
    base_name = rendered["name"]
    prefix, suffix = str(settings.get("namePrefix") or ""), str(settings.get("nameSuffix") or "")
    if prefix and base_name.startswith(prefix):
        base_name = base_name[len(prefix) :]
    if suffix and base_name.endswith(suffix):
        base_name = base_name[: len(base_name) - len(suffix)]
    candidates: list[dict[str, Any]] = []
    for identity in (rendered, {"name": rendered["name"]}, {"name": base_name}):
        if identity not in candidates:
            candidates.append(identity)

    def carried_by(identity: dict[str, Any], wanted: list[FieldChange]) -> list[FieldChange]:
        patch = strategic_patch(manifest.obj, [(c.path, c.live) for c in wanted])
        patch_file.write_text(yf.dump_one({**patch, "metadata": identity}), encoding="utf-8")
        kustomization.write_text(_add_patches(original, [name], file=shown), encoding="utf-8")
        try:
            return work.carried(Tool.KUSTOMIZE, manifest, wanted)
        finally:
            kustomization.write_text(original, encoding="utf-8")
            patch_file.unlink()

    best: tuple[dict[str, Any], list[FieldChange]] | None = None
    for identity in candidates:
        carried = carried_by(identity, changes)
        if len(carried) == len(changes):
            return identity, carried
        if carried and (best is None or len(carried) > len(best[1])):
            best = identity, carried
    if best is not None and len(carried_by(best[0], best[1])) == len(best[1]):
        return best
    return None
