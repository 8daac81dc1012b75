"""History: the single place plumbline reads "what did we last apply" from.

    with open_store(StoreChoice.of(config.store)) as store:
        store.record_sync(SyncRecord(id=None, app="guestbook", ..., result=SyncResult.SUCCEEDED))
        last = store.last_sync("guestbook")          # newest succeeded sync, or None
        recent = store.history("guestbook", limit=10)  # newest first

Audit trail (append-only, hash-chained) and per-app controller state:

        store.audit(actor="alice", app="guestbook", action=AuditAction.PAUSE, reason="incident 42",
                    outcome=AuditOutcome.PAUSED)
        checked, broken = store.verify_audit()       # broken: the first altered record, or None

:class:`Store` is the one interface; :class:`SqliteStore` keeps it in one local file (the default:
``$PLUMBLINE_STORE``, else ``plumbline.db`` in the state directory), :class:`KubernetesStore` as
Secrets in the cluster, shared by every replica and CLI. Which backend a run uses is the
configuration's ``Instance.spec.store``, overridden by ``plumb --store`` or ``$PLUMBLINE_STORE_BACKEND``
(:class:`StoreChoice`, :func:`open_store`; decision 0015).
"""

from plumbline.store._audit import AppState, AppStateKind, AuditAction, AuditOutcome, AuditRecord, Broken
from plumbline.store._base import Store
from plumbline.store._keys import key_file
from plumbline.store._kube import RECORD as RECORD_LABEL
from plumbline.store._kube import KubernetesStore
from plumbline.store._marks import FAILED, FailedRevision, failed_revisions
from plumbline.store._migrate import Migrated, migrate
from plumbline.store._open import StoreChoice, open_store
from plumbline.store._records import SyncIntent, SyncRecord, SyncResult, current_actor, now
from plumbline.store._sqlite import SCHEMA_VERSION, NoSuchSyncError, SqliteStore, default_path

__all__ = [
    "FAILED",
    "RECORD_LABEL",
    "SCHEMA_VERSION",
    "AppState",
    "AppStateKind",
    "AuditAction",
    "AuditOutcome",
    "AuditRecord",
    "Broken",
    "FailedRevision",
    "KubernetesStore",
    "Migrated",
    "NoSuchSyncError",
    "SqliteStore",
    "Store",
    "StoreChoice",
    "SyncIntent",
    "SyncRecord",
    "SyncResult",
    "current_actor",
    "default_path",
    "failed_revisions",
    "key_file",
    "migrate",
    "now",
    "open_store",
]
