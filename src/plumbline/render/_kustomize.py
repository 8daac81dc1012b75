"""Kustomize: ``kustomize build --load-restrictor LoadRestrictionsRootOnly <dir>``, as Argo CD runs it.

``LoadRestrictionsRootOnly`` (kustomize's default, passed explicitly) keeps *files* a kustomization
reads (patches, generator inputs) inside its own folder. It does not restrict *folders* listed in
``resources``, ``bases`` and ``components``: kustomize loads those from anywhere on the disk. So
before running kustomize, every such entry of every kustomization reachable from the app is checked
to lead inside the repository; one that does not is refused, naming the kustomization file.

Renders are offline: a remote base (``https://…``, ``github.com/org/repo//path?ref=v1``, ``git@…``)
in ``resources``, ``bases`` or ``components``, or a URL in a field naming a file (patches, CRDs,
generator inputs ...), of any kustomization reachable from the app, is refused before kustomize runs,
naming the file and the URL, unless the Project allows it (``spec.allowRemoteSources``, see
:mod:`._remote`). Only then does kustomize get network access.

Helm charts inside kustomizations and exec plugins stay disabled (no ``--enable-helm``,
``--enable-alpha-plugins``, ``--enable-exec``).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from plumbline import toolchain
from plumbline.errors import RemoteSourceRefused, RenderError
from plumbline.render._manifest import Manifest, manifests_from
from plumbline.render._remote import REMOTE_HINT, allowed, is_remote_base, is_url
from plumbline.render._run import isolated_env, run
from plumbline.render._stream import split_documents
from plumbline.source import is_inside
from plumbline.yamlio import load_documents

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
_FOLDER_FIELDS = ("resources", "bases", "components")
# Fields whose entries kustomize loads as files, which its loader also fetches when given a URL.
_FILE_LISTS = (
    "crds",
    "configurations",
    "generators",
    "transformers",
    "validators",
    "patchesStrategicMerge",
)
_PATH_ITEMS = ("patches", "patchesJson6902")
_GENERATORS = ("configMapGenerator", "secretGenerator")


def kustomization_file(directory: Path) -> Path | None:
    for name in KUSTOMIZATION_FILES:
        if (directory / name).is_file():
            return directory / name
    return None


def render_kustomize(root: Path, directory: Path, *, allow_remote: Sequence[str] = ()) -> list[Manifest]:
    """Build the kustomization in ``directory`` (resolved, inside ``root``).

    ``allow_remote``: URL globs of remote bases and files that may be downloaded.
    """
    rel = directory.relative_to(root).as_posix()
    remote = _check_folders(root, directory, allow_remote)
    kustomize = toolchain.binary("kustomize")
    with tempfile.TemporaryDirectory(prefix="plumbline-kustomize-") as tmp:
        scratch = Path(tmp)
        output = run(
            [str(kustomize), "build", "--load-restrictor", "LoadRestrictionsRootOnly", str(directory)],
            what=f"kustomize build {rel}",
            cwd=directory,
            env=isolated_env(scratch, network=remote),
            scratch=scratch,
            root=root,
        )
    manifests: list[Manifest] = []
    for n, text in enumerate(split_documents(output)):
        for document in load_documents(text, file=f"{rel} (kustomize output, document {n + 1})"):
            for manifest in manifests_from(document, file=rel):
                manifests.append(Manifest(obj=manifest.obj, file=rel, index=n))
    return manifests


def _check_folders(root: Path, directory: Path, allow_remote: Sequence[str]) -> bool:
    """Refuse folders outside the repository and remote references not allowed; True if an allowed
    remote reference is used (the build then needs the network)."""
    remote = False
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
            for field, url in _urls(document.data):
                remote = _remote(shown, field, url, allow_remote) or remote
            for field in _FOLDER_FIELDS:
                entries = document.data.get(field) or []
                for entry in entries if isinstance(entries, list) else []:
                    if not isinstance(entry, str):
                        continue
                    target = os.path.realpath(os.path.join(real, entry))
                    exists = os.path.lexists(target)
                    if is_remote_base(entry, exists=exists):
                        remote = _remote(shown, field, entry, allow_remote) or remote
                        continue
                    if not exists:
                        continue
                    if not is_inside(target, real_root):
                        raise RenderError(
                            f"{shown}: {field} entry {entry!r} leads outside the repository; kustomize "
                            "may only read from inside the checked-out repository"
                        )
                    if os.path.isdir(target):
                        pending.append(Path(target))
    return remote


def _remote(shown: str, field: str, url: str, allow_remote: Sequence[str]) -> bool:
    if not allowed(url, allow_remote):
        raise RemoteSourceRefused(
            f"{shown}: {field} entry {url!r} is remote; renders are offline, so it is not downloaded. "
            + REMOTE_HINT
        )
    return True


def _urls(data: dict[str, Any]) -> list[tuple[str, str]]:
    """(field, URL) for every URL in a field that names a file; folders are checked by the caller."""
    found: list[tuple[str, str]] = []

    def take(field: str, value: Any) -> None:
        if isinstance(value, str) and (is_url(value) or is_url(value.partition("=")[2])):
            found.append((field, value))

    for field in _FILE_LISTS:
        entries = data.get(field)
        for entry in entries if isinstance(entries, list) else []:
            take(field, entry)
    for field in _PATH_ITEMS:
        entries = data.get(field)
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict):
                take(f"{field}.path", entry.get("path"))
    openapi = data.get("openapi")
    if isinstance(openapi, dict):
        take("openapi.path", openapi.get("path"))
    for field in _GENERATORS:
        entries = data.get(field)
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, dict):
                continue
            for key in ("files", "envs"):
                values = entry.get(key)
                for value in values if isinstance(values, list) else []:
                    take(f"{field}.{key}", value)
            take(f"{field}.env", entry.get("env"))
    return found
