"""Secret keys kept in files beside (or away from) the store: one way to read and create them."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from plumbline.errors import StoreError


def key_file(path: Path, *, what: str, create: bool = True) -> bytes | None:
    """The key in ``path`` (hex). Missing: made (32 random bytes, mode 0600) if ``create``, else None.
    StoreError naming ``path`` and ``what`` if it cannot be read, is empty, or cannot be made."""
    try:
        key = bytes.fromhex(path.read_text(encoding="ascii").strip())
    except FileNotFoundError:
        key = b""
    except (OSError, ValueError) as error:
        raise StoreError(f"{path}: cannot read the {what}: {error}") from None
    if key:
        return key
    if path.exists():
        raise StoreError(f"{path}: the {what} is empty; restore it from a backup")
    if not create:
        return None
    # Written whole under a temporary name, then linked into place: a process that reads it never
    # sees half a key, and of two processes creating it at once, one wins and both use its key.
    key = secrets.token_bytes(32)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(key.hex() + "\n")
        try:
            os.link(temporary, path)
        except FileExistsError:
            return key_file(path, what=what, create=False)
    except OSError as error:
        raise StoreError(f"{path}: cannot create the {what}: {error.strerror or error}") from None
    finally:
        temporary.unlink(missing_ok=True)
    return key
