"""What the history store holds: one record per sync attempt, and who made it."""

from __future__ import annotations

import getpass
import json
import os
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class SyncResult(StrEnum):
    """How a sync attempt ended. The words users see in ``plumb history``."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    BLOCKED = "blocked"  # a guard stopped it before anything was written
    DRY_RUN = "dry-run"  # nothing was meant to be written
    INTERRUPTED = "interrupted"  # its writer stopped mid-apply (killed); some objects may have been applied


def _utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (got naive {value.isoformat()})")
    return value.astimezone(UTC)


@dataclass(frozen=True)
class SyncRecord:
    """One sync attempt of one app.

    ``revision`` is what was asked for (``main``, ``v1.2``), ``sha`` the commit it resolved to.
    ``desired`` is every rendered object exactly as it was to be applied: later features compare
    against it ("what did we last apply"), so it is stored whole. ``summary`` holds counts and the
    like, ``flags`` the options the sync ran with (``{"prune": True, "forceConflicts": False}``: camelCase
    keys, as every ``-o json`` shows them).
    ``id`` is None until the record is stored. Timestamps must be timezone-aware; they are kept in UTC.
    ``intent`` is the :class:`SyncIntent` this record is the outcome of (None for syncs that never
    meant to write: dry runs, refusals).
    ``proofs``: what a successful sync proved about each object it left unchanged or applied — the
    object's ref (``str(ObjectRef)``) to a :class:`~plumbline.plan.unchanged.Proof` as a dict (keyed
    digests, never a value); the next plan skips the dry run of an object whose proof still holds.
    """

    id: int | None
    app: str
    revision: str
    sha: str
    started_at: datetime
    finished_at: datetime | None
    actor: str
    result: SyncResult
    summary: dict[str, Any] = field(default_factory=dict)
    desired: list[dict[str, Any]] = field(default_factory=list)
    message: str = ""
    flags: dict[str, Any] = field(default_factory=dict)
    intent: int | None = None
    proofs: dict[str, dict[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Normalise once here, so every record (stored or not) compares and sorts the same way.
        object.__setattr__(self, "result", SyncResult(self.result))
        object.__setattr__(self, "started_at", _utc(self.started_at, "started_at"))
        if self.finished_at is not None:
            object.__setattr__(self, "finished_at", _utc(self.finished_at, "finished_at"))


@dataclass(frozen=True)
class SyncIntent:
    """What a sync is about to write, recorded durably before its first write.

    ``holder`` is the identity that takes (or holds) the app's Lease in ``lease_namespace`` for the
    write; ``writing_at`` is set once it holds it, just before the first write. An intent with
    ``writing_at`` and no outcome in the history is an *unfinished* sync: still running while its
    holder keeps the Lease, else interrupted. ``planned`` holds the plan's counts and the objects it
    means to write; ``desired`` the objects as the plan gives them; ``cause`` why it runs.
    """

    id: int | None
    app: str
    revision: str
    sha: str
    actor: str
    holder: str
    lease_namespace: str
    started_at: datetime
    planned: dict[str, Any] = field(default_factory=dict)
    desired: list[dict[str, Any]] = field(default_factory=list)
    flags: dict[str, Any] = field(default_factory=dict)
    cause: str = ""
    writing_at: datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "started_at", _utc(self.started_at, "started_at"))
        if self.writing_at is not None:
            object.__setattr__(self, "writing_at", _utc(self.writing_at, "writing_at"))


def now() -> datetime:
    """The current time, timezone-aware UTC, as records want it."""
    return datetime.now(UTC)


def current_actor(*, environ: Mapping[str, str] | None = None) -> str:
    """Who is acting: ``$PLUMBLINE_ACTOR`` if set (a controller, CI job), else ``user@host``.

    Falls back to ``uid-<n>@host`` where the user has no name (containers without /etc/passwd).
    """
    env = os.environ if environ is None else environ
    if actor := env.get("PLUMBLINE_ACTOR", "").strip():
        return actor
    try:
        user = getpass.getuser()
    except (OSError, KeyError):
        user = f"uid-{os.getuid()}"
    return f"{user}@{socket.gethostname()}"


def record_json(value: Any) -> str:
    """``value`` as a record's JSON column: compact, UTF-8, no NaN. ValueError or TypeError if it is
    not JSON data."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def record_time(value: datetime) -> str:
    """``value`` as a record's time column (ISO 8601, to the microsecond)."""
    return value.isoformat(timespec="microseconds")


def sync_of(
    id_: int,
    row: Sequence[Any],
    desired: list[dict[str, Any]],
    proofs: Mapping[str, dict[str, str]] | None = None,
) -> SyncRecord:
    """A history record from its stored columns — app, revision, sha, started, finished (ISO 8601),
    actor, result, summary (JSON), the desired objects as stored (not read here), message, flags
    (JSON), intent — with ``desired`` and ``proofs`` read by the backend. ValueError or TypeError if
    they are not."""
    app, revision, sha, started, finished, actor, result, summary, _, message, flags, intent = row
    return SyncRecord(
        id=id_,
        app=app,
        revision=revision,
        sha=sha,
        started_at=datetime.fromisoformat(started),
        finished_at=datetime.fromisoformat(finished) if finished is not None else None,
        actor=actor,
        result=SyncResult(result),
        summary=json.loads(summary),
        desired=desired,
        message=message,
        flags=json.loads(flags),
        intent=intent,
        proofs=_proofs(proofs or {}),
    )


def _proofs(stored: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """Recorded proofs as read back; TypeError if they are not ref → {digest name: text}."""
    if not isinstance(stored, Mapping) or not all(isinstance(p, Mapping) for p in stored.values()):
        raise TypeError("the recorded proofs are not a mapping of objects to proofs")
    return {str(ref): {str(k): str(v) for k, v in proof.items()} for ref, proof in stored.items()}


def intent_row(intent: SyncIntent, desired: Any) -> tuple[Any, ...]:
    """The sealed columns of ``intent``, as :func:`intent_of` reads them back and
    :func:`plumbline.store._seal.canonical_intent` seals them — app, revision, sha, actor, holder, lease
    namespace, started (ISO 8601), planned (JSON), ``desired`` as the backend stores it, flags (JSON),
    cause. ValueError or TypeError if planned or flags are not JSON data."""
    return (
        intent.app,
        intent.revision,
        intent.sha,
        intent.actor,
        intent.holder,
        intent.lease_namespace,
        record_time(intent.started_at),
        record_json(intent.planned),
        desired,
        record_json(intent.flags),
        intent.cause,
    )


def intent_of(id_: int, row: Sequence[Any], writing: str | None, desired: list[dict[str, Any]]) -> SyncIntent:
    """A sync intent from its sealed columns — app, revision, sha, actor, holder, lease namespace,
    started (ISO 8601), planned (JSON), the desired objects as stored (not read here), flags (JSON),
    cause — its ``writing`` stamp and ``desired`` read by the backend."""
    app, revision, sha, actor, holder, namespace, started, planned, _, flags, cause = row
    return SyncIntent(
        id=id_,
        app=app,
        revision=revision,
        sha=sha,
        actor=actor,
        holder=holder,
        lease_namespace=namespace,
        started_at=datetime.fromisoformat(started),
        writing_at=datetime.fromisoformat(writing) if writing is not None else None,
        planned=json.loads(planned),
        desired=desired,
        flags=json.loads(flags),
        cause=cause,
    )
