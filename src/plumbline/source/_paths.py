"""Paths inside a checkout that are guaranteed to stay inside it.

Argo CD shipped CVE-2022-24348 (and its relatives) because a path taken from user input -- an app
path, a Helm value file -- was joined to the repository root without checking where it *really*
leads: ``..`` components and symlinks can both walk out of the tree. Every path plumbline builds from
repository content goes through :func:`safe_join`.
"""

from __future__ import annotations

import os
from pathlib import Path

from plumbline.errors import SourceError


def is_inside(path: Path | str, root: Path | str) -> bool:
    """Whether ``path`` is ``root`` or below it, both taken as they are (call with real paths)."""
    path, root = os.fspath(path), os.fspath(root)
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def safe_join(root: Path, relative: str) -> Path:
    """``root / relative`` with every symlink and ``..`` resolved, refused if it leaves ``root``.

    ``relative`` uses ``/`` and must not be absolute; ``""`` and ``"."`` mean the root itself. A
    ``..`` that stays inside (``a/../b``) is fine; the check is on where the path really leads, so a
    symlink ``apps -> /etc`` is refused just like ``../../etc``. The path need not exist (a missing
    file is the caller's error to report), but every existing component is followed.

    Returns the resolved path. Raises :class:`SourceError` naming ``relative``.
    """
    if "\x00" in relative:
        raise SourceError(f"path {relative!r} contains a NUL byte; it cannot name a file in a repository")
    if relative.startswith("/") or os.path.isabs(relative):
        raise SourceError(
            f"path {relative!r} is absolute; paths in plumbline are relative to the repository root"
        )
    real_root = os.path.realpath(root)
    resolved = os.path.realpath(os.path.join(real_root, relative))
    if not is_inside(resolved, real_root):
        raise SourceError(
            f"path {relative!r} leads outside the repository (through '..' or a symlink); plumbline "
            "only reads files inside the checked-out repository"
        )
    return Path(resolved)
