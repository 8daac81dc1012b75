"""The :class:`Store` kept in the Kubernetes API: Secrets in one namespace, shared by every controller
replica and every CLI that may read them (decision 0015; Helm's release Secrets are the model).

Every record is a Secret in ``namespace``, labelled ``app.kubernetes.io/managed-by: plumbline``,
``plumbline.dev/record`` (its kind) and ``plumbline.dev/app``; its data is gzip-compressed JSON (base64,
as every Secret value). Records are **immutable** Secrets with **create-only names**:

* ``plumbline.sync.<id>`` (type ``plumbline.dev/history.v1``) — one sync: the history row as the MAC
  covers it, the desired objects by their SHA-256 and chunk count, its MAC. Labels: seq, result,
  intent, desired digest.
* ``plumbline.intent.<id>`` (``plumbline.dev/intent.v1``) — one sync intent; ``writing_at`` is the
  one later stamp, an annotation set once (resourceVersion precondition), outside the MAC as in SQLite.
* ``plumbline.audit.<id>`` (``plumbline.dev/audit.v1``) — one audit record with its SHA-256 link and
  its MAC.
* ``plumbline.desired.<app>.<digest>.<n>`` (``plumbline.dev/desired.v1``) — the desired objects of a
  sync or intent, gzip-compressed JSON cut into chunks of :data:`CHUNK_BYTES` (a Secret holds at most
  1 MiB), named by content: an intent and its outcome, or syncs of an unchanged render, share them.
  Per app, the desired objects of the newest ``history_limit`` syncs, of the newest successful sync
  (the attribution baseline) and of the newest intents are kept; older chunks are deleted. Records
  themselves are kept: they carry the chains, and the MAC covers the desired objects by digest.

Mutable, last writer wins (resourceVersion for every update): ``plumbline.state.<app>``
(``plumbline.dev/state.v1``, pause and mode) and ``plumbline.anchor`` (``plumbline.dev/anchor.v1``,
the chains' heads, MACed — never moved past a trail that no longer matches it).

**Concurrency.** An append reads the chain's head (the highest id: a LIST once per store, then a GET
of each following name until one is missing) and creates ``<id + 1>``; a writer that finds the name
taken (409) lost the race, reads the new head and tries again. So every chain is one line with no
lost or forked record, across threads, processes and replicas, without a lock.

**Keys.** The audit MAC key and the fingerprint key are in the Secret ``key_secret``
(``NAMESPACE/NAME``, another namespace than the records: whoever may list the records' Secrets must not
read the key). It is created on first need while nothing was ever sealed; a missing key later is an
error, never replaced.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import copy
import gzip
import hashlib
import json
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from plumbline.cluster import Cluster
from plumbline.config import Mode, StoreBackend
from plumbline.errors import ApiConflict, ApiNotFound, ClusterError, StoreError
from plumbline.store import _seal
from plumbline.store._audit import (
    AppState,
    AppStateKind,
    AuditRecord,
    Broken,
    Link,
    chain_hash,
    walk_chains,
)
from plumbline.store._base import Store
from plumbline.store._records import (
    SyncIntent,
    SyncRecord,
    SyncResult,
    _utc,
    intent_of,
    intent_row,
    now,
    record_json,
    record_time,
    sync_of,
)
from plumbline.store._seal import GENESIS, Head
from plumbline.store._sqlite import NoSuchSyncError

CHUNK_BYTES = 512 * 1024  # of compressed desired objects per Secret (a Secret holds at most 1 MiB)
PRUNE_GRACE = timedelta(minutes=10)  # chunks younger than this are never pruned: their record may follow
RECORDS_KEPT = 1024  # sync records kept as read back (the last sync of as many apps)
AUDITS_KEPT = 100_000  # audit records kept as read back (small: a few hundred bytes each)
RETRIES = 200  # appends that lost the race for a name, in a row, before giving up
MANAGED_BY = {"app.kubernetes.io/managed-by": "plumbline"}
RECORD = "plumbline.dev/record"
APP = "plumbline.dev/app"
SEQ = "plumbline.dev/seq"
RESULT = "plumbline.dev/result"
INTENT = "plumbline.dev/intent"
DESIRED = "plumbline.dev/desired"
CHUNK = "plumbline.dev/chunk"
STARTED = "plumbline.dev/started-at"
WRITING = "plumbline.dev/writing-at"
ANCHOR_NAME = "plumbline.anchor"
METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"


class Kind(StrEnum):
    """What a Secret of the store holds (its ``plumbline.dev/record`` label)."""

    SYNC = "sync"
    INTENT = "intent"
    AUDIT = "audit"
    DESIRED = "desired"
    STATE = "state"
    ANCHOR = "anchor"

    @property
    def secret_type(self) -> str:
        return f"plumbline.dev/{'history' if self is Kind.SYNC else self.value}.v1"


CHAINS = {Kind.AUDIT: "audit", Kind.SYNC: "syncs", Kind.INTENT: "sync_intents"}  # as _seal.TABLES


_json, _time = record_json, record_time


def pack(value: Any) -> str:
    """A Secret data value: ``value`` as JSON, gzip-compressed, base64."""
    return base64.b64encode(gzip.compress(_json(value).encode("utf-8"), mtime=0)).decode("ascii")


def unpack(text: str) -> Any:
    return json.loads(gzip.decompress(base64.b64decode(text)))


def _name(kind: Kind, seq: int) -> str:
    return f"plumbline.{kind.value}.{seq}"


def _chunk_name(app: str, digest: str, index: int) -> str:
    return f"plumbline.desired.{app}.{digest[:40]}.{index}"


def _labels(obj: dict[str, Any]) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("labels") or {})


def _annotations(obj: dict[str, Any]) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("annotations") or {})


def _seq(obj: dict[str, Any]) -> int:
    return int(_labels(obj).get(SEQ, "0"))


class KubernetesStore(Store):
    """The :class:`Store` as Secrets in ``namespace`` of ``cluster`` (module docstring).

    One store may be shared by threads (appends are serialised in the process; across processes the
    create-only names serialise them)."""

    backend = StoreBackend.KUBERNETES

    def __init__(
        self,
        cluster: Cluster,
        *,
        namespace: str,
        history_limit: int,
        key_secret: str,
        own_cluster: bool = False,
    ) -> None:
        self.cluster = cluster
        self.namespace = namespace
        self.history_limit = history_limit
        self.key_namespace, _, self.key_name = key_secret.partition("/")
        self._own_cluster = own_cluster
        self._lock = threading.RLock()
        self._heads: dict[Kind, int] = {}
        self._keys: tuple[bytes, bytes] | None = None
        self.prune_grace = PRUNE_GRACE
        # Sync records read back, by Secret name and resourceVersion: a record is never changed once
        # written, so one read again (the last sync, every pass) needs its listing only; a Secret
        # replaced under the same name has another resourceVersion and is read (and checked) again.
        self._records: OrderedDict[tuple[str, str], SyncRecord] = OrderedDict()
        self._audits: OrderedDict[tuple[str, str], AuditRecord] = OrderedDict()  # the same, audit records

    @classmethod
    def connect(
        cls,
        *,
        namespace: str,
        history_limit: int,
        key_secret: str,
        kubeconfig: Path | None = None,
        context: str | None = None,
    ) -> KubernetesStore:
        """The store in ``namespace`` of the cluster ``kubeconfig``/``context`` name (the usual lookup;
        in a Pod, its service account). Nothing is read or written until first needed."""
        try:
            cluster = Cluster(kubeconfig=kubeconfig, context=context)
        except ClusterError as error:
            raise StoreError(f"Secrets in namespace {namespace}: cannot reach the cluster: {error}") from None
        return cls(
            cluster, namespace=namespace, history_limit=history_limit, key_secret=key_secret, own_cluster=True
        )

    @property
    def where(self) -> str:
        return f"Secrets in namespace {self.namespace} of {self.cluster.server}"

    def close(self) -> None:
        if self._own_cluster:
            self.cluster.close()

    def __enter__(self) -> KubernetesStore:
        return self

    # ---- the API, with every failure a StoreError naming the store ------------------------------

    def _fail(self, doing: str, error: ClusterError) -> StoreError:
        return StoreError(f"{self.where}: cannot {doing}: {error}")

    def _path(self, name: str | None = None, *, namespace: str | None = None) -> str:
        path = f"/api/v1/namespaces/{namespace or self.namespace}/secrets"
        return f"{path}/{name}" if name else path

    def _read(self, name: str, doing: str, *, namespace: str | None = None) -> dict[str, Any] | None:
        try:
            return self.cluster.read(self._path(name, namespace=namespace))
        except ClusterError as error:
            raise self._fail(doing, error) from None

    def _list(
        self, kind: Kind, doing: str, *, app: str | None = None, extra: str = "", metadata: bool = False
    ) -> list[dict[str, Any]]:
        selector = f"{RECORD}={kind.value}" + (f",{APP}={app}" if app is not None else "") + extra
        try:
            answer = self.cluster.request(
                "GET",
                self._path(),
                query={"labelSelector": selector},
                accept=METADATA_LIST if metadata else None,
            )
        except ClusterError as error:
            raise self._fail(doing, error) from None
        items: list[dict[str, Any]] = answer.get("items") or []
        return items

    def _secret(
        self,
        kind: Kind,
        name: str,
        data: dict[str, str],
        *,
        labels: dict[str, str],
        annotations: dict[str, str] | None = None,
        immutable: bool = True,
        namespace: str | None = None,
    ) -> dict[str, Any]:
        metadata: dict[str, Any] = {
            "name": name,
            "namespace": namespace or self.namespace,
            "labels": {**MANAGED_BY, RECORD: kind.value, **labels},
        }
        if annotations:
            metadata["annotations"] = annotations
        body: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": kind.secret_type,
            "metadata": metadata,
            "data": data,
        }
        if immutable:
            body["immutable"] = True
        return body

    def _create(self, body: dict[str, Any], doing: str) -> None:
        """POST ``body``; ApiConflict (409) if its name is taken. A missing namespace is made once."""
        namespace = body["metadata"]["namespace"]
        try:
            try:
                self.cluster.request("POST", self._path(namespace=namespace), body=body)
            except ApiNotFound:
                self._ensure_namespace(namespace)
                self.cluster.request("POST", self._path(namespace=namespace), body=body)
        except ApiConflict:
            raise
        except ClusterError as error:
            raise self._fail(doing, error) from None

    def _ensure_namespace(self, namespace: str) -> None:
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
        with contextlib.suppress(ApiConflict):  # made meanwhile
            self.cluster.request("POST", "/api/v1/namespaces", body=body)

    # ---- keys ----------------------------------------------------------------------------------

    def _key_where(self) -> str:
        return f"Secret {self.key_namespace}/{self.key_name}"

    def _load_keys(self) -> tuple[bytes, bytes]:
        """(audit key, fingerprint key) from the key Secret; made on first need while the store has
        never sealed anything (a lost key is an error, never silently replaced)."""
        with self._lock:
            if self._keys is not None:
                return self._keys
            obj = self._read(
                self.key_name, f"read the store's keys ({self._key_where()})", namespace=self.key_namespace
            )
            if obj is None:
                if not self._empty():
                    raise StoreError(
                        f"{self.where}: the store's keys ({self._key_where()}) are missing; the trail was "
                        "sealed with them and cannot be verified or extended without them (restore it)"
                    )
                self.adopt_keys(secrets.token_bytes(32), secrets.token_bytes(32))
                obj = self._read(self.key_name, "read the store's keys", namespace=self.key_namespace)
                assert obj is not None
            self._keys = self._parse_keys(obj)
            return self._keys

    def _parse_keys(self, obj: dict[str, Any]) -> tuple[bytes, bytes]:
        data = obj.get("data") or {}
        try:
            audit = bytes.fromhex(base64.b64decode(data["audit"]).decode("ascii").strip())
            fingerprint = bytes.fromhex(base64.b64decode(data["fingerprint"]).decode("ascii").strip())
        except (KeyError, ValueError, binascii.Error) as error:
            raise StoreError(f"{self._key_where()}: not the store's keys: {error}") from None
        if len(audit) < 16 or len(fingerprint) < 16:
            raise StoreError(
                f"{self._key_where()}: not the store's keys (expected at least 32 hex digits each)"
            )
        return audit, fingerprint

    def adopt_keys(self, audit: bytes, fingerprint: bytes) -> bool:
        """Create the key Secret with these keys (``plumb store migrate`` brings the SQLite store's);
        True if made, False if it exists with the same keys. StoreError if it holds other keys."""

        def hexed(key: bytes) -> str:
            return base64.b64encode(key.hex().encode("ascii")).decode("ascii")

        body = self._secret(
            Kind.ANCHOR,  # relabelled below: the key Secret is no record
            self.key_name,
            {"audit": hexed(audit), "fingerprint": hexed(fingerprint)},
            labels={},
            namespace=self.key_namespace,
        )
        body["metadata"]["labels"] = dict(MANAGED_BY)
        body["type"] = "plumbline.dev/keys.v1"
        try:
            self._create(body, f"create the store's keys ({self._key_where()})")
            return True
        except ApiConflict:
            obj = self._read(self.key_name, "read the store's keys", namespace=self.key_namespace)
            if obj is not None and self._parse_keys(obj) == (audit, fingerprint):
                return False
            raise StoreError(
                f"{self._key_where()} already holds other keys: this cluster's store belongs to another "
                "installation (or another store was migrated into it)"
            ) from None

    def _audit_key(self) -> bytes:
        return self._load_keys()[0]

    def fingerprint_key(self) -> bytes:
        return self._load_keys()[1]

    def _empty(self) -> bool:
        return self._read(ANCHOR_NAME, "read the audit anchor") is None and not any(
            self._head(kind)[0] for kind in CHAINS
        )

    # ---- chains: create-only names, one line per kind -------------------------------------------

    def _head(self, kind: Kind) -> tuple[int, dict[str, Any] | None]:
        """The newest record of a chain (id 0 and None: empty): from the id known last, following
        names until one is missing; a LIST when nothing is known (or the known head is gone)."""
        with self._lock:
            seq = self._heads.get(kind)
            obj = None
            if seq is None or (seq and (obj := self._read(_name(kind, seq), "read the history")) is None):
                listed = self._list(kind, "list the history", metadata=True)
                seq = max((_seq(o) for o in listed), default=0)
                obj = self._read(_name(kind, seq), "read the history") if seq else None
            while (following := self._read(_name(kind, seq + 1), "read the history")) is not None:
                seq, obj = seq + 1, following
            self._heads[kind] = seq
            return seq, obj

    def _append(
        self,
        kind: Kind,
        doing: str,
        make: Callable[[int, dict[str, Any] | None], dict[str, Any]],
    ) -> int:
        """Create the chain's next record (``make(id, head record)`` gives the Secret), again on a
        lost race; then move the anchor. Returns the id."""
        with self._lock:
            for _ in range(RETRIES):
                seq, head = self._head(kind)
                body = make(seq + 1, unpack(head["data"]["record"]) if head else None)
                try:
                    self._create(body, doing)
                except ApiConflict:
                    continue  # another writer took this id: read the new head, chain onto it
                self._heads[kind] = seq + 1
                self._advance_anchor()
                return seq + 1
        raise StoreError(f"{self.where}: cannot {doing}: {RETRIES} other writers took every id tried")

    def _chain_heads(self) -> dict[str, Head]:
        heads = {}
        for kind, table in CHAINS.items():
            seq, obj = self._head(kind)
            heads[table] = Head(seq, unpack(obj["data"]["record"])["mac"] if obj else GENESIS)
        return heads

    def _anchor_problems(self, anchor: _seal.Anchor, heads: dict[str, Head]) -> list[Broken]:
        problems = []
        for kind, table in CHAINS.items():
            if (filed := anchor.heads.get(table)) is None:
                continue
            newest = heads[table]
            if filed.id == newest.id:
                mac_at: str | None = newest.mac
            elif filed.id > newest.id:
                mac_at = None
            else:
                obj = self._read(_name(kind, filed.id), "read the history")
                mac_at = unpack(obj["data"]["record"])["mac"] if obj else None
            if why := _seal.check_anchor(filed, newest.id, mac_at):
                problems.append(Broken(id=filed.id, why=why, table=table))
        return problems

    def _advance_anchor(self) -> None:
        """Anchor the heads after an append, unless the filed anchor no longer matches the trail
        (records removed since): then it stays, as the evidence ``verify`` reports."""
        key = self._audit_key()
        for _ in range(RETRIES):
            obj = self._read(ANCHOR_NAME, "read the audit anchor")
            heads = self._chain_heads()
            if obj is not None:
                try:
                    text = base64.b64decode((obj.get("data") or {})["anchor"]).decode("utf-8")
                    anchor = _seal.parse_anchor(text, key, f"{self.where}: {ANCHOR_NAME}")
                except (StoreError, KeyError, ValueError, binascii.Error):
                    return  # an altered anchor is kept for verify to report
                if self._anchor_problems(anchor, heads):
                    return
            data = {"anchor": base64.b64encode(_seal.seal_anchor(key, heads).encode()).decode("ascii")}
            body = self._secret(Kind.ANCHOR, ANCHOR_NAME, data, labels={APP: ""}, immutable=False)
            try:
                if obj is None:
                    self._create(body, "file the audit anchor")
                else:
                    body["metadata"]["resourceVersion"] = obj["metadata"]["resourceVersion"]
                    self.cluster.request("PUT", self._path(ANCHOR_NAME), body=body)
                return
            except ApiConflict:
                continue  # another writer moved it: read it again
            except ClusterError as error:
                raise self._fail("file the audit anchor", error) from None

    def _filed_anchor(self, key: bytes) -> _seal.Anchor | None:
        obj = self._read(ANCHOR_NAME, "read the audit anchor")
        if obj is None:
            return None
        try:
            text = base64.b64decode((obj.get("data") or {})["anchor"]).decode("utf-8")
        except (KeyError, ValueError, binascii.Error) as error:
            raise StoreError(f"{self.where}: {ANCHOR_NAME}: not a readable audit anchor: {error}") from None
        return _seal.parse_anchor(text, key, f"{self.where}: {ANCHOR_NAME}")

    def audit_anchor(self) -> tuple[str, str]:
        key = self._audit_key()
        with self._lock:
            return _seal.key_id(key), _seal.seal_anchor(key, self._chain_heads())

    def check_audit_anchor(self, text: str, where: str) -> Broken | None:
        key = self._audit_key()
        try:
            anchor = _seal.parse_anchor(text, key, where)
        except StoreError as error:
            return Broken(id=0, why=str(error), table="anchor")
        with self._lock:
            problems = self._anchor_problems(anchor, self._chain_heads())
        return problems[0] if problems else None

    # ---- desired objects: content-addressed chunks ---------------------------------------------

    def _dumped(self, what: str, *values: Any) -> list[str]:
        """``values`` as JSON text; StoreError naming ``what`` if one is not JSON data."""
        try:
            return [_json(value) for value in values]
        except (TypeError, ValueError) as error:
            raise self._not_json(what, error) from None

    def _not_json(self, what: str, error: Exception) -> StoreError:
        return StoreError(f"{self.where}: {what} is not JSON data, cannot record it: {error}")

    def _put_desired(self, app: str, desired: list[dict[str, Any]], what: str) -> tuple[str, int]:
        """Store ``desired`` (once per content) and return (its SHA-256, its number of chunks)."""
        (text,) = self._dumped(what, desired)
        blob = text.encode("utf-8")
        digest = hashlib.sha256(blob).hexdigest()
        compressed = gzip.compress(blob, mtime=0)
        chunks = [compressed[i : i + CHUNK_BYTES] for i in range(0, len(compressed), CHUNK_BYTES)] or [b""]
        for index, chunk in enumerate(chunks):
            body = self._secret(
                Kind.DESIRED,
                _chunk_name(app, digest, index),
                {"chunk": base64.b64encode(chunk).decode("ascii")},
                labels={APP: app, DESIRED: digest[:40], CHUNK: str(index)},
            )
            with contextlib.suppress(ApiConflict):  # the same content, stored before (named by digest)
                self._create(body, f"store the desired objects of {what}")
        return digest, len(chunks)

    def _get_desired(self, app: str, digest: str, chunks: int) -> list[dict[str, Any]] | None:
        """The desired objects stored under ``digest``; None if the history limit removed them."""
        parts = []
        for index in range(chunks):
            obj = self._read(_chunk_name(app, digest, index), "read desired objects")
            if obj is None:
                return None
            parts.append(base64.b64decode((obj.get("data") or {}).get("chunk", "")))
        try:
            blob = gzip.decompress(b"".join(parts))
        except (OSError, EOFError) as error:
            raise StoreError(f"{self.where}: desired objects {digest[:12]} cannot be read: {error}") from None
        if hashlib.sha256(blob).hexdigest() != digest:
            raise StoreError(
                f"{self.where}: desired objects {digest[:12]} do not match their digest (altered)"
            )
        desired: list[dict[str, Any]] = json.loads(blob)
        return desired

    def _prune(self, app: str) -> None:
        """Delete the app's desired objects no longer kept: all but those of the newest
        ``history_limit`` syncs, the newest successful sync and the newest ``history_limit`` intents."""
        syncs = sorted(
            self._list(Kind.SYNC, "list the history", app=app, metadata=True), key=_order, reverse=True
        )
        keep = {_labels(o).get(DESIRED) for o in syncs[: self.history_limit]}
        succeeded = [o for o in syncs if _labels(o).get(RESULT) == SyncResult.SUCCEEDED.value]
        keep |= {_labels(o).get(DESIRED) for o in succeeded[:1]}
        intents = sorted(
            self._list(Kind.INTENT, "list the intents", app=app, metadata=True), key=_seq, reverse=True
        )
        keep |= {_labels(o).get(DESIRED) for o in intents[: self.history_limit]}
        cutoff = now() - self.prune_grace
        for chunk in self._list(Kind.DESIRED, "list desired objects", app=app, metadata=True):
            created = datetime.fromisoformat(chunk["metadata"]["creationTimestamp"].replace("Z", "+00:00"))
            if _labels(chunk).get(DESIRED) in keep or created > cutoff:
                continue
            try:
                self.cluster.request("DELETE", self._path(chunk["metadata"]["name"]))
            except ApiNotFound:
                pass  # pruned by another writer
            except ClusterError as error:
                raise self._fail(f"prune the desired objects of {app}", error) from None

    # ---- the history and the intents -----------------------------------------------------------

    def record_sync(self, rec: SyncRecord) -> int:
        return self._record_sync(rec, prune=True)

    def _record_sync(self, rec: SyncRecord, *, prune: bool) -> int:
        if rec.id is not None:
            raise ValueError(f"sync #{rec.id} is already recorded; history is append-only")
        what = f"sync of {rec.app}"
        summary, flags = self._dumped(what, rec.summary, rec.flags)
        digest, chunks = self._put_desired(rec.app, rec.desired, what)
        finished = _time(rec.finished_at) if rec.finished_at is not None else None
        row: list[Any] = [
            rec.app,
            rec.revision,
            rec.sha,
            _time(rec.started_at),
            finished,
            rec.actor,
            rec.result.value,
        ]
        row += [summary, digest, rec.message, flags, rec.intent]
        key = self._audit_key()

        def make(seq: int, head: dict[str, Any] | None) -> dict[str, Any]:
            mac = _seal.mac(key, head["mac"] if head else GENESIS, _seal.canonical_sync(tuple(row)))
            labels = {APP: rec.app, SEQ: str(seq), RESULT: rec.result.value, DESIRED: digest[:40]}
            if rec.intent is not None:
                labels[INTENT] = str(rec.intent)
            record = {"row": row, "chunks": chunks, "mac": mac}
            if rec.proofs:  # not under the MAC: a proof only spares a dry run (decision 0024)
                record["proofs"] = rec.proofs
            return self._secret(
                Kind.SYNC,
                _name(Kind.SYNC, seq),
                {"record": pack(record)},
                labels=labels,
                annotations={STARTED: str(row[3])},
            )

        seq = self._append(Kind.SYNC, f"record {what}", make)
        if prune:
            self._prune(rec.app)
        return seq

    def _sync(self, obj: dict[str, Any], with_desired: bool, *, whole: bool = False) -> SyncRecord:
        seq = _seq(obj)
        try:
            record = unpack(obj["data"]["record"])
            row = record["row"]
            desired = self._get_desired(row[0], row[8], record["chunks"]) if with_desired else []
            if desired is None and whole:
                raise StoreError(
                    f"{self.where}: the desired objects of sync #{seq} were removed by the history limit "
                    f"({self.history_limit} syncs per app keep theirs)"
                )
            return sync_of(seq, row, desired or [], record.get("proofs") if with_desired else None)
        except (KeyError, ValueError, TypeError, OSError, EOFError, binascii.Error) as error:
            raise StoreError(f"{self.where}: sync #{seq} cannot be read back: {error}") from None

    def record_intent(self, intent: SyncIntent) -> int:
        if intent.id is not None:
            raise ValueError(f"sync intent #{intent.id} is already recorded")
        what = f"the intent to sync {intent.app}"
        digest, chunks = self._put_desired(intent.app, intent.desired, what)
        try:  # (a chunk stored for an intent refused here is pruned like any chunk no record keeps)
            row = list(intent_row(intent, digest))
        except (TypeError, ValueError) as error:
            raise self._not_json(what, error) from None
        annotations = {STARTED: str(row[6])}
        if intent.writing_at is not None:
            annotations[WRITING] = _time(intent.writing_at)
        key = self._audit_key()

        def make(seq: int, head: dict[str, Any] | None) -> dict[str, Any]:
            mac = _seal.mac(key, head["mac"] if head else GENESIS, _seal.canonical_intent(tuple(row)))
            labels = {APP: intent.app, SEQ: str(seq), DESIRED: digest[:40]}
            record = {"row": row, "chunks": chunks, "mac": mac}
            return self._secret(
                Kind.INTENT,
                _name(Kind.INTENT, seq),
                {"record": pack(record)},
                labels=labels,
                annotations=annotations,
            )

        return self._append(Kind.INTENT, f"record {what}", make)

    def mark_writing(self, intent_id: int) -> None:
        name = _name(Kind.INTENT, intent_id)
        doing = f"mark sync intent #{intent_id} as writing"
        for _ in range(RETRIES):
            obj = self._read(name, doing)
            if obj is None or WRITING in _annotations(obj):
                return  # stamped once only
            patch = {
                "metadata": {
                    "resourceVersion": obj["metadata"]["resourceVersion"],
                    "annotations": {WRITING: _time(now())},
                }
            }
            try:
                self.cluster.request(
                    "PATCH", self._path(name), body=patch, content_type="application/merge-patch+json"
                )
                return
            except ApiConflict:
                continue  # changed meanwhile (stamped by another?): read it again
            except ClusterError as error:
                raise self._fail(doing, error) from None
        raise StoreError(f"{self.where}: cannot {doing}: it kept changing")

    def _intent(self, obj: dict[str, Any]) -> SyncIntent:
        seq = _seq(obj)
        try:
            record = unpack(obj["data"]["record"])
            row = record["row"]
            desired = self._get_desired(row[0], row[8], record["chunks"]) or []
            return intent_of(seq, row, _annotations(obj).get(WRITING), desired)
        except (KeyError, ValueError, TypeError, OSError, EOFError, binascii.Error) as error:
            raise StoreError(f"{self.where}: sync intent #{seq} cannot be read back: {error}") from None

    def unfinished(self, app: str) -> list[SyncIntent]:
        intents = [
            o
            for o in self._list(Kind.INTENT, f"read the sync intents of {app}", app=app)
            if WRITING in _annotations(o)
        ]
        if not intents:
            return []
        outcomes = {
            _labels(o).get(INTENT)
            for o in self._list(Kind.SYNC, f"read the history of {app}", app=app, metadata=True)
        }
        return [self._intent(o) for o in sorted(intents, key=_seq) if str(_seq(o)) not in outcomes]

    def last_sync(self, app: str, *, result: SyncResult | None = SyncResult.SUCCEEDED) -> SyncRecord | None:
        extra = f",{RESULT}={SyncResult(result).value}" if result is not None else ""
        listed = self._list(Kind.SYNC, f"read the history of {app}", app=app, extra=extra, metadata=True)
        if not listed:
            return None
        newest = max(listed, key=_order)
        key = (newest["metadata"]["name"], str(newest["metadata"].get("resourceVersion", "")))
        with self._lock:
            kept = self._records.get(key)
            if kept is not None:
                self._records.move_to_end(key)
        if kept is not None:
            return copy.deepcopy(kept)  # the caller may change what it gets; the kept one stays as read
        obj = self._read(key[0], f"read the history of {app}")
        if obj is None:
            return None
        record = self._sync(obj, True)
        if version := str(obj["metadata"].get("resourceVersion", "")):
            with self._lock:
                self._records[(key[0], version)] = copy.deepcopy(record)
                while len(self._records) > RECORDS_KEPT:
                    self._records.popitem(last=False)
        return record

    def history(self, app: str, *, limit: int | None = 50, with_desired: bool = True) -> list[SyncRecord]:
        if limit is not None and limit < 1:
            raise ValueError(f"limit must be at least 1 (got {limit})")
        listed = sorted(
            self._list(Kind.SYNC, f"read the history of {app}", app=app), key=_order, reverse=True
        )
        return [self._sync(o, with_desired) for o in listed[:limit]]

    def get(self, id: int) -> SyncRecord:
        obj = self._read(_name(Kind.SYNC, id), f"read sync #{id}")
        if obj is None:
            raise NoSuchSyncError(f"{self.where}: no sync #{id} in the history")
        return self._sync(obj, True, whole=True)

    # ---- the audit trail -----------------------------------------------------------------------

    def _append_audit(self, record: AuditRecord) -> AuditRecord:
        canonical = record.canonical()
        key = self._audit_key()
        sealed: dict[str, str] = {}

        def make(seq: int, head: dict[str, Any] | None) -> dict[str, Any]:
            prev = head["hash"] if head else GENESIS
            sealed["prev"], sealed["hash"] = prev, chain_hash(prev, record)
            mac = _seal.mac(key, head["mac"] if head else GENESIS, canonical)
            body = {**json.loads(canonical), "prevHash": prev, "hash": sealed["hash"], "mac": mac}
            labels = {APP: record.app, SEQ: str(seq)}
            return self._secret(Kind.AUDIT, _name(Kind.AUDIT, seq), {"record": pack(body)}, labels=labels)

        seq = self._append(Kind.AUDIT, f"append to the audit trail of {record.app or 'plumbline'}", make)
        return replace(record, id=seq, prev_hash=sealed["prev"], hash=sealed["hash"])

    def _audit_record(self, obj: dict[str, Any]) -> tuple[AuditRecord, str]:
        seq = _seq(obj)
        try:
            body = unpack(obj["data"]["record"])
            record = AuditRecord(
                id=seq,
                time=datetime.fromisoformat(body["time"]),
                actor=body["actor"],
                app=body["app"],
                action=body["action"],
                revision=body["revision"],
                reason=body["reason"],
                summary=body["summary"],
                outcome=body["outcome"],
                prev_hash=body["prevHash"],
                hash=body["hash"],
            )
            return record, str(body["mac"])
        except (KeyError, ValueError, TypeError, OSError, EOFError, binascii.Error) as error:
            raise StoreError(f"{self.where}: audit record #{seq} cannot be read back: {error}") from None

    def audit_log(self, app: str | None = None, *, limit: int | None = None) -> list[AuditRecord]:
        """The trail (of ``app``), oldest first. Audit records never change once written: the listing
        is of their names and resourceVersions, and only when one is not kept from an earlier read
        are the records themselves listed (a pass reads its app's trail; it grows by a few a day)."""
        doing = "read the audit trail"
        names = sorted(self._list(Kind.AUDIT, doing, app=app, metadata=True), key=_seq)
        if limit is not None:
            names = names[-limit:] if limit > 0 else []
        keys = [(o["metadata"]["name"], str(o["metadata"].get("resourceVersion", ""))) for o in names]
        with self._lock:
            kept = [self._audits.get(key) for key in keys]
        if all(record is not None for record in kept):
            return [record for record in kept if record is not None]
        found: dict[tuple[str, str], AuditRecord] = {}
        for obj in self._list(Kind.AUDIT, doing, app=app):
            key = (obj["metadata"]["name"], str(obj["metadata"].get("resourceVersion", "")))
            found[key] = self._audit_record(obj)[0]
        with self._lock:
            self._audits.update(found)
            while len(self._audits) > AUDITS_KEPT:
                self._audits.popitem(last=False)
        records = sorted(found.values(), key=lambda record: record.id or 0)
        if limit is not None:
            records = records[-limit:] if limit > 0 else []
        return records

    def verify_audit(self) -> tuple[int, Broken | None]:
        with self._lock:
            listed = {kind: sorted(self._list(kind, "verify the audit trail"), key=_seq) for kind in CHAINS}
            if not any(listed.values()) and self._read(ANCHOR_NAME, "read the audit anchor") is None:
                return 0, None
            key = self._audit_key()
            try:
                anchor = self._filed_anchor(key)
            except StoreError as error:
                return 0, Broken(id=0, why=str(error), table="anchor")
            heads = self._chain_heads()
        audit: list[tuple[int, AuditRecord | str, str]] = []
        for obj in listed[Kind.AUDIT]:
            try:
                record, mac = self._audit_record(obj)
                audit.append((record.id or 0, record, mac))
            except StoreError as error:
                audit.append((_seq(obj), str(error), ""))
        chains: dict[Kind, list[Link]] = {}
        for kind, canonical in ((Kind.SYNC, _seal.canonical_sync), (Kind.INTENT, _seal.canonical_intent)):
            links: list[Link] = []
            for obj in listed[kind]:
                try:
                    record = unpack(obj["data"]["record"])
                    links.append((_seq(obj), (canonical(tuple(record["row"])),), str(record["mac"])))
                except (KeyError, ValueError, TypeError, OSError, EOFError, binascii.Error) as error:
                    table = CHAINS[kind]
                    return 0, Broken(id=_seq(obj), why=f"it cannot be read back: {error}", table=table)
            chains[kind] = links
        checked, broken = walk_chains(key, audit, chains[Kind.SYNC], chains[Kind.INTENT])
        if broken is not None:
            return checked, broken
        for (
            kind,
            table,
        ) in CHAINS.items():  # a gap at the end of a chain is no broken link: the anchor finds it
            ids = [_seq(o) for o in listed[kind]]
            if ids != list(range(1, len(ids) + 1)):
                missing = next(i for i, seq in enumerate(ids, 1) if seq != i)
                return checked, Broken(id=missing, why="it was removed", table=table)
        if anchor is None:
            why = f"{self.where}: the anchor {ANCHOR_NAME} is missing: removed newest records not ruled out"
            return checked, Broken(id=0, why=why, table="anchor")
        problems = self._anchor_problems(anchor, heads)
        return checked, problems[0] if problems else None

    # ---- per-app state -------------------------------------------------------------------------

    def app_state(self, app: str) -> AppState:
        obj = self._read(f"plumbline.state.{app}", f"read the state of {app}")
        return _state(app, obj) if obj is not None else AppState(app=app)

    def app_states(self) -> list[AppState]:
        listed = self._list(Kind.STATE, "read the app states")
        return sorted((_state(_labels(o).get(APP, ""), o) for o in listed), key=lambda s: s.app)

    def set_app_state(self, state: AppState) -> None:
        since = state.since or now()
        body = {
            "state": AppStateKind(state.state).value,
            "reason": state.reason,
            "actor": state.actor,
            "since": _time(_utc(since, "since")),
            "until": _time(_utc(state.until, "until")) if state.until else None,
            "mode": state.mode.value if state.mode else None,
            "detail": json.loads(json.dumps(state.detail, sort_keys=True, default=str)),
        }
        name = f"plumbline.state.{state.app}"
        doing = f"write the state of {state.app}"
        secret = self._secret(
            Kind.STATE, name, {"state": pack(body)}, labels={APP: state.app}, immutable=False
        )
        for _ in range(RETRIES):
            obj = self._read(name, doing)
            try:
                if obj is None:
                    self._create(secret, doing)
                else:
                    secret["metadata"]["resourceVersion"] = obj["metadata"]["resourceVersion"]
                    self.cluster.request("PUT", self._path(name), body=secret)
                return
            except ApiConflict:
                continue  # written meanwhile: last writer wins, over the newest version
            except ClusterError as error:
                raise self._fail(doing, error) from None
        raise StoreError(f"{self.where}: cannot {doing}: it kept changing")

    # ---- for ``plumb store migrate`` -----------------------------------------------------------

    def heads(self) -> dict[Kind, int]:
        """Each chain's newest id (0: empty)."""
        return {kind: self._head(kind)[0] for kind in CHAINS}

    def sync_at(self, seq: int) -> SyncRecord | None:
        """Sync ``seq`` without its desired objects; None if there is none."""
        obj = self._read(_name(Kind.SYNC, seq), f"read sync #{seq}")
        return self._sync(obj, False) if obj is not None else None

    def intent_at(self, seq: int) -> SyncIntent | None:
        obj = self._read(_name(Kind.INTENT, seq), f"read sync intent #{seq}")
        return self._intent(obj) if obj is not None else None

    def record_sync_unpruned(self, rec: SyncRecord) -> int:
        return self._record_sync(rec, prune=False)

    def prune(self, apps: Iterable[str]) -> None:
        for app in apps:
            self._prune(app)


def _order(obj: dict[str, Any]) -> tuple[str, int]:
    """A sync's place in its app's history: start time, then id (as SQLite orders them)."""
    return _annotations(obj).get(STARTED, ""), _seq(obj)


def _state(app: str, obj: dict[str, Any]) -> AppState:
    try:
        body = unpack(obj["data"]["state"])
        return AppState(
            app=app,
            state=AppStateKind(body["state"]),
            reason=body["reason"],
            actor=body["actor"],
            since=datetime.fromisoformat(body["since"]),
            until=datetime.fromisoformat(body["until"]) if body["until"] else None,
            mode=Mode(body["mode"]) if body["mode"] else None,
            detail=body["detail"],
        )
    except (KeyError, ValueError, TypeError, OSError, EOFError, binascii.Error) as error:
        raise StoreError(
            f"the state of {app} (Secret plumbline.state.{app}) cannot be read back: {error}"
        ) from None
