"""Kustomize: ``kustomize build --load-restrictor LoadRestrictionsRootOnly <dir>``, as Argo CD runs it.

``LoadRestrictionsRootOnly`` (kustomize's default, passed explicitly) keeps *files* a kustomization
reads (patches, generator inputs) inside its own folder. It does not restrict *folders* listed in
``resources``, ``bases`` and ``components``: kustomize loads those from anywhere on the disk. So
before running kustomize, every such entry of every kustomization reachable from the app is checked
to lead inside the repository; one that does not is refused, naming the kustomization file.
Entries that do not exist on disk (remote bases such as ``github.com/org/repo//path?ref=v1``) are
left to kustomize, which needs network access to load them.

Helm charts inside kustomizations and exec plugins stay disabled (no ``--enable-helm``,
``--enable-alpha-plugins``, ``--enable-exec``).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from plumbline import toolchain
from plumbline.errors import RenderError
from plumbline.render._manifest import Manifest, manifests_from
from plumbline.render._run import isolated_env, run
from plumbline.render._stream import split_documents
from plumbline.source._paths import is_inside
from plumbline.yamlio import load_documents

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
_FOLDER_FIELDS = ("resources", "bases", "components")


def kustomization_file(directory: Path) -> Path | None:
    for name in KUSTOMIZATION_FILES:
        if (directory / name).is_file():
            return directory / name
    return None


def render_kustomize(root: Path, directory: Path) -> list[Manifest]:
    """Build the kustomization in ``directory`` (resolved, inside ``root``)."""
    rel = directory.relative_to(root).as_posix()
    _check_folders(root, directory)
    kustomize = toolchain.binary("kustomize")
    with tempfile.TemporaryDirectory(prefix="plumbline-kustomize-") as tmp:
        scratch = Path(tmp)
        output = run(
            [str(kustomize), "build", "--load-restrictor", "LoadRestrictionsRootOnly", str(directory)],
            what=f"kustomize build {rel}",
            cwd=directory,
            env=isolated_env(scratch),
            scratch=scratch,
            root=root,
        )
    manifests: list[Manifest] = []
    for n, text in enumerate(split_documents(output)):
        for document in load_documents(text, file=f"{rel} (kustomize output, document {n + 1})"):
            for manifest in manifests_from(document, file=rel):
                manifests.append(Manifest(obj=manifest.obj, file=rel, index=n))
    return manifests


def _check_folders(root: Path, directory: Path) -> None:
    real_root = os.path.realpath(root)
    pending = [directory]
    seen: set[str] = set()
    while pending:
        folder = pending.pop()
        real = os.path.realpath(folder)
        if real in seen:
            continue
        seen.add(real)
        file = kustomization_file(folder)
        if file is None:
            continue
        shown = Path(real).relative_to(real_root).joinpath(file.name).as_posix()
        for document in load_documents(file.read_text(encoding="utf-8", errors="replace"), file=shown):
            if not isinstance(document.data, dict):
                continue
            for field in _FOLDER_FIELDS:
                entries = document.data.get(field) or []
                for entry in entries if isinstance(entries, list) else []:
                    if not isinstance(entry, str):
                        continue
                    target = os.path.realpath(os.path.join(real, entry))
                    if not os.path.lexists(target):
                        continue
                    if not is_inside(target, real_root):
                        raise RenderError(
                            f"{shown}: {field} entry {entry!r} leads outside the repository; kustomize "
                            "may only read from inside the checked-out repository"
                        )
                    if os.path.isdir(target):
                        pending.append(Path(target))
