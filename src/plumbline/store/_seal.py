"""What makes the audit trail and the sync history tamper-evident: a key the store does not hold, a MAC
chain per table, and an anchor of each chain's head kept outside the store.

* **Key** — 32 random bytes (hex) in ``$PLUMBLINE_AUDIT_KEY_FILE``, else ``<store>.audit-key`` beside the
  database file, created 0600 on first need. Without the key nobody can recompute a MAC, so an edited
  row stays detectably edited even when its unkeyed SHA-256 ``hash`` is recomputed. In a cluster, mount
  a Kubernetes Secret as that file, so whoever can write the store's volume does not hold the key.
* **Chain** — each row's ``mac`` is HMAC-SHA256(key, previous row's mac + "\\n" + the row's canonical
  JSON), from :data:`GENESIS`. An edit breaks that row's MAC; a deletion breaks the next row's link.
  The chained tables: the audit trail, the sync history (with each outcome's link to its intent) and
  the sync intents (all but ``writing_at``, the one column stamped after the row is written).
* **Anchor** — ``$PLUMBLINE_AUDIT_ANCHOR_FILE``, else ``<store>.audit-anchor``: per table the row count
  and the newest MAC, itself MACed with the key, rewritten after every append. Deleting the newest rows
  leaves the anchor pointing past the end (or at a different row), which :func:`check_anchor` reports.
  An append that finds the anchor not matching the table leaves it where it is, so the evidence stays.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from plumbline.errors import StoreError
from plumbline.store._keys import key_file

GENESIS = "0" * 64
KEY_ENV = "PLUMBLINE_AUDIT_KEY_FILE"
ANCHOR_ENV = "PLUMBLINE_AUDIT_ANCHOR_FILE"
TABLES = ("audit", "syncs", "sync_intents")


def key_path(store: Path) -> Path:
    return (
        Path(explicit)
        if (explicit := os.environ.get(KEY_ENV))
        else store.with_name(store.name + ".audit-key")
    )


def anchor_path(store: Path) -> Path:
    if explicit := os.environ.get(ANCHOR_ENV):
        return Path(explicit)
    return store.with_name(store.name + ".audit-anchor")


def load_key(path: Path, *, create: bool) -> bytes:
    """The key in ``path``; with ``create``, a new one is made (0600) if the file does not exist."""
    key = key_file(path, what="audit key", create=create)
    if key is None:
        raise StoreError(
            f"{path}: the audit key is missing; the trail was written with it and cannot be verified or "
            f"extended without it (restore it, or set ${KEY_ENV} to where it is)"
        )
    if len(key) < 16:
        raise StoreError(f"{path}: not an audit key (expected at least 32 hex digits)")
    return key


def mac(key: bytes, prev: str, canonical: str) -> str:
    return hmac.new(key, (prev + "\n" + canonical).encode("utf-8"), hashlib.sha256).hexdigest()


def _digest(desired: bytes | str) -> str:
    """The desired objects by their SHA-256: of the stored blob (bytes), or given already (hex text)."""
    return desired if isinstance(desired, str) else hashlib.sha256(desired).hexdigest()


def canonical_sync(row: tuple[Any, ...], *, form: int = 2) -> str:
    """What a history row's MAC covers: its stored columns in order, the desired blob by its SHA-256,
    then the intent it is the outcome of. Form 1 (rows sealed before intents were, schema 3 and 4)
    stops before the intent; the row may then lack it."""
    app, revision, sha, started, finished, actor, result, summary, desired, message, flags = row[:11]
    values = [app, revision, sha, started, finished, actor, result, summary]
    values += [_digest(desired), message, flags]
    if form >= 2:
        values.append(row[11])
    return json.dumps(values, separators=(",", ":"), ensure_ascii=False)


def canonical_intent(row: tuple[Any, ...]) -> str:
    """What a sync intent's MAC covers: its columns in order but ``writing_at``, the desired blob by
    its SHA-256. ``writing_at`` is stamped once after the row is chained, and re-MACing a row that
    others have chained onto since is not possible; the outcome row names the intent, under its MAC."""
    app, revision, sha, actor, holder, namespace, started, planned, desired, flags, cause = row
    values = [app, revision, sha, actor, holder, namespace, started, planned]
    values += [_digest(desired), flags, cause]
    return json.dumps(values, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class Head:
    """A table's newest row when the anchor was written: its id and MAC (id 0: the table was empty)."""

    id: int
    mac: str


@dataclass(frozen=True)
class Anchor:
    heads: dict[str, Head]
    time: str

    def body(self) -> str:
        data = {"heads": {t: [h.id, h.mac] for t, h in sorted(self.heads.items())}, "time": self.time}
        return json.dumps(data, sort_keys=True, separators=(",", ":"))


def parse_anchor(text: str, key: bytes, where: str) -> Anchor:
    """An anchor from its JSON text; StoreError naming ``where`` if it is not one this key wrote."""
    try:
        data = json.loads(text)
        heads = {t: Head(int(i), str(m)) for t, (i, m) in data["heads"].items()}
        anchor = Anchor(heads=heads, time=str(data["time"]))
        seal = str(data["mac"])
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise StoreError(f"{where}: not a readable audit anchor: {error}") from None
    if not hmac.compare_digest(seal, mac(key, GENESIS, anchor.body())):
        raise StoreError(f"{where}: the audit anchor was altered (its MAC does not match)")
    return anchor


def seal_anchor(key: bytes, heads: dict[str, Head]) -> str:
    """The JSON text of an anchor of ``heads``, MACed, timed now."""
    anchor = Anchor(heads=heads, time=datetime.now(UTC).isoformat(timespec="seconds"))
    data = json.loads(anchor.body()) | {"mac": mac(key, GENESIS, anchor.body())}
    return json.dumps(data, sort_keys=True)


def key_id(key: bytes) -> str:
    """A name for the key that does not reveal it: where an anchor outside the store is filed."""
    return mac(key, GENESIS, "plumbline audit anchor")[:16]


def read_anchor(path: Path, key: bytes) -> Anchor | None:
    """The anchor in ``path``; None if there is none. StoreError if it is not one this key wrote."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise StoreError(f"{path}: not a readable audit anchor: {error.strerror or error}") from None
    return parse_anchor(text, key, str(path))


def write_anchor(path: Path, key: bytes, heads: dict[str, Head]) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    try:
        temporary.write_text(seal_anchor(key, heads) + "\n")
        os.replace(temporary, path)  # atomic: a reader sees the old anchor or the new, never half
    except OSError as error:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise StoreError(f"{path}: cannot write the audit anchor: {error.strerror or error}") from None


def check_anchor(anchor: Head, newest: int, mac_at: str | None) -> str | None:
    """Why a table whose newest row is ``newest`` and whose row ``anchor.id`` has MAC ``mac_at`` (None:
    no such row) does not match its anchor; None if it does."""
    if anchor.id > newest:
        return (
            f"the anchor records row #{anchor.id} but the newest left is #{newest}: "
            "the newest rows were removed"
        )
    if anchor.id and mac_at is None:
        return f"row #{anchor.id}, which the anchor records, was removed"
    if anchor.id and mac_at != anchor.mac:
        return f"row #{anchor.id} is not the one the anchor recorded (replaced)"
    return None
