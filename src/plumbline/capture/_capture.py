"""``capture_changes``: live drift in, edits to the Git source out, each proven by rendering again."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from plumbline.capture import _yamlfile as yf
from plumbline.capture._model import Captured, CapturePlan, FileEdit, Unmapped, is_secret
from plumbline.config import Tool
from plumbline.errors import PlumbError, RemoteSourceRefused, RenderError
from plumbline.plan.attribution import Attribution, FieldChange
from plumbline.plan.fields import ABSENT, PathError, get_path, remove_path, set_value, strategic_patch
from plumbline.plan.model import ObjectRef
from plumbline.redact import contains_fingerprint
from plumbline.render import HelmOptions, Manifest, chosen_tool, kustomization_file, render
from plumbline.source import safe_join

# The attributions that are live drift: capture turns each into Git matching live.
CAPTURABLE = frozenset({Attribution.DRIFT_REVERT, Attribution.CONFLICT, Attribution.UNMANAGED_ADDITION})


def capture_changes(
    *,
    checkout_root: Path,
    app_path: str,
    tool: Tool,
    helm: HelmOptions | None,
    manifests: list[Manifest],
    changes: list[FieldChange],
    namespace: str | None = None,
    allow_remote: Sequence[str] = (),
) -> CapturePlan:
    """Edits to the files under ``checkout_root`` that make Git say what live says for ``changes``.

    ``manifests`` are the app rendered from ``checkout_root`` (as :func:`plumbline.render.render` gave
    them); ``namespace`` is the Helm release namespace the app was rendered with. Nothing under
    ``checkout_root`` is written: the edits are tried in a temporary copy, the app is rendered again
    there, and only fields that then carry their live value are reported as captured. Everything else
    is in ``unmapped`` with the reason (and, where one can be written, the strategic-merge patch).
    ``allow_remote`` (the Project's ``allowRemoteSources``) lets those renders fetch what the app's own
    render may.

    Changes with an attribution that is not drift (``commit``, ``create``, ``prune``, ``runtime``) are
    not captured: they are Git's to make, or nobody's.
    """
    plan = CapturePlan()
    wanted: list[FieldChange] = []
    for change in changes:
        reason = _refusal(change)
        if reason:
            plan.unmapped.append(Unmapped(change, reason))
        else:
            wanted.append(change)
    if not wanted:
        return plan
    by_manifest: dict[int, list[FieldChange]] = defaultdict(list)
    for change in wanted:
        found = _manifest_for(manifests, change.ref)
        if found is None:
            plan.unmapped.append(Unmapped(change, "the object is not among the app's rendered objects"))
        else:
            by_manifest[found].append(change)
    with _work_copy(checkout_root) as work:
        tool = chosen_tool(tool, safe_join(work, app_path))
        if tool is Tool.PLAIN:
            edits, captured = _capture_plain(work, manifests, by_manifest, plan)
        elif tool is Tool.KUSTOMIZE:
            edits, captured = _capture_kustomize(work, app_path, manifests, by_manifest, plan, allow_remote)
        else:
            from plumbline.capture._helm import capture_helm

            if helm is None:
                raise RenderError(f"capture: {app_path!r} is a Helm chart, but no Helm options were given")
            edits, captured = capture_helm(
                work,
                app_path,
                options=helm,
                namespace=namespace,
                manifests=manifests,
                by_manifest=by_manifest,
                plan=plan,
                allow_remote=allow_remote,
            )
        _verify(work, app_path, tool, helm, namespace, edits, captured, plan, allow_remote)
    return plan


def _refusal(change: FieldChange) -> str | None:
    if change.attribution not in CAPTURABLE:
        return f"{change.attribution.value} is not live drift; there is nothing to capture"
    if not change.path:
        return "a whole object that only live has is not captured; add it to Git by hand"
    if (is_secret(change.ref) and change.path[0] in ("data", "stringData")) or contains_fingerprint(
        change.live
    ):
        return (
            "a secret value (a Secret's, or under a password-like name) is not written to Git in plain "
            "text; put it in your secret store and reference it (ExternalSecret, SealedSecret or SOPS)"
        )
    return None


def _manifest_for(manifests: list[Manifest], ref: ObjectRef) -> int | None:
    """The manifest for ``ref``. Rendered objects often have no namespace (the plan defaults it)."""
    for n, manifest in enumerate(manifests):
        if (manifest.group, manifest.kind, manifest.name) == (ref.group, ref.kind, ref.name) and (
            manifest.namespace is None or manifest.namespace == ref.namespace
        ):
            return n
    return None


@contextmanager
def _work_copy(root: Path) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="plumbline-capture-") as tmp:
        work = Path(tmp) / "repo"
        shutil.copytree(root, work, symlinks=True, ignore=shutil.ignore_patterns(".git"))
        yield work


def _apply(document: Any, change: FieldChange) -> None:
    if change.live is None:
        remove_path(document, change.path, in_source=True)
    else:
        set_value(document, change.path, change.live, convert=yf.keep_quoting)


def _read(work: Path, rel: str) -> str:
    return safe_join(work, rel).read_text(encoding="utf-8")


def _write(work: Path, edit: FileEdit) -> None:
    path = safe_join(work, edit.path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(edit.content, encoding="utf-8")


# --- plain YAML: edit the document in place ----------------------------------------------------------


def _capture_plain(
    work: Path, manifests: list[Manifest], by_manifest: dict[int, list[FieldChange]], plan: CapturePlan
) -> tuple[list[FileEdit], list[Captured]]:
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
        old = _read(work, file)
        loaded = yf.load_all(old, file=file)
        documents = [d for d in loaded if d is not None]
        changed = False
        for n in indices:
            manifest = manifests[n]
            document = _object_in(documents[manifest.index], manifest)
            for change in by_manifest[n]:
                try:
                    _apply(document, change)
                except PathError as error:
                    plan.unmapped.append(Unmapped(change, f"{manifest.where}: {error}"))
                    continue
                captured.append(Captured(change, file, "edited in place"))
                changed = True
        if changed:
            edit = yf.edit(file, old, yf.rewrite(old, loaded, file=file))
            _write(work, edit)
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


# --- kustomize: a strategic-merge patch in the overlay ------------------------------------------------


def _capture_kustomize(
    work: Path,
    app_path: str,
    manifests: list[Manifest],
    by_manifest: dict[int, list[FieldChange]],
    plan: CapturePlan,
    allow_remote: Sequence[str],
) -> tuple[list[FileEdit], list[Captured]]:
    overlay = safe_join(work, app_path)
    kustomization = kustomization_file(overlay)
    if kustomization is None:
        for changes in by_manifest.values():
            plan.unmapped += [Unmapped(c, f"{app_path} has no kustomization.yaml") for c in changes]
        return [], []
    kustomization_rel = kustomization.relative_to(work).as_posix()
    original_kustomization = kustomization.read_text(encoding="utf-8")
    edits: list[FileEdit] = []
    captured: list[Captured] = []
    patch_names: list[str] = []
    overridden: list[tuple[Manifest, Unmapped]] = []
    for n, changes in by_manifest.items():
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
        found = _patch_identity(work, app_path, overlay, kustomization, name, manifest, usable, allow_remote)
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
        _write(work, edit)
        edits.append(edit)
        patch_names.append(name)
        captured += [Captured(c, edit.path, "kustomize patch") for c in changes]
    content = original_kustomization
    if patch_names:
        content = _add_patches(original_kustomization, patch_names, file=kustomization_rel)
    kustomization.write_text(content, encoding="utf-8")
    for manifest, unmapped in overridden:
        edited = _set_image(work, app_path, kustomization, manifest, unmapped.change, allow_remote)
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


def _set_image(
    work: Path,
    app_path: str,
    kustomization: Path,
    manifest: Manifest,
    change: FieldChange,
    allow_remote: Sequence[str],
) -> str | None:
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
    shown = kustomization.relative_to(work).as_posix()
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
    try:
        objects = render(work, app_path, tool=Tool.KUSTOMIZE, allow_remote=allow_remote)
        built = next((o for o in objects if o.key == manifest.key), None)
        if built is not None and _carries(built.obj, change):
            return after
    except RemoteSourceRefused:
        raise  # the Project's decision, not a mapping that failed
    except PlumbError:
        pass
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
    work: Path,
    app_path: str,
    overlay: Path,
    kustomization: Path,
    name: str,
    manifest: Manifest,
    changes: list[FieldChange],
    allow_remote: Sequence[str],
) -> tuple[dict[str, Any], list[FieldChange]] | None:
    """The metadata (name, namespace) under which kustomize applies a patch of ``changes`` to
    ``manifest``'s object, and the changes the built object then carries.

    A patch in an overlay is matched before the overlay's own namePrefix/nameSuffix/namespace apply,
    so the rendered name is not always the one to write. Each candidate is proven with a build; when
    no candidate carries every change (a later transformer overrides one), the best is built again
    with only the changes it carried.
    """
    original = kustomization.read_text(encoding="utf-8")
    shown = kustomization.relative_to(work).as_posix()
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
        (overlay / name).write_text(yf.dump_one({**patch, "metadata": identity}), encoding="utf-8")
        kustomization.write_text(_add_patches(original, [name], file=shown), encoding="utf-8")
        try:
            objects = render(work, app_path, tool=Tool.KUSTOMIZE, allow_remote=allow_remote)
        except RemoteSourceRefused:
            raise  # the Project's decision, not a mapping that failed
        except PlumbError:
            return []
        finally:
            kustomization.write_text(original, encoding="utf-8")
            (overlay / name).unlink()
        built = next((o for o in objects if o.key == manifest.key), None)
        return [c for c in wanted if built is not None and _carries(built.obj, c)]

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


def _carries(obj: dict[str, Any], change: FieldChange) -> bool:
    value = get_path(obj, change.path)
    if change.live is None:
        return value is ABSENT
    if isinstance(change.path[-1], dict) and isinstance(change.live, dict) and isinstance(value, dict):
        return all(value.get(k) == v for k, v in {**change.path[-1], **change.live}.items())
    return bool(value == change.live)


# --- the proof: render the edited copy and look ------------------------------------------------------


def _verify(
    work: Path,
    app_path: str,
    tool: Tool,
    helm: HelmOptions | None,
    namespace: str | None,
    edits: list[FileEdit],
    captured: list[Captured],
    plan: CapturePlan,
    allow_remote: Sequence[str],
) -> None:
    """Keep in ``captured`` only what the edited copy renders with its live value."""
    if not edits:
        plan.captured += captured
        return
    try:
        objects = render(work, app_path, tool=tool, helm=helm, namespace=namespace, allow_remote=allow_remote)
    except RemoteSourceRefused:
        raise  # the Project's decision, not a mapping that failed
    except PlumbError as error:
        plan.unmapped += [Unmapped(c.change, f"the edited source does not render: {error}") for c in captured]
        return
    plan.edits += edits
    for item in captured:
        index = _manifest_for(objects, item.ref)
        if index is not None and _carries(objects[index].obj, item.change):
            plan.captured.append(item)
        else:
            plan.unmapped.append(
                Unmapped(item.change, f"after editing {item.file} the field still does not render as live")
            )
