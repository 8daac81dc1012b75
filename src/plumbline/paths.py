"""Where plumbline keeps things outside a repository. One place, so every part agrees."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """Rebuildable data: built binaries, Git checkouts. ``PLUMBLINE_CACHE_DIR`` overrides."""
    if explicit := os.environ.get("PLUMBLINE_CACHE_DIR"):
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "plumbline"


def state_dir() -> Path:
    """Data that is not rebuildable: the local control plane, history. ``PLUMBLINE_STATE_DIR`` overrides."""
    if explicit := os.environ.get("PLUMBLINE_STATE_DIR"):
        return Path(explicit)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "plumbline"


def local_dir() -> Path:
    """The user's local control plane (``plumb local up``): its kubeconfig, certificates and data.
    Here, not in :mod:`plumbline.local`, so that finding its kubeconfig loads no control plane code."""
    return state_dir() / "local"
