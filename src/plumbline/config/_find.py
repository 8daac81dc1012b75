"""Where the configuration is, when the user did not say (or did)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from plumbline.errors import ConfigError
from plumbline.words import DEFAULT_NAMESPACE as DEFAULT_NAMESPACE

ENV_VAR = "PLUMBLINE_CONFIG"
CLUSTER_SCHEME = "cluster:"
"""``--config cluster:NAMESPACE``: read Apps, Projects and Environments from the cluster (decision 0014)."""


def cluster_namespace(explicit: str | None, *, environ: Mapping[str, str] | None = None) -> str | None:
    """The namespace ``--config cluster:NAMESPACE`` (else ``$PLUMBLINE_CONFIG``) names, ``cluster:``
    alone meaning :data:`DEFAULT_NAMESPACE`; None if the configuration is a file or folder."""
    env = os.environ if environ is None else environ
    given = explicit if explicit is not None else (env.get(ENV_VAR) or None)
    if given is None or not given.startswith(CLUSTER_SCHEME):
        return None
    return given.removeprefix(CLUSTER_SCHEME).strip() or DEFAULT_NAMESPACE


def find_config(
    explicit: str | None,
    *,
    cwd: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Path:
    """The configuration to load: ``explicit``, else ``$PLUMBLINE_CONFIG``, else ``./plumbline.yaml``,
    else the folder ``./plumbline/``.

    An explicit path or the variable that names something missing is an error (not a fall-through to
    the next place: the user asked for that one). ``cwd`` and ``environ`` default to the process's own.
    """
    here = Path.cwd() if cwd is None else cwd
    env = os.environ if environ is None else environ
    for given, what in ((explicit, "the configuration given"), (env.get(ENV_VAR) or None, f"${ENV_VAR}")):
        if given is not None:
            path = Path(given).expanduser()
            path = path if path.is_absolute() else here / path
            if not path.exists():
                raise ConfigError(f"{what} ({given}) does not exist")
            return path
    for candidate in (here / "plumbline.yaml", here / "plumbline"):
        if candidate.exists():
            return candidate
    raise ConfigError(
        f"no configuration found: looked for --config, ${ENV_VAR}, ./plumbline.yaml and ./plumbline/ "
        f"(in {here}); pass --config FILE_OR_DIR or create one of those"
    )
