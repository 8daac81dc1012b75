"""Filters added to detect-secrets' own (see :mod:`plumbline.guards.secrets`).

detect-secrets calls each with the arguments its parameter names ask for (``secret``, ``line``,
``plugin``); True means "not a secret".
"""

from __future__ import annotations

import re
from typing import Any

_HEX_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_DIGEST_KEY = re.compile(r"sha|commit|rev|version|digest|checksum|hash", re.IGNORECASE)
_NAME_KEY = re.compile(r"(?:name|ref|file|path|dir|mount)s?$|^existing", re.IGNORECASE)
_PLAIN_NAME = re.compile(r"[a-z0-9]([-a-z0-9._/]*[a-z0-9])?|[A-Z0-9]+(?:[-_][A-Z0-9]+)*|/[-a-zA-Z0-9._/]+")
_PUBLIC_KEY = re.compile(r"public|pub[_.-]?key", re.IGNORECASE)
_KEY = re.compile(r"""([A-Za-z_][\w.\-]*)["']?\s*(?::|=)""")


def key_of(line: str, secret: str = "") -> str:
    """The key a value on ``line`` is assigned to: the last ``key:``/``key=`` before the value."""
    end = line.find(secret) if secret else -1
    keys = [m.group(1) for m in _KEY.finditer(line, 0, end if end > 0 else len(line))]
    return keys[-1] if keys else ""


def is_commit_sha(secret: str, line: str) -> bool:
    """A commit SHA or content digest (40 or 64 lower-case hex) under a key that says so (``GIT_SHA``,
    ``revision``, ``APP_VERSION``, ``digest``): an identifier, not a credential."""
    return bool(_HEX_ID.fullmatch(secret)) and bool(_DIGEST_KEY.search(key_of(line, secret)))


def is_reference_name(secret: str, line: str, plugin: Any = None) -> bool:
    """A value that names where a secret is rather than holding it: ``SECRET_NAME: db-credentials``,
    ``existingSecret: db``, ``PASSWORD_FILE: /run/secrets/db``. Only for keyword and entropy
    detectors (a known token format is a token whatever its key), as detect-secrets' id filter does."""
    from detect_secrets.plugins.base import RegexBasedDetector

    if isinstance(plugin, RegexBasedDetector):
        return False
    return bool(_PLAIN_NAME.fullmatch(secret)) and bool(_NAME_KEY.search(key_of(line, secret)))


def is_public_value(secret: str, line: str, plugin: Any = None) -> bool:
    """A value under a key that says it is public (``public_key``, ``publicToken``): public by
    definition. Not for known token formats (a private key pasted under ``publicKey`` still counts)."""
    from detect_secrets.plugins.base import RegexBasedDetector

    if isinstance(plugin, RegexBasedDetector):
        return False
    return bool(_PUBLIC_KEY.search(key_of(line, secret)))


SOPS_MARK = "ENC[AES256_GCM,"


def is_sops_encrypted(line: str) -> bool:
    """A SOPS-encrypted value (``ENC[AES256_GCM,data:…]``): ciphertext, safe in Git."""
    return SOPS_MARK in line
