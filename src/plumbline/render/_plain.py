"""Plain directories: every ``*.yaml``, ``*.yml`` and ``*.json`` below the app path, in sorted order.

* Hidden files and folders (``.something``) are skipped, as Git tooling conventionally does.
* Symlinked files and folders are followed, each real folder once (a link cycle cannot loop). A
  checkout never holds links that leave the repository; a link that does anyway (``root`` is not
  a checkout) is refused rather than read.
* Multi-document YAML is split; empty documents are ignored; a JSON file is one document.
* Every file goes through :func:`plumbline.yamlio.load_documents` (sizes bounded, alias bombs
  refused), every document through :func:`manifests_from` (a mapping with apiVersion, kind,
  metadata.name).
"""

from __future__ import annotations

import os
from pathlib import Path

from plumbline.errors import RenderError
from plumbline.render._manifest import Manifest, manifests_from
from plumbline.source import is_inside
from plumbline.yamlio import MAX_FILE_BYTES, load_documents

SUFFIXES = (".yaml", ".yml", ".json")


def render_plain(root: Path, directory: Path) -> list[Manifest]:
    """The objects in ``directory`` (resolved, inside ``root``), with files relative to ``root``."""
    manifests: list[Manifest] = []
    real_root = os.path.realpath(root)
    for path in _files(directory):
        rel = path.relative_to(root).as_posix()
        if not is_inside(os.path.realpath(path), real_root):
            raise RenderError(f"{rel} is a symlink that leads outside the repository; refused")
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise RenderError(f"{rel}: {size} bytes is more than the {MAX_FILE_BYTES} bytes plumbline reads")
        try:
            text = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            raise RenderError(f"{rel}: not UTF-8 text, so not a YAML or JSON manifest") from None
        for document in load_documents(text, file=rel):
            manifests.extend(manifests_from(document))
    return manifests


def _files(directory: Path) -> list[Path]:
    found: list[Path] = []
    visited: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(directory, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in visited:
            dirnames[:] = []
            continue
        visited.add(real)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if not name.startswith(".") and name.endswith(SUFFIXES) and path.is_file():
                found.append(path)
    return sorted(found, key=lambda p: p.relative_to(directory).parts)
