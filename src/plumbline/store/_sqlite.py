"""The history store: one SQLite file, safe for several processes at once.

* WAL journal, so readers never wait for a writer (the conversion retried: SQLite runs no busy handler
  for it); ``busy_timeout`` so writers from several processes
  queue instead of failing with "database is locked".
* The schema is created or migrated on open, inside one write transaction, and recorded in
  ``schema_version``. A file made by a newer plumbline (higher version) is refused, not damaged.
* History is append-only: triggers refuse UPDATE and DELETE of recorded syncs.
* A sync that means to write records its *intent* first (``sync_intents``, written with a full fsync),
  and its outcome later as a ``syncs`` row naming the intent (at most one per intent). An intent
  may be updated once, to stamp ``writing_at`` when its writer holds the Lease; nothing else.
* The audit trail, the history (with each outcome's intent link) and the intents are MAC-chained and
  anchored (``_audit.py``, ``_seal.py``); every append goes through one sealed write transaction.
* ``desired`` objects are stored as zlib-compressed JSON; everything else as plain columns and JSON.
* Every SQLite failure (corrupt file, not a database, disk full) becomes a StoreError naming the file.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from plumbline.config import StoreBackend
from plumbline.errors import StoreError
from plumbline.paths import state_dir
from plumbline.store._audit import AUDIT_MIGRATION, AppState, AuditStore, seal_existing, seal_intents
from plumbline.store._base import Store
from plumbline.store._keys import key_file
from plumbline.store._records import (
    SyncIntent,
    SyncRecord,
    SyncResult,
    intent_of,
    intent_row,
    record_json,
    record_time,
    sync_of,
)
from plumbline.store._seal import canonical_intent, canonical_sync

BUSY_TIMEOUT_SECONDS = 30.0

# Each entry migrates from version i to i + 1. Append, never edit: released files have run these.
# A step is SQL, or a function of the store and the connection (run inside the same transaction).
MIGRATIONS: list[list[str | Callable[[Any, sqlite3.Connection], None]]] = [
    [
        """CREATE TABLE syncs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            app TEXT NOT NULL,
            revision TEXT NOT NULL,
            sha TEXT NOT NULL,
            started_at TEXT NOT NULL,   -- ISO 8601, UTC, microseconds: sorts as text
            finished_at TEXT,
            actor TEXT NOT NULL,
            result TEXT NOT NULL,
            summary TEXT NOT NULL,      -- JSON object
            desired BLOB NOT NULL,      -- zlib-compressed JSON array of objects
            message TEXT NOT NULL,
            flags TEXT NOT NULL         -- JSON object
        )""",
        "CREATE INDEX syncs_by_app ON syncs (app, started_at, id)",
        """CREATE TRIGGER syncs_append_only_update BEFORE UPDATE ON syncs
           BEGIN SELECT RAISE(ABORT, 'sync history is append-only'); END""",
        """CREATE TRIGGER syncs_append_only_delete BEFORE DELETE ON syncs
           BEGIN SELECT RAISE(ABORT, 'sync history is append-only'); END""",
    ],
    AUDIT_MIGRATION,  # 2: the tamper-evident audit trail and per-app controller state (_audit.py)
    [  # 3: keyed MAC chains over the audit trail and the history, anchored outside the store (_seal.py)
        "ALTER TABLE audit ADD COLUMN mac TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE syncs ADD COLUMN mac TEXT NOT NULL DEFAULT ''",
        seal_existing,
    ],
    [  # 4: intents recorded before the first write; each outcome names its intent
        """CREATE TABLE sync_intents (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            app TEXT NOT NULL,
            revision TEXT NOT NULL,
            sha TEXT NOT NULL,
            actor TEXT NOT NULL,
            holder TEXT NOT NULL,        -- the Lease identity of the writer
            lease_namespace TEXT NOT NULL,
            started_at TEXT NOT NULL,
            writing_at TEXT,             -- set once, when the writer holds the Lease
            planned TEXT NOT NULL,       -- JSON object
            desired BLOB NOT NULL,       -- zlib-compressed JSON array of objects
            flags TEXT NOT NULL,         -- JSON object
            cause TEXT NOT NULL
        )""",
        "CREATE INDEX sync_intents_by_app ON sync_intents (app, id)",
        """CREATE TRIGGER sync_intents_fixed BEFORE UPDATE OF
               id, app, revision, sha, actor, holder, lease_namespace, started_at, planned, desired, flags,
               cause ON sync_intents
           BEGIN SELECT RAISE(ABORT, 'a recorded sync intent cannot be changed'); END""",
        """CREATE TRIGGER sync_intents_writing_once BEFORE UPDATE OF writing_at ON sync_intents
           WHEN OLD.writing_at IS NOT NULL
           BEGIN SELECT RAISE(ABORT, 'a recorded sync intent cannot be changed'); END""",
        """CREATE TRIGGER sync_intents_append_only_delete BEFORE DELETE ON sync_intents
           BEGIN SELECT RAISE(ABORT, 'sync intents are append-only'); END""",
        "ALTER TABLE syncs ADD COLUMN intent INTEGER REFERENCES sync_intents (id)",
        "CREATE UNIQUE INDEX syncs_one_outcome_per_intent ON syncs (intent) WHERE intent IS NOT NULL",
    ],
    [  # 5: intents chained like the history (their own MAC chain and anchored head); history rows
        # from now on sealed with their intent link (_seal.canonical_sync form 2)
        "ALTER TABLE sync_intents ADD COLUMN mac TEXT NOT NULL DEFAULT ''",
        seal_intents,
        "DROP TRIGGER sync_intents_fixed",
        """CREATE TRIGGER sync_intents_fixed BEFORE UPDATE OF
               id, app, revision, sha, actor, holder, lease_namespace, started_at, planned, desired, flags,
               cause, mac ON sync_intents
           BEGIN SELECT RAISE(ABORT, 'a recorded sync intent cannot be changed'); END""",
    ],
    [  # 6: what each sync proved about its objects (plan/unchanged.py): keyed digests, not sealed (a
        # proof only spares a dry run; forging one takes the fingerprint key)
        "ALTER TABLE syncs ADD COLUMN proofs BLOB",  # zlib-compressed JSON object; NULL: none
    ],
]
SCHEMA_VERSION = len(MIGRATIONS)

_COLUMNS = (
    "id, app, revision, sha, started_at, finished_at, actor, result, summary, desired, message, flags, intent"
)
_INTENT_COLUMNS = (
    "id, app, revision, sha, actor, holder, lease_namespace, started_at, writing_at, planned, desired, "
    "flags, cause"
)


class NoSuchSyncError(StoreError):
    """A sync id that the store does not hold."""


def default_path() -> Path:
    """``$PLUMBLINE_STORE`` if set, else ``plumbline.db`` in the state directory."""
    if explicit := os.environ.get("PLUMBLINE_STORE"):
        return Path(explicit)
    return state_dir() / "plumbline.db"


_time, _json = record_time, record_json


def _use_wal(db: sqlite3.Connection) -> None:
    """Put the file in WAL mode (it stays so: a property of the file, not of the connection).

    Converting needs the file to itself, and SQLite does not run the busy handler for it: while
    another process holds a write lock in rollback mode (two processes opening a new store at once),
    ``PRAGMA journal_mode = WAL`` fails at once with "database is locked". So an open that finds the
    file not yet in WAL retries, within the same busy timeout, until it (or another process) has
    converted it. A filesystem without WAL answers with its own mode, not an error: that is kept.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
    pause = 0.01
    while True:
        if str(db.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
            return
        try:
            db.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) and "busy" not in str(error):
                raise
            if time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.25)


class SqliteStore(AuditStore, Store):
    """The :class:`Store` in one SQLite file: the sync history, the audit trail and per-app state
    (:class:`AuditStore`).

    Open with :meth:`SqliteStore.open`; close it (or use ``with``) when done.

    One store may be shared by threads (calls are serialised); several processes may open the same file.
    """

    backend = StoreBackend.SQLITE

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self._db = connection
        self._lock = threading.Lock()
        self.path = path

    @classmethod
    def open(cls, path: Path | None = None) -> SqliteStore:
        """Open (creating if needed) the store at ``path``, default :func:`default_path`.

        Raises StoreError naming the file if it cannot be created, is not an SQLite database, is
        corrupt, or was written by a newer plumbline.
        """
        path = default_path() if path is None else path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StoreError(f"{path}: cannot create its folder: {error.strerror or error}") from None
        try:
            connection = sqlite3.connect(
                path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as error:
            raise StoreError(f"{path}: cannot open the history store: {error}") from None
        store = cls(connection, path)
        try:
            store._prepare()
        except BaseException:
            connection.close()
            raise
        return store

    @property
    def where(self) -> str:
        return str(self.path)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> SqliteStore:
        return self

    def fingerprint_key(self) -> bytes:
        """The key in ``<store>.key`` (mode 0600), made on first use."""
        key = key_file(self.path.with_name(self.path.name + ".key"), what="fingerprint key")
        assert key is not None  # made when missing
        return key

    def audit_key(self) -> bytes:
        """The MAC key (``plumb store migrate`` carries it into the cluster's key Secret)."""
        with self._using("read the audit key") as db:
            return self._audit_key(db)

    def app_states(self) -> list[AppState]:
        with self._using("read the app states") as db:
            names = [row[0] for row in db.execute("SELECT app FROM app_state ORDER BY app").fetchall()]
        return [self.app_state(name) for name in names]

    # ---- every row in order, for ``plumb store migrate`` ------------------------------------------

    def all_intents(self) -> list[SyncIntent]:
        with self._using("read the sync intents") as db:
            rows = db.execute(f"SELECT {_INTENT_COLUMNS} FROM sync_intents ORDER BY id").fetchall()
        return [self._intent(row) for row in rows]

    def all_syncs(self) -> list[SyncRecord]:
        return self._select("ORDER BY id", [], True)

    @contextmanager
    def _using(self, doing: str) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                yield self._db
            except sqlite3.DatabaseError as error:
                hint = ""
                if "not a database" in str(error) or "malformed" in str(error):
                    hint = "; the file is damaged: move it aside to start a new history"
                raise StoreError(f"{self.path}: cannot {doing}: {error}{hint}") from None
            except sqlite3.Error as error:
                raise StoreError(f"{self.path}: cannot {doing}: {error}") from None

    def _prepare(self) -> None:
        with self._using("open the history store") as db:
            db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
            _use_wal(db)
            db.execute("PRAGMA synchronous = NORMAL")  # with WAL: durable at checkpoints, never corrupt
            if self._version(db) == SCHEMA_VERSION:
                return
            # One process migrates (and seals what it finds); the others wait, then find it done.
            with self._appending(db):
                db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
                current = self._version(db)
                if current > SCHEMA_VERSION:
                    raise StoreError(
                        f"{self.path}: written by a newer plumbline (schema {current}; this one knows up "
                        f"to {SCHEMA_VERSION}); upgrade plumbline to read it"
                    )
                for version in range(current + 1, SCHEMA_VERSION + 1):
                    for statement in MIGRATIONS[version - 1]:
                        if callable(statement):
                            statement(self, db)
                        else:
                            db.execute(statement)
                    db.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))

    @staticmethod
    def _version(db: sqlite3.Connection) -> int:
        exists = db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
        ).fetchone()
        if not exists:
            return 0
        row = db.execute("SELECT max(version) FROM schema_version").fetchone()
        return int(row[0] or 0)

    def record_sync(self, rec: SyncRecord) -> int:
        """Append ``rec`` (whose ``id`` must be None) and return its new id."""
        if rec.id is not None:
            raise ValueError(f"sync #{rec.id} is already recorded; history is append-only")
        try:
            row = (
                rec.app,
                rec.revision,
                rec.sha,
                _time(rec.started_at),
                _time(rec.finished_at) if rec.finished_at is not None else None,
                rec.actor,
                rec.result.value,
                _json(rec.summary),
                zlib.compress(_json(rec.desired).encode("utf-8")),
                rec.message,
                _json(rec.flags),
                rec.intent,
            )
            proofs = zlib.compress(_json(rec.proofs).encode("utf-8")) if rec.proofs else None
        except (TypeError, ValueError) as error:
            raise StoreError(
                f"{self.path}: sync of {rec.app} is not JSON data, cannot record it: {error}"
            ) from None
        columns = _COLUMNS.removeprefix("id, ") + ", proofs"
        with self._using(f"record a sync of {rec.app}") as db, self._appending(db):
            return self._sealed_insert(db, "syncs", columns, (*row, proofs), canonical_sync(row))

    # ---- intents: recorded before the first write --------------------------------------------

    @contextmanager
    def _durably(self, doing: str) -> Iterator[sqlite3.Connection]:
        """A write that must be on disk before the caller goes on (a full fsync, not WAL's NORMAL):
        the cluster is written next, and a record lost in a crash would hide that write."""
        with self._using(doing) as db:
            db.execute("PRAGMA synchronous = FULL")
            try:
                yield db
            finally:
                db.execute("PRAGMA synchronous = NORMAL")

    def record_intent(self, intent: SyncIntent) -> int:
        """Append ``intent`` (whose ``id`` must be None), durably; return its id."""
        if intent.id is not None:
            raise ValueError(f"sync intent #{intent.id} is already recorded")
        try:
            sealed = intent_row(intent, zlib.compress(_json(intent.desired).encode("utf-8")))
        except (TypeError, ValueError) as error:
            raise StoreError(
                f"{self.path}: the intent to sync {intent.app} is not JSON data, cannot record it: {error}"
            ) from None
        writing = _time(intent.writing_at) if intent.writing_at is not None else None
        row = (*sealed[:7], writing, *sealed[7:])  # writing_at is stamped later, outside the seal
        doing = f"record the intent to sync {intent.app}"
        with self._durably(doing) as db, self._appending(db):
            columns = _INTENT_COLUMNS.removeprefix("id, ")
            return self._sealed_insert(db, "sync_intents", columns, row, canonical_intent(sealed))

    def mark_writing(self, intent_id: int) -> None:
        """Stamp the intent: its writer holds the Lease and is about to write (durably, once)."""
        with self._durably(f"mark sync intent #{intent_id} as writing") as db:
            db.execute(
                "UPDATE sync_intents SET writing_at = ? WHERE id = ? AND writing_at IS NULL",
                (_time(datetime.now(UTC)), intent_id),
            )

    def unfinished(self, app: str) -> list[SyncIntent]:
        """The app's intents that started writing and have no outcome recorded, oldest first."""
        with self._using(f"read the sync intents of {app}") as db:
            rows = db.execute(
                f"SELECT {_INTENT_COLUMNS} FROM sync_intents i WHERE app = ? AND writing_at IS NOT NULL "
                "AND NOT EXISTS (SELECT 1 FROM syncs s WHERE s.intent = i.id) ORDER BY id",
                (app,),
            ).fetchall()
        return [self._intent(row) for row in rows]

    def _intent(self, row: tuple[Any, ...]) -> SyncIntent:
        id_, writing, desired = row[0], row[8], row[10]
        try:
            return intent_of(id_, row[1:8] + row[9:], writing, json.loads(zlib.decompress(desired)))
        except (ValueError, TypeError, zlib.error) as error:
            raise StoreError(f"{self.path}: sync intent #{id_} cannot be read back: {error}") from None

    def last_sync(self, app: str, *, result: SyncResult | None = SyncResult.SUCCEEDED) -> SyncRecord | None:
        """The newest sync of ``app`` with ``result`` (any result if None); None if there is none."""
        where, args = "app = ?", [app]
        if result is not None:
            where, args = "app = ? AND result = ?", [app, SyncResult(result).value]
        records = self._select(f"WHERE {where} ORDER BY started_at DESC, id DESC LIMIT 1", args, True)
        return records[0] if records else None

    def history(self, app: str, *, limit: int | None = 50, with_desired: bool = True) -> list[SyncRecord]:
        """Syncs of ``app``, newest first (by start time, then id), at most ``limit`` (None: all).

        With ``with_desired=False`` the records' ``desired`` lists are left empty, to list long
        histories without decompressing every object; :meth:`get` gives one record whole.
        """
        if limit is not None and limit < 1:
            raise ValueError(f"limit must be at least 1 (got {limit})")
        sql = "WHERE app = ? ORDER BY started_at DESC, id DESC LIMIT ?"
        return self._select(sql, [app, -1 if limit is None else limit], with_desired)

    def get(self, id: int) -> SyncRecord:
        """The sync with ``id``, whole. NoSuchSyncError (a StoreError) if there is none."""
        records = self._select("WHERE id = ?", [id], True)
        if not records:
            raise NoSuchSyncError(f"{self.path}: no sync #{id} in the history")
        return records[0]

    def _select(self, clause: str, args: list[Any], with_desired: bool) -> list[SyncRecord]:
        columns = f"{_COLUMNS}, proofs" if with_desired else _COLUMNS.replace("desired", "NULL") + ", NULL"
        with self._using("read the sync history") as db:
            rows = db.execute(f"SELECT {columns} FROM syncs {clause}", args).fetchall()
        return [self._record(row) for row in rows]

    def _record(self, row: tuple[Any, ...]) -> SyncRecord:
        id_, desired, proofs = row[0], row[9], row[13]
        try:
            return sync_of(
                id_,
                row[1:13],
                json.loads(zlib.decompress(desired)) if desired is not None else [],
                json.loads(zlib.decompress(proofs)) if proofs is not None else None,
            )
        except (ValueError, TypeError, zlib.error) as error:
            raise StoreError(f"{self.path}: sync #{id_} cannot be read back: {error}") from None
