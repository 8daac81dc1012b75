"""The audit trail and per-app controller state, kept in the same SQLite file as the sync history.

Audit records are append-only (triggers refuse UPDATE and DELETE) *and* tamper-evident: each record's
``hash`` is SHA-256 over the previous record's hash and the record's canonical JSON (sorted keys, no
spaces: actor, app, action, revision, reason, summary, outcome, time). Someone who edits the file
directly (dropping the triggers) breaks the chain at the altered record, which :meth:`verify` finds.
Deleting only the newest records is not detectable from the chain alone; compare the count elsewhere
(the Kubernetes Events the controller emits, or a copy of the newest hash) when that matters.

App state (paused, paused-pending, a mode override) is current state, not history: one mutable row
per app. Every change to it is also an audit record, written by the caller in the same breath.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from plumbline.errors import StoreError
from plumbline.store._records import _utc, now

GENESIS = "0" * 64

# Appended to the store's MIGRATIONS as one step (schema 1 → 2).
AUDIT_MIGRATION: list[str] = [
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


@dataclass(frozen=True)
class AuditRecord:
    """One audit record. ``id``, ``prev_hash`` and ``hash`` are set by the store when appended."""

    actor: str
    app: str
    action: str
    revision: str = ""
    reason: str = ""
    summary: dict[str, Any] = field(default_factory=dict)
    outcome: str = ""
    time: datetime = field(default_factory=now)
    id: int | None = None
    prev_hash: str = ""
    hash: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "time", _utc(self.time, "time"))

    def canonical(self) -> str:
        """The JSON the hash covers: sorted keys, no whitespace, UTF-8 kept."""
        body = {
            "actor": self.actor,
            "app": self.app,
            "action": str(self.action),
            "revision": self.revision,
            "reason": self.reason,
            "summary": self.summary,
            "outcome": self.outcome,
            "time": self.time.isoformat(timespec="microseconds"),
        }
        return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def chain_hash(prev_hash: str, record: AuditRecord) -> str:
    return hashlib.sha256((prev_hash + "\n" + record.canonical()).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Broken:
    """Where the chain breaks: the first record whose stored hash does not follow from its contents."""

    id: int
    why: str


class AppStateKind(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    PAUSED_PENDING = "paused-pending"  # drift made during a pause waits for capture or a revert


@dataclass(frozen=True)
class AppState:
    app: str
    state: AppStateKind = AppStateKind.ACTIVE
    reason: str = ""
    actor: str = ""
    since: datetime | None = None
    until: datetime | None = None
    mode: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


_AUDIT_COLUMNS = "id, time, actor, app, action, revision, reason, summary, outcome, prev_hash, hash"


class AuditStore:
    """The audit and app-state half of :class:`plumbline.store.Store` (a mixin over its connection)."""

    path: Any

    def _using(self, doing: str) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def audit(
        self,
        *,
        actor: str,
        app: str,
        action: str,
        revision: str = "",
        reason: str = "",
        summary: dict[str, Any] | None = None,
        outcome: str = "",
        time: datetime | None = None,
    ) -> AuditRecord:
        """Append one record, chained to the newest one; returns it with id and hashes set."""
        record = AuditRecord(
            actor=actor,
            app=app,
            action=str(action),
            revision=revision,
            reason=reason,
            summary=dict(summary or {}),
            outcome=outcome,
            time=time or now(),
        )
        try:
            record.canonical()
        except (TypeError, ValueError) as error:
            raise StoreError(f"{self.path}: audit record for {app} is not JSON data: {error}") from None
        with self._using(f"append to the audit trail of {app or 'plumbline'}") as db:
            # IMMEDIATE: read the newest hash and append under one write lock, across processes too.
            db.execute("BEGIN IMMEDIATE")
            try:
                row = db.execute("SELECT hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
                prev = row[0] if row else GENESIS
                digest = chain_hash(prev, record)
                cursor = db.execute(
                    f"INSERT INTO audit ({_AUDIT_COLUMNS.removeprefix('id, ')}) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (
                        record.time.isoformat(timespec="microseconds"),
                        record.actor,
                        record.app,
                        record.action,
                        record.revision,
                        record.reason,
                        json.dumps(record.summary, sort_keys=True, separators=(",", ":"), ensure_ascii=False),
                        record.outcome,
                        prev,
                        digest,
                    ),
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return AuditRecord(
            actor=record.actor,
            app=record.app,
            action=record.action,
            revision=record.revision,
            reason=record.reason,
            summary=record.summary,
            outcome=record.outcome,
            time=record.time,
            id=cursor.lastrowid,
            prev_hash=prev,
            hash=digest,
        )

    def audit_log(self, app: str | None = None, *, limit: int | None = None) -> list[AuditRecord]:
        """Records (of ``app``, or all), oldest first; with ``limit``, the newest ``limit`` of them."""
        where, args = ("WHERE app = ?", [app]) if app is not None else ("", [])
        sql = f"SELECT {_AUDIT_COLUMNS} FROM audit {where} ORDER BY id DESC LIMIT ?"
        with self._using("read the audit trail") as db:
            rows = db.execute(sql, [*args, -1 if limit is None else limit]).fetchall()
        return [self._audit_record(row) for row in reversed(rows)]

    def verify_audit(self) -> tuple[int, Broken | None]:
        """Walk the whole chain: (records checked, the first broken link or None)."""
        checked = 0
        prev = GENESIS
        for row in self._audit_rows():
            try:
                record = self._audit_record(row)
            except StoreError as error:
                return checked, Broken(id=row[0], why=str(error))
            if record.prev_hash != prev:
                why = "its link to the previous record does not match (a record before it was removed)"
                return checked, Broken(id=row[0], why=why)
            if chain_hash(prev, record) != record.hash:
                return checked, Broken(id=row[0], why="its contents do not match its hash (altered)")
            prev = record.hash
            checked += 1
        return checked, None

    def _audit_rows(self) -> Iterator[tuple[Any, ...]]:
        with self._using("read the audit trail") as db:
            rows = db.execute(f"SELECT {_AUDIT_COLUMNS} FROM audit ORDER BY id").fetchall()
        yield from rows

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
            mode=mode,
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
                    state.mode,
                    json.dumps(state.detail, sort_keys=True, default=str),
                ),
            )
