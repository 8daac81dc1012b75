"""Remote sources in a render: what counts as one, and whether a Project allows it.

Renders are offline: a kustomization's remote base (``https://…``, ``github.com/org/repo//path?ref=v1``,
``git@host:org/repo``) or a Helm dependency from a chart repository is refused, naming the file and
the URL, unless the App's Project lists a glob matching it in ``spec.allowRemoteSources`` (the
opposite of Flux's ``--no-remote-bases``, which is opt-out). Only a render whose every remote
reference is allowed gets network access (see :func:`plumbline.render._run.isolated_env`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from fnmatch import fnmatchcase

REMOTE_HINT = (
    "Vendor it into the repository, or allow it in the App's Project: spec.allowRemoteSources "
    "with a URL glob that matches it."
)

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_SCP_LIKE = re.compile(r"^[\w.-]+@[\w.-]+:")


def is_url(value: str) -> bool:
    """True for ``scheme://…`` (https, oci, ssh, git, file …), ``git::…`` and ``user@host:path``."""
    return bool(_SCHEME.match(value) or _SCP_LIKE.match(value)) or value.startswith("git::")


def is_remote_base(entry: str, *, exists: bool) -> bool:
    """True if the kustomization entry ``entry`` (resources, bases, components) names a remote base.

    Besides URLs, kustomize clones ``host.tld/org/repo[//path][?ref=…]`` for an entry that is not on
    disk; a missing local path (``base.yaml``, ``../base``) is left for kustomize to report.
    """
    if is_url(entry):
        return True
    if exists:
        return False
    first = entry.split("/", 1)[0]
    return "?ref=" in entry or "//" in entry or ("." in first.strip(".") and "/" in entry)


def allowed(url: str, patterns: Sequence[str]) -> bool:
    """True if ``url`` (as written in the file) matches one of the Project's ``allowRemoteSources`` globs."""
    return any(fnmatchcase(url, pattern) for pattern in patterns)
