"""``plumb store migrate --to kubernetes``: an SQLite store's history, intents, audit trail and app
states copied into the cluster's store, in order, each chain sealed again there (decision 0015).

* The SQLite trail is verified first: a broken trail is never sealed again as if it were whole.
* The keys come along (the cluster's key Secret is made with the file's keys), so secret fingerprints
  recorded in the desired objects still compare with the ones a plan makes, and records keep their ids
  (intent links stay right): a record's id in the cluster is its id in the file.
* Idempotent: a record already copied (same id, same identity) is skipped; a cluster store holding
  other records is refused, nothing changed.
* Desired objects are fingerprinted on the way in (records of versions that stored Secret values in
  clear are not carried into the cluster in clear).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol, TypeVar

from plumbline.errors import StoreError
from plumbline.store._audit import AuditRecord
from plumbline.store._kube import Kind, KubernetesStore
from plumbline.store._records import SyncIntent, SyncRecord
from plumbline.store._sqlite import SqliteStore

Redact = Callable[[dict[str, Any]], dict[str, Any] | None]


@dataclass(frozen=True)
class Migrated:
    """How many of each were copied now, and how many were found already copied."""

    intents: int = 0
    syncs: int = 0
    audit: int = 0
    states: int = 0
    already: int = 0

    def to_dict(self) -> dict[str, int]:
        return {
            "intents": self.intents,
            "syncs": self.syncs,
            "audit": self.audit,
            "states": self.states,
            "alreadyCopied": self.already,
        }


class _Record(Protocol):
    @property
    def id(self) -> int | None: ...


R = TypeVar("R", bound=_Record)


def _copy(
    target: KubernetesStore,
    kind: str,
    records: Sequence[R],
    copied: int,
    same: Callable[[int], bool],
    store: Callable[[R], int],
) -> tuple[int, int]:
    """Store each of ``records`` (in id order) the target does not hold yet; (stored now, found there).

    The target holds its ``copied`` first records already if the last of them is the same record;
    StoreError if it holds others. Each record keeps its id (another writer meanwhile: StoreError)."""
    if copied and (copied > len(records) or records[copied - 1].id != copied or not same(copied)):
        raise StoreError(
            f"{target.where} already holds other {kind} ({copied}) than this file: migrate into an empty "
            "store, or one migrated from this file"
        )
    for record in records[copied:]:
        if (got := store(record)) != record.id:
            raise StoreError(
                f"{target.where}: {kind} #{record.id} was stored as #{got}: is something else writing?"
            )
    return len(records) - copied, copied


def migrate(source: SqliteStore, target: KubernetesStore, *, redact: Redact) -> Migrated:
    """Copy ``source`` into ``target`` (module docstring); ``redact`` fingerprints a desired object."""
    _, broken = source.verify_audit()
    if broken is not None:
        raise StoreError(
            f"{source.where}: the audit trail is broken ({broken.table} #{broken.id}: {broken.why}); "
            "it is not sealed again in the cluster as if it were whole"
        )
    target.adopt_keys(source.audit_key(), source.fingerprint_key())
    heads = target.heads()

    def desired(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [shown for obj in objects if (shown := redact(obj)) is not None]

    intents = source.all_intents()

    def same_intent(seq: int) -> bool:
        there = target.intent_at(seq)
        return there is not None and _identity_intent(there) == _identity_intent(intents[seq - 1])

    def store_intent(intent: SyncIntent) -> int:
        return target.record_intent(replace(intent, id=None, desired=desired(intent.desired)))

    done_intents, skipped = _copy(
        target, "sync intents", intents, heads[Kind.INTENT], same_intent, store_intent
    )

    syncs = source.all_syncs()

    def same_sync(seq: int) -> bool:
        there = target.sync_at(seq)
        return there is not None and _identity_sync(there) == _identity_sync(syncs[seq - 1])

    def store_sync(record: SyncRecord) -> int:
        return target.record_sync_unpruned(replace(record, id=None, desired=desired(record.desired)))

    done_syncs, already = _copy(target, "syncs", syncs, heads[Kind.SYNC], same_sync, store_sync)
    skipped += already
    target.prune(sorted({r.app for r in syncs}))

    trail = source.audit_log()
    copied = target.audit_log() if heads[Kind.AUDIT] else []

    def same_audit(seq: int) -> bool:
        return copied[seq - 1].hash == trail[seq - 1].hash

    def store_audit(entry: AuditRecord) -> int:
        made = target.audit(
            actor=entry.actor,
            app=entry.app,
            action=entry.action,
            revision=entry.revision,
            reason=entry.reason,
            summary=entry.summary,
            outcome=entry.outcome,
            time=entry.time,
        )
        if made.hash != entry.hash:
            raise StoreError(f"{target.where}: audit record #{made.id} did not chain as in {source.where}")
        return made.id or 0

    done_audit, already = _copy(target, "audit records", trail, heads[Kind.AUDIT], same_audit, store_audit)
    skipped += already

    states = source.app_states()
    for state in states:
        target.set_app_state(state)
    return Migrated(
        intents=done_intents, syncs=done_syncs, audit=done_audit, states=len(states), already=skipped
    )


def _identity_sync(record: SyncRecord) -> tuple[Any, ...]:
    return record.app, record.started_at, record.sha, record.result, record.intent


def _identity_intent(intent: SyncIntent) -> tuple[Any, ...]:
    return intent.app, intent.started_at, intent.sha, intent.holder
