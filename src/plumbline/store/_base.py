"""The one interface of the store, whichever backend keeps it (decision 0015).

:class:`Store` is what every caller holds: the engine, the controller, the guards and the CLI. Two
backends implement it — :class:`~plumbline.store.SqliteStore` (one local file, the default) and
:class:`~plumbline.store.KubernetesStore` (Secrets in the cluster, shared by every replica and CLI) —
and :func:`~plumbline.store.open_store` opens the one the configuration chooses.
"""

from __future__ import annotations

import abc
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from plumbline.config import StoreBackend
from plumbline.errors import StoreError
from plumbline.store._audit import AppState, AuditAction, AuditOutcome, AuditRecord, Broken
from plumbline.store._records import SyncIntent, SyncRecord, SyncResult, now


class Store(abc.ABC):
    """The sync history, the sync intents, the hash-chained audit trail and per-app state.

    Append-only where it says so, safe for several writers at once (threads, processes, replicas).
    Every failure is a :class:`~plumbline.errors.StoreError` naming where the store is.
    """

    backend: StoreBackend

    @classmethod
    def open(cls, path: Path | None = None) -> Store:
        """The store this process is told to use: ``$PLUMBLINE_STORE_BACKEND`` (default SQLite, at
        ``path`` or :func:`~plumbline.store.default_path`). Commands with a configuration open theirs
        with :func:`~plumbline.store.open_store`."""
        from plumbline.store._open import StoreChoice, open_store

        return open_store(StoreChoice.from_env(path=path))

    @property
    @abc.abstractmethod
    def where(self) -> str:
        """Where the store is, for people: a file, or a namespace of a cluster."""

    @abc.abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # ---- the history and the intents -----------------------------------------------------------

    @abc.abstractmethod
    def record_sync(self, rec: SyncRecord) -> int:
        """Append ``rec`` (whose ``id`` must be None) and return its new id."""

    @abc.abstractmethod
    def record_intent(self, intent: SyncIntent) -> int:
        """Append ``intent`` (whose ``id`` must be None), durably; return its id."""

    @abc.abstractmethod
    def mark_writing(self, intent_id: int) -> None:
        """Stamp the intent: its writer holds the Lease and is about to write (durably, once)."""

    @abc.abstractmethod
    def unfinished(self, app: str) -> list[SyncIntent]:
        """The app's intents that started writing and have no outcome recorded, oldest first."""

    @abc.abstractmethod
    def last_sync(self, app: str, *, result: SyncResult | None = SyncResult.SUCCEEDED) -> SyncRecord | None:
        """The newest sync of ``app`` with ``result`` (any result if None); None if there is none."""

    @abc.abstractmethod
    def history(self, app: str, *, limit: int | None = 50, with_desired: bool = True) -> list[SyncRecord]:
        """Syncs of ``app``, newest first (by start time, then id), at most ``limit`` (None: all);
        ``with_desired=False`` leaves each record's ``desired`` empty."""

    @abc.abstractmethod
    def get(self, id: int) -> SyncRecord:
        """The sync with ``id``, whole. NoSuchSyncError (a StoreError) if there is none."""

    # ---- the audit trail -----------------------------------------------------------------------

    def audit(
        self,
        *,
        actor: str,
        app: str,
        action: AuditAction,
        revision: str = "",
        reason: str = "",
        summary: dict[str, Any] | None = None,
        outcome: AuditOutcome,
        time: datetime | None = None,
    ) -> AuditRecord:
        """Append one record, chained to the newest one; returns it with id and hashes set."""
        record = AuditRecord(
            actor=actor,
            app=app,
            action=action,
            revision=revision,
            reason=reason,
            summary=dict(summary or {}),
            outcome=outcome,
            time=time or now(),
        )
        try:
            record.canonical()
        except (TypeError, ValueError) as error:
            raise StoreError(f"{self.where}: audit record for {app} is not JSON data: {error}") from None
        return self._append_audit(record)

    @abc.abstractmethod
    def _append_audit(self, record: AuditRecord) -> AuditRecord:
        """Chain ``record`` (JSON data, checked) onto the trail; it with id, prev_hash and hash set."""

    @abc.abstractmethod
    def audit_log(self, app: str | None = None, *, limit: int | None = None) -> list[AuditRecord]:
        """Records (of ``app``, or all), oldest first; with ``limit``, the newest ``limit`` of them."""

    @abc.abstractmethod
    def verify_audit(self) -> tuple[int, Broken | None]:
        """Walk every chain and check the heads against the anchor: (rows checked, the first broken
        link or None)."""

    @abc.abstractmethod
    def audit_anchor(self) -> tuple[str, str]:
        """(key id, anchor text) of the chains' heads now, MACed: filed outside the store."""

    @abc.abstractmethod
    def check_audit_anchor(self, text: str, where: str) -> Broken | None:
        """How the trail fails to match an anchor filed elsewhere; None if it matches."""

    # ---- keys and per-app state ----------------------------------------------------------------

    @abc.abstractmethod
    def fingerprint_key(self) -> bytes:
        """The installation's key for secret fingerprints (:mod:`plumbline.redact`): every process
        using this store must fingerprint alike, or a recorded Secret would look changed."""

    @abc.abstractmethod
    def app_state(self, app: str) -> AppState:
        """The app's controller state; ``active`` with no override if nothing was ever set."""

    @abc.abstractmethod
    def set_app_state(self, state: AppState) -> None: ...

    @abc.abstractmethod
    def app_states(self) -> list[AppState]:
        """Every app's state that was ever set, by app name."""
