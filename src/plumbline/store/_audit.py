"""The audit trail and per-app controller state, kept in the same SQLite file as the sync history.

Audit records are append-only (triggers refuse UPDATE and DELETE) *and* tamper-evident: each record's
``hash`` is SHA-256 over the previous record's hash and the record's canonical JSON (sorted keys, no
spaces: actor, app, action, revision, reason, summary, outcome, time), and its ``mac`` is the same
chain keyed with a key the store does not hold; sync history rows and sync intents carry a MAC chain
each, and every head is anchored outside the store (:mod:`plumbline.store._seal`). :meth:`verify_audit`
finds an edited record (even with its hash recomputed), a removed one, and removed newest records.

App state (paused, paused-pending, a mode override) is current state, not history: one mutable row
per app. Every change to it is also an audit record, written by the caller in the same breath.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from plumbline.config import HealthStatus, Mode, VerificationOutcome
from plumbline.errors import StoreError
from plumbline.store import _seal
from plumbline.store._records import SyncResult, _utc, now
from plumbline.store._seal import GENESIS, Head

TRIGGERS = {
    "audit": [
        """CREATE TRIGGER audit_append_only_update BEFORE UPDATE ON audit
           BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END""",
        """CREATE TRIGGER audit_append_only_delete BEFORE DELETE ON audit
           BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END""",
    ],
    "syncs": [
        """CREATE TRIGGER syncs_append_only_update BEFORE UPDATE ON syncs
           BEGIN SELECT RAISE(ABORT, 'sync history is append-only'); END""",
        """CREATE TRIGGER syncs_append_only_delete BEFORE DELETE ON syncs
           BEGIN SELECT RAISE(ABORT, 'sync history is append-only'); END""",
    ],
}

# Appended to the store's MIGRATIONS as one step (schema 1 → 2).
AUDIT_MIGRATION: list[Any] = [
    """CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        time TEXT NOT NULL,          -- ISO 8601, UTC, microseconds
        actor TEXT NOT NULL,
        app TEXT NOT NULL,           -- '' for records about no single app
        action TEXT NOT NULL,
        revision TEXT NOT NULL,
        reason TEXT NOT NULL,
        summary TEXT NOT NULL,       -- JSON object
        outcome TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    )""",
    "CREATE INDEX audit_by_app ON audit (app, id)",
    """CREATE TRIGGER audit_append_only_update BEFORE UPDATE ON audit
       BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END""",
    """CREATE TRIGGER audit_append_only_delete BEFORE DELETE ON audit
       BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END""",
    """CREATE TABLE app_state (
        app TEXT PRIMARY KEY,
        state TEXT NOT NULL,         -- active | paused | paused-pending
        reason TEXT NOT NULL,
        actor TEXT NOT NULL,
        since TEXT NOT NULL,
        until TEXT,                  -- pause expiry
        mode TEXT,                   -- override of the config's spec.mode, or NULL
        detail TEXT NOT NULL         -- JSON object (e.g. the drift that keeps it pending)
    )""",
]


class AppStateKind(StrEnum):
    """An app's break-glass state (``plumb pause``, ``plumb resume``)."""

    ACTIVE = "active"
    PAUSED = "paused"
    PAUSED_PENDING = "paused-pending"  # drift made during a pause waits for capture or a revert
    HELD = (
        "held"  # rolled back to a good revision; held there (its failed SHA never applied) until a new commit
    )


class AuditAction(StrEnum):
    """What an audit record is about. The words ``plumb audit`` shows."""

    SYNC = "sync"
    PLAN = "plan"
    DRIFT = "drift"
    MODE = "mode"
    PAUSE = "pause"
    RESUME = "resume"
    EXPIRE = "expire"
    PENDING = "pending"
    CAPTURE = "capture"
    OVERRIDE = "override"
    FIGHT = "fight"
    LEASE = "lease"
    HEALTH = "health"
    VERIFY = "verify"
    ROLLBACK = "rollback"


class AuditOutcome(StrEnum):
    """How what an audit record is about ended: the one vocabulary of ``plumb audit``'s outcome
    column. The words of a sync's result, an app's state and a mode are those enums' own:

    * ``sync``: ``started`` (its intent is recorded, it is about to write), then its result;
    * ``pause``, ``resume``, ``expire``: the app's state after it;
    * ``rollback``: ``held`` once the good revision is applied, else the rollback sync's result;
    * ``mode``: the mode in force after it;
    * ``lease``: ``acquired``; ``drift``: ``observed``; ``fight``: ``self-heal stopped``;
    * ``health`` (``plumb sync --wait``): the app's health when the wait ended (``HealthStatus``' words);
    * ``verify``: how the verification window after a sync ended (``VerificationOutcome``'s words);
    * empty: a record of a store's first versions, which recorded none.
    """

    UNRECORDED = ""
    STARTED = "started"
    SUCCEEDED = SyncResult.SUCCEEDED.value
    FAILED = SyncResult.FAILED.value
    BLOCKED = SyncResult.BLOCKED.value
    DRY_RUN = SyncResult.DRY_RUN.value
    INTERRUPTED = SyncResult.INTERRUPTED.value
    ACTIVE = AppStateKind.ACTIVE.value
    PAUSED = AppStateKind.PAUSED.value
    PAUSED_PENDING = AppStateKind.PAUSED_PENDING.value
    HELD = AppStateKind.HELD.value
    OBSERVE = Mode.OBSERVE.value
    SYNC = Mode.SYNC.value
    SELF_HEAL = Mode.SELF_HEAL.value
    PRUNE = Mode.PRUNE.value
    ACQUIRED = "acquired"
    OBSERVED = "observed"
    SELF_HEAL_STOPPED = "self-heal stopped"
    HEALTHY = HealthStatus.HEALTHY.value
    SUSPENDED = HealthStatus.SUSPENDED.value
    PROGRESSING = HealthStatus.PROGRESSING.value
    MISSING = HealthStatus.MISSING.value
    DEGRADED = HealthStatus.DEGRADED.value
    UNKNOWN = HealthStatus.UNKNOWN.value
    PASSED = VerificationOutcome.PASSED.value
    VERIFICATION_FAILED = VerificationOutcome.FAILED.value
    INCONCLUSIVE = VerificationOutcome.INCONCLUSIVE.value


@dataclass(frozen=True)
class AuditRecord:
    """One audit record. ``id``, ``prev_hash`` and ``hash`` are set by the store when appended."""

    actor: str
    app: str
    action: AuditAction
    revision: str = ""
    reason: str = ""
    summary: dict[str, Any] = field(default_factory=dict)
    outcome: AuditOutcome = AuditOutcome.UNRECORDED
    time: datetime = field(default_factory=now)
    id: int | None = None
    prev_hash: str = ""
    hash: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "action", AuditAction(self.action))
        object.__setattr__(self, "outcome", AuditOutcome(self.outcome))
        object.__setattr__(self, "time", _utc(self.time, "time"))

    def canonical(self) -> str:
        """The JSON the hash covers: sorted keys, no whitespace, UTF-8 kept."""
        body = {
            "actor": self.actor,
            "app": self.app,
            "action": self.action.value,
            "revision": self.revision,
            "reason": self.reason,
            "summary": self.summary,
            "outcome": self.outcome.value,
            "time": self.time.isoformat(timespec="microseconds"),
        }
        return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def chain_hash(prev_hash: str, record: AuditRecord) -> str:
    return hashlib.sha256((prev_hash + "\n" + record.canonical()).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Broken:
    """Where the chain breaks: the first record whose stored hash does not follow from its contents.
    ``table`` says which chain: ``audit`` (id: the audit record) or ``syncs`` (id: the sync)."""

    id: int
    why: str
    table: str = "audit"


def _check_mac(
    key: bytes, prev: str, canonical: str, stored: str, id_: int, table: str
) -> tuple[str, Broken | None]:
    expected = _seal.mac(key, prev, canonical)
    if not stored:
        return expected, Broken(id=id_, why="it has no MAC (added without the audit key)", table=table)
    if not hmac.compare_digest(stored, expected):
        why = (
            "its contents or its place do not match its MAC "
            "(altered, a row before it removed, or sealed with another key)"
        )
        return expected, Broken(id=id_, why=why, table=table)
    return stored, None


Link = tuple[int, tuple[str, ...], str]
"""One row of a MAC chain as :func:`walk_chains` checks it: (id, what its MAC may cover — the current
form first, then older forms rows before it may have been sealed in —, its stored MAC)."""


def walk_chains(
    key: bytes,
    audit: Sequence[tuple[int, AuditRecord | str, str]],
    syncs: Sequence[Link],
    intents: Sequence[Link],
) -> tuple[int, Broken | None]:
    """Walk the audit trail (its SHA-256 chain and its MAC chain; a record that could not be read is
    given as the error's text), then the history's and the intents' MAC chains, each in id order from
    :data:`GENESIS`: (rows checked, the first broken link or None). Whichever backend keeps them.

    Once a row matches in its first form, later rows are tried in that form only: an older form's MAC
    never matches a newer row, so a link edited into an older shape is still found."""
    checked = 0
    prev, prev_mac = GENESIS, GENESIS
    for id_, record, stored in audit:
        if isinstance(record, str):
            return checked, Broken(id=id_, why=record)
        if record.prev_hash != prev:
            why = "its link to the previous record does not match (a record before it was removed)"
            return checked, Broken(id=id_, why=why)
        if chain_hash(prev, record) != record.hash:
            return checked, Broken(id=id_, why="its contents do not match its hash (altered)")
        prev_mac, broken = _check_mac(key, prev_mac, record.canonical(), stored, id_, "audit")
        if broken is not None:
            return checked, broken
        prev = record.hash
        checked += 1
    for table, links in (("syncs", syncs), ("sync_intents", intents)):
        prev_mac, newest_only = GENESIS, False
        for id_, forms, stored in links:
            for form, canonical in enumerate(forms[:1] if newest_only else forms):
                sealed, broken = _check_mac(key, prev_mac, canonical, stored, id_, table)
                if broken is None:
                    newest_only = newest_only or form == 0
                    break
            if broken is not None:
                return checked, broken
            prev_mac = sealed
            checked += 1
    return checked, None


@dataclass(frozen=True)
class AppState:
    app: str
    state: AppStateKind = AppStateKind.ACTIVE
    reason: str = ""
    actor: str = ""
    since: datetime | None = None
    until: datetime | None = None
    mode: Mode | None = None  # the override of the config's spec.mode (``plumb mode``)
    detail: dict[str, Any] = field(default_factory=dict)


_AUDIT_COLUMNS = "id, time, actor, app, action, revision, reason, summary, outcome, prev_hash, hash"
_SYNC_SEALED = "app, revision, sha, started_at, finished_at, actor, result, summary, desired, message, flags"
_INTENT_SEALED = (
    "app, revision, sha, actor, holder, lease_namespace, started_at, planned, desired, flags, cause"
)


def _chain_rows(
    store: AuditStore,
    db: sqlite3.Connection,
    table: str,
    columns: str,
    canonical: Callable[[tuple[Any, ...]], str],
) -> None:
    """MAC every row of ``table`` (``columns`` start with id; ``canonical`` of such a row) in order,
    from GENESIS: rows written before the table was chained, vouched for from then on."""
    key = store._audit_key(db)
    prev = GENESIS
    for row in db.execute(f"SELECT {columns} FROM {table} ORDER BY id").fetchall():
        prev = _seal.mac(key, prev, canonical(row))
        db.execute(f"UPDATE {table} SET mac = ? WHERE id = ?", (prev, row[0]))
    store._anchor_due = True


def seal_existing(store: AuditStore, db: sqlite3.Connection) -> None:
    """Migration step (schema 2 → 3): MAC every row written before rows had MACs, in order, so the
    trail an upgrade finds is vouched for from then on, and anchor it (once the migration commits).
    History rows are sealed in the form of then (form 1: no intent link yet)."""
    if not any(db.execute(f"SELECT 1 FROM {t} LIMIT 1").fetchone() for t in ("audit", "syncs")):
        return
    chains = (
        ("audit", _AUDIT_COLUMNS, lambda row: store._audit_record(row).canonical()),
        ("syncs", f"id, {_SYNC_SEALED}", lambda row: _seal.canonical_sync(row[1:], form=1)),
    )
    for table, columns, canonical in chains:
        db.execute(f"DROP TRIGGER IF EXISTS {table}_append_only_update")
        _chain_rows(store, db, table, columns, canonical)
        db.execute(TRIGGERS[table][0])


def seal_intents(store: AuditStore, db: sqlite3.Connection) -> None:
    """Migration step (schema 4 → 5): MAC the intents recorded before intents were chained, in order."""
    if db.execute("SELECT 1 FROM sync_intents LIMIT 1").fetchone():
        columns = f"id, {_INTENT_SEALED}"
        _chain_rows(store, db, "sync_intents", columns, lambda row: _seal.canonical_intent(row[1:]))


def _chained(db: sqlite3.Connection) -> list[str]:
    """The chained tables this file has so far (one being migrated may lack the newer ones)."""
    sql = "SELECT 1 FROM pragma_table_info(?) WHERE name = 'mac'"
    return [t for t in _seal.TABLES if db.execute(sql, (t,)).fetchone()]


class AuditStore:
    """The audit and app-state half of :class:`plumbline.store.Store` (a mixin over its connection)."""

    path: Any
    _key: bytes | None = None
    _anchor_due = False

    def _using(self, doing: str) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    # ---- the key and the anchor (store/_seal.py) ----------------------------------------------

    def _audit_key(self, db: sqlite3.Connection) -> bytes:
        """The MAC key; made on first need only while nothing was ever sealed with one (a lost key is
        an error, never silently replaced: rows sealed with the old one could not be verified)."""
        if self._key is None:
            sealed = any(
                db.execute(f"SELECT 1 FROM {t} WHERE mac != '' LIMIT 1").fetchone() for t in _chained(db)
            )
            create = not sealed and not _seal.anchor_path(self.path).exists()
            self._key = _seal.load_key(_seal.key_path(self.path), create=create)
        return self._key

    def _sealed_insert(
        self, db: sqlite3.Connection, table: str, columns: str, values: tuple[Any, ...], canonical: str
    ) -> int:
        """Insert a row into ``table`` with its MAC chained to the newest row's; inside the caller's
        write transaction (BEGIN IMMEDIATE), so the newest MAC cannot change under it."""
        row = db.execute(f"SELECT mac FROM {table} ORDER BY id DESC LIMIT 1").fetchone()
        seal = _seal.mac(self._audit_key(db), row[0] if row else GENESIS, canonical)
        marks = ",".join("?" * (len(values) + 1))
        cursor = db.execute(f"INSERT INTO {table} ({columns}, mac) VALUES ({marks})", (*values, seal))
        assert cursor.lastrowid is not None
        self._anchor_due = True
        return cursor.lastrowid

    def _heads(self, db: sqlite3.Connection) -> dict[str, Head]:
        heads = {}
        for table in _seal.TABLES:
            row = db.execute(f"SELECT id, mac FROM {table} ORDER BY id DESC LIMIT 1").fetchone()
            heads[table] = Head(row[0], row[1]) if row else Head(0, GENESIS)
        return heads

    def _anchor_problems(self, db: sqlite3.Connection, anchor: _seal.Anchor) -> list[Broken]:
        problems = []
        for table, head in anchor.heads.items():
            if table not in _seal.TABLES:
                continue
            newest = db.execute(f"SELECT max(id) FROM {table}").fetchone()[0] or 0
            row = db.execute(f"SELECT mac FROM {table} WHERE id = ?", (head.id,)).fetchone()
            if why := _seal.check_anchor(head, newest, row[0] if row else None):
                problems.append(Broken(id=head.id, why=why, table=table))
        return problems

    def audit_anchor(self) -> tuple[str, str]:
        """(key id, anchor text) of both chains' heads now, MACed: what the controller files outside
        the store (a cluster object) where the store's owner cannot rewrite it."""
        with self._using("anchor the audit trail") as db:
            key = self._audit_key(db)
            return _seal.key_id(key), _seal.seal_anchor(key, self._heads(db))

    def check_audit_anchor(self, text: str, where: str) -> Broken | None:
        """How the trail fails to match an anchor filed elsewhere (``text`` from :meth:`audit_anchor`,
        found at ``where``); None if it matches."""
        with self._using("check the audit trail against its anchor") as db:
            try:
                anchor = _seal.parse_anchor(text, self._audit_key(db), where)
            except StoreError as error:
                return Broken(id=0, why=str(error), table="anchor")
            problems = self._anchor_problems(db, anchor)
        return problems[0] if problems else None

    @contextmanager
    def _appending(self, db: sqlite3.Connection) -> Iterator[None]:
        """One write transaction (BEGIN IMMEDIATE: the newest MAC read and the append under one lock,
        across processes too); once it commits, the anchor follows."""
        db.execute("BEGIN IMMEDIATE")
        try:
            yield
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            self._anchor_due = False
            raise
        self._advance_anchor(db)

    def _advance_anchor(self, db: sqlite3.Connection) -> None:
        """After a committed append: anchor the heads, unless the anchor no longer matches the tables
        (rows removed since it was written) — then it stays, as the evidence ``verify`` reports."""
        if not self._anchor_due:
            return
        self._anchor_due = False
        key = self._audit_key(db)
        path = _seal.anchor_path(self.path)
        try:
            anchor = _seal.read_anchor(path, key)
        except StoreError:
            return  # an altered anchor is kept for verify to report
        if anchor is not None and self._anchor_problems(db, anchor):
            return
        _seal.write_anchor(path, key, self._heads(db))

    def _append_audit(self, record: AuditRecord) -> AuditRecord:
        """Chain ``record`` onto the trail (:meth:`Store.audit`); it with id and hashes set."""
        doing = f"append to the audit trail of {record.app or 'plumbline'}"
        with self._using(doing) as db, self._appending(db):
            row = db.execute("SELECT hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
            prev = row[0] if row else GENESIS
            digest = chain_hash(prev, record)
            rowid = self._sealed_insert(
                db,
                "audit",
                _AUDIT_COLUMNS.removeprefix("id, "),
                (
                    record.time.isoformat(timespec="microseconds"),
                    record.actor,
                    record.app,
                    record.action.value,
                    record.revision,
                    record.reason,
                    json.dumps(record.summary, sort_keys=True, separators=(",", ":"), ensure_ascii=False),
                    record.outcome.value,
                    prev,
                    digest,
                ),
                record.canonical(),
            )
        return replace(record, id=rowid, prev_hash=prev, hash=digest)

    def audit_log(self, app: str | None = None, *, limit: int | None = None) -> list[AuditRecord]:
        """Records (of ``app``, or all), oldest first; with ``limit``, the newest ``limit`` of them."""
        where, args = ("WHERE app = ?", [app]) if app is not None else ("", [])
        sql = f"SELECT {_AUDIT_COLUMNS} FROM audit {where} ORDER BY id DESC LIMIT ?"
        with self._using("read the audit trail") as db:
            rows = db.execute(sql, [*args, -1 if limit is None else limit]).fetchall()
        return [self._audit_record(row) for row in reversed(rows)]

    def verify_audit(self) -> tuple[int, Broken | None]:
        """Walk the audit, history and intent chains, then check their heads against the anchor:
        (rows checked, the first broken link or None). StoreError if the key is missing."""
        with self._using("verify the audit trail") as db:
            empty = not any(db.execute(f"SELECT 1 FROM {t} LIMIT 1").fetchone() for t in _seal.TABLES)
            anchor_file = _seal.anchor_path(self.path)
            if empty and not anchor_file.exists():
                return 0, None
            key = self._audit_key(db)
            audit_rows = db.execute(f"SELECT {_AUDIT_COLUMNS}, mac FROM audit ORDER BY id").fetchall()
            sync_rows = db.execute(
                f"SELECT id, {_SYNC_SEALED}, intent, mac FROM syncs ORDER BY id"
            ).fetchall()
            intent_rows = db.execute(
                f"SELECT id, {_INTENT_SEALED}, mac FROM sync_intents ORDER BY id"
            ).fetchall()
            try:
                anchor = _seal.read_anchor(anchor_file, key)
            except StoreError as error:
                return 0, Broken(id=0, why=str(error), table="anchor")
            problems = self._anchor_problems(db, anchor) if anchor is not None else []
        audit: list[tuple[int, AuditRecord | str, str]] = []
        for row in audit_rows:
            try:
                audit.append((row[0], self._audit_record(row[:-1]), row[-1]))
            except StoreError as error:
                audit.append((row[0], str(error), row[-1]))
        # History rows sealed before the intent link was (form 1) all come before the first row sealed
        # with it (form 2): each row is tried in form 2, then 1, until one matches in form 2.
        syncs = [
            (row[0], tuple(_seal.canonical_sync(row[1:-1], form=f) for f in (2, 1)), row[-1])
            for row in sync_rows
        ]
        intents = [(row[0], (_seal.canonical_intent(row[1:-1]),), row[-1]) for row in intent_rows]
        checked, broken = walk_chains(key, audit, syncs, intents)
        if broken is not None:
            return checked, broken
        if anchor is None:
            why = f"{anchor_file}: the anchor is missing, so removed newest records cannot be ruled out"
            return checked, Broken(id=0, why=why, table="anchor")
        return checked, problems[0] if problems else None

    def _audit_record(self, row: tuple[Any, ...]) -> AuditRecord:
        id_, time, actor, app, action, revision, reason, summary, outcome, prev, digest = row
        try:
            return AuditRecord(
                id=id_,
                time=datetime.fromisoformat(time),
                actor=actor,
                app=app,
                action=action,
                revision=revision,
                reason=reason,
                summary=json.loads(summary),
                outcome=outcome,
                prev_hash=prev,
                hash=digest,
            )
        except (ValueError, TypeError) as error:
            raise StoreError(f"{self.path}: audit record #{id_} cannot be read back: {error}") from None

    # ---- app state ----------------------------------------------------------------------------

    def app_state(self, app: str) -> AppState:
        """The app's controller state; ``active`` with no override if nothing was ever set."""
        with self._using(f"read the state of {app}") as db:
            row = db.execute(
                "SELECT app, state, reason, actor, since, until, mode, detail FROM app_state WHERE app = ?",
                (app,),
            ).fetchone()
        if row is None:
            return AppState(app=app)
        name, state, reason, actor, since, until, mode, detail = row
        return AppState(
            app=name,
            state=AppStateKind(state),
            reason=reason,
            actor=actor,
            since=datetime.fromisoformat(since),
            until=datetime.fromisoformat(until) if until else None,
            mode=Mode(mode) if mode else None,
            detail=json.loads(detail),
        )

    def set_app_state(self, state: AppState) -> None:
        since = state.since or now()
        with self._using(f"write the state of {state.app}") as db:
            db.execute(
                "INSERT OR REPLACE INTO app_state (app, state, reason, actor, since, until, mode, detail) "
                "VALUES (?,?,?,?,?,?,?,?)",
                (
                    state.app,
                    AppStateKind(state.state).value,
                    state.reason,
                    state.actor,
                    _utc(since, "since").isoformat(timespec="microseconds"),
                    _utc(state.until, "until").isoformat(timespec="microseconds") if state.until else None,
                    state.mode.value if state.mode else None,
                    json.dumps(state.detail, sort_keys=True, default=str),
                ),
            )
