"""The audit trail on real SQLite files: chained, append-only, and tampering found at the right record."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import sqlite3
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from plumbline.config import Mode
from plumbline.errors import StoreError
from plumbline.store import (
    AppState,
    AppStateKind,
    AuditAction,
    AuditOutcome,
    AuditRecord,
    Broken,
    SqliteStore,
    Store,
    SyncIntent,
    SyncRecord,
    SyncResult,
)
from plumbline.store._audit import _AUDIT_COLUMNS, chain_hash
from plumbline.store._seal import GENESIS
from tests.support import cli
from tests.support.store import sync_record

T0 = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def fill(store: Store, n: int = 4) -> None:
    for i in range(n):
        store.audit(
            actor="alice@laptop",
            app="guestbook" if i % 2 == 0 else "shop",
            action=AuditAction.SYNC,
            revision=f"sha{i}",
            reason="",
            summary={"create": i, "note": "grüße"},
            outcome=AuditOutcome.SUCCEEDED,
            time=T0 + timedelta(seconds=i),
        )


def test_records_chain_from_genesis_and_verify(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db") as store:
        fill(store)
        records = store.audit_log()
        assert [r.revision for r in records] == ["sha0", "sha1", "sha2", "sha3"]
        assert records[0].prev_hash == GENESIS
        for before, after in itertools.pairwise(records):
            assert after.prev_hash == before.hash
            assert after.hash == chain_hash(before.hash, after)
        assert [r.app for r in store.audit_log("shop")] == ["shop", "shop"]
        assert [r.revision for r in store.audit_log(limit=1)] == ["sha3"]
        assert store.verify_audit() == (4, None)


def test_triggers_refuse_update_and_delete(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with Store.open(path) as store:
        fill(store, 2)
    raw = sqlite3.connect(path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        raw.execute("UPDATE audit SET reason = 'x' WHERE id = 1")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        raw.execute("DELETE FROM audit WHERE id = 1")
    raw.close()


def tamper(path: Path, sql: str) -> None:
    raw = sqlite3.connect(path)
    for table in ("audit", "syncs", "sync_intents"):
        raw.execute(f"DROP TRIGGER IF EXISTS {table}_append_only_update")
        raw.execute(f"DROP TRIGGER IF EXISTS {table}_append_only_delete")
    raw.execute("DROP TRIGGER IF EXISTS sync_intents_fixed")
    raw.execute("DROP TRIGGER IF EXISTS sync_intents_writing_once")
    raw.execute(sql)
    raw.commit()
    raw.close()


def verify_tampered(path: Path, sql: str) -> tuple[int, Broken | None]:
    """What ``verify_audit`` finds in a store :func:`fill` filled and ``sql`` then edited behind its back."""
    with Store.open(path) as store:
        fill(store)
    tamper(path, sql)
    with Store.open(path) as store:
        return store.verify_audit()


def test_altered_row_is_the_first_broken_link(tmp_path: Path) -> None:
    checked, broken = verify_tampered(tmp_path / "s.db", "UPDATE audit SET outcome = 'failed' WHERE id = 3")
    assert checked == 2 and broken is not None and broken.id == 3 and "altered" in broken.why


def test_rehashed_row_is_found_by_its_mac(tmp_path: Path) -> None:
    """An attacker who recomputes the altered row's own hash cannot recompute its MAC (no key)."""
    path = tmp_path / "s.db"
    with Store.open(path) as store:
        fill(store)
        target = store.audit_log()[1]
    forged = chain_hash(target.prev_hash, target.__class__(**{**target.__dict__, "reason": "forged"}))
    tamper(path, f"UPDATE audit SET reason = 'forged', hash = '{forged}' WHERE id = {target.id}")
    with Store.open(path) as store:
        _, broken = store.verify_audit()
    assert broken is not None and broken.id == 2 and "MAC" in broken.why


def test_deleted_row_is_found(tmp_path: Path) -> None:
    _, broken = verify_tampered(tmp_path / "s.db", "DELETE FROM audit WHERE id = 2")
    assert broken is not None and broken.id == 3


def test_non_json_summary_is_refused(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db") as store, pytest.raises(StoreError, match="not JSON"):
        store.audit(
            actor="a",
            app="x",
            action=AuditAction.SYNC,
            summary={"bad": object()},
            outcome=AuditOutcome.STARTED,
        )
        assert store.audit_log() == []


def test_app_state_round_trip(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db") as store:
        assert store.app_state("guestbook").state is AppStateKind.ACTIVE
        state = AppState(
            app="guestbook",
            state=AppStateKind.PAUSED,
            reason="incident 42",
            actor="alice",
            since=T0,
            until=T0 + timedelta(hours=2),
            mode=Mode.SYNC,
            detail={"drift": ["ConfigMap ns/env"]},
        )
        store.set_app_state(state)
        assert store.app_state("guestbook") == state


def plumb_audit(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PLUMBLINE_STORE": str(path), "NO_COLOR": "1"}
    return cli.plumb("audit", *args, env=env, timeout=60)


def verify_fails(path: Path, named: str) -> None:
    """``plumb audit verify`` exits 1 and names ``named`` (the record it found broken)."""
    bad = plumb_audit(path, "verify")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert named in bad.stderr, bad.stderr


def test_cli_audit_lists_and_verify_exits_1_when_broken(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with Store.open(path) as store:
        fill(store)
    listed = plumb_audit(path, "shop", "-o", "json")
    assert listed.returncode == 0, listed.stderr
    assert [r["revision"] for r in json.loads(listed.stdout)] == ["sha1", "sha3"]
    good = plumb_audit(path, "verify")
    assert good.returncode == 0 and "4 records verified" in good.stdout
    tamper(path, "UPDATE audit SET actor = 'mallory' WHERE id = 2")
    verify_fails(path, "record #2")


def rechain(path: Path) -> None:
    """What someone with the file but not the key can do after an edit: recompute every unkeyed hash
    and link, so the SHA-256 chain is whole again."""
    raw = sqlite3.connect(path)
    with SqliteStore.open(path) as store:
        rows = raw.execute(f"SELECT {_AUDIT_COLUMNS} FROM audit ORDER BY id").fetchall()
        prev = GENESIS
        for row in rows:
            record = store._audit_record(row)
            digest = chain_hash(prev, record)
            raw.execute("UPDATE audit SET prev_hash = ?, hash = ? WHERE id = ?", (prev, digest, record.id))
            prev = digest
    raw.commit()
    raw.close()


def record_syncs(store: Store, n: int) -> list[int]:
    return [
        store.record_sync(
            SyncRecord(
                id=None,
                app="guestbook",
                revision="main",
                sha=f"{i:040x}",
                started_at=T0 + timedelta(minutes=i),
                finished_at=T0 + timedelta(minutes=i, seconds=3),
                actor="alice@laptop",
                result=SyncResult.SUCCEEDED,
                summary={"create": i},
                desired=[{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"cm-{i}"}}],
                message=f"sync {i}",
            )
        )
        for i in range(n)
    ]


TAMPERING = {
    "edit": ("UPDATE audit SET outcome = 'failed' WHERE id = 3", False, "record #3"),
    "edit+recompute": ("UPDATE audit SET actor = 'mallory' WHERE id = 2", True, "record #2"),
    "delete middle": ("DELETE FROM audit WHERE id = 2", True, "record #3"),
    "truncate": ("DELETE FROM audit WHERE id >= 3", True, "newest"),
    "edit history": ("UPDATE syncs SET result = 'failed' WHERE id = 1", False, "sync #1"),
    "delete middle history": ("DELETE FROM syncs WHERE id = 2", False, "sync #3"),
    "truncate history": ("DELETE FROM syncs WHERE id = 3", False, "newest"),
}


def copy_of(store: Path, folder: Path) -> Path:
    """A copy of the SQLite ``store`` in ``folder``, with the files beside it (its keys, its anchor)."""
    for file in store.parent.glob(store.name + "*"):
        shutil.copy2(file, folder / file.name)
    return folder / store.name


@pytest.fixture(scope="module")
def verified_syncs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store of 4 audit records and 3 syncs that ``plumb audit verify`` passes, made once: each
    tampering test tampers with a copy of it."""
    path = tmp_path_factory.mktemp("syncs") / "s.db"
    with Store.open(path) as store:
        fill(store)
        record_syncs(store, 3)
    good = plumb_audit(path, "verify")
    assert good.returncode == 0 and "7 records verified" in good.stdout, good.stdout + good.stderr
    return path


@pytest.mark.parametrize("how", sorted(TAMPERING))
def test_cli_verify_finds_every_kind_of_tampering(tmp_path: Path, verified_syncs: Path, how: str) -> None:
    sql, recompute, named = TAMPERING[how]
    path = copy_of(verified_syncs, tmp_path)
    tamper(path, sql)
    if recompute:
        rechain(path)
    verify_fails(path, named)


def test_the_key_is_outside_the_store_and_private(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with Store.open(path) as store:
        fill(store, 1)
    key = path.with_name("s.db.audit-key")
    assert key.exists() and key.stat().st_mode & 0o777 == 0o600
    assert key.read_text().strip() not in path.read_bytes().hex()  # the store does not hold it


def test_a_missing_key_is_an_error_never_a_new_key(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with Store.open(path) as store:
        fill(store, 2)
    path.with_name("s.db.audit-key").unlink()
    with Store.open(path) as store:
        with pytest.raises(StoreError, match="audit key is missing"):
            store.verify_audit()
        with pytest.raises(StoreError, match="audit key is missing"):
            fill(store, 1)
    missing = plumb_audit(path, "verify")
    assert missing.returncode == 2 and "audit key is missing" in missing.stderr, missing.stderr


def test_a_deleted_anchor_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with Store.open(path) as store:
        fill(store, 2)
    path.with_name("s.db.audit-anchor").unlink()
    verify_fails(path, "anchor is missing")


def test_appending_after_a_truncation_keeps_the_evidence(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with Store.open(path) as store:
        fill(store, 4)
    tamper(path, "DELETE FROM audit WHERE id = 4")
    with Store.open(path) as store:
        fill(store, 2)  # the controller goes on writing
        _, broken = store.verify_audit()
    assert broken is not None and broken.table == "audit" and broken.id == 4, broken


def test_a_schema_2_store_is_sealed_on_upgrade_and_then_verified(tmp_path: Path) -> None:
    """Stores written before the keyed chain: the upgrade MACs their rows as they are, and anchors."""
    from plumbline.store._sqlite import MIGRATIONS

    path = tmp_path / "old.db"
    raw = sqlite3.connect(path)
    raw.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    for version, steps in enumerate(MIGRATIONS[:2], start=1):
        for statement in steps:
            assert isinstance(statement, str)  # schema 1 and 2 are SQL only
            raw.execute(statement)
        raw.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
    prev = GENESIS
    for i in range(3):
        record = AuditRecord(actor="old", app="shop", action=AuditAction.SYNC, revision=f"r{i}", time=T0)
        digest = chain_hash(prev, record)
        raw.execute(
            f"INSERT INTO audit ({_AUDIT_COLUMNS.removeprefix('id, ')}) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (record.time.isoformat(timespec="microseconds"), "old", "shop", "sync", f"r{i}", "", "{}", "",
             prev, digest),
        )  # fmt: skip
        prev = digest
    raw.commit()
    raw.close()
    with Store.open(path) as store:
        assert store.verify_audit() == (3, None)
        fill(store, 1)
        assert store.verify_audit() == (4, None)
    tamper(path, "UPDATE audit SET revision = 'forged' WHERE id = 1")
    rechain(path)
    with Store.open(path) as store:
        _, broken = store.verify_audit()
    assert broken is not None and broken.id == 1


def record_intents(store: Store, n: int) -> list[int]:
    """``n`` intents of guestbook; every one but the newest gets its outcome, the newest is stamped
    "writing" and has none (an unfinished sync)."""
    ids = []
    for i in range(n):
        intent = SyncIntent(
            id=None,
            app="guestbook",
            revision="main",
            sha=f"{i:040x}",
            actor="alice@laptop",
            holder="alice@laptop/1",
            lease_namespace="plumbline-system",
            started_at=T0 + timedelta(minutes=i),
            planned={"counts": {"create": 1}, "objects": [f"ConfigMap/cm-{i}"]},
            desired=[{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"cm-{i}"}}],
            flags={"prune": False},
            cause="plumb sync",
        )
        ids.append(store.record_intent(intent))
        store.mark_writing(ids[-1])
        if i < n - 1:
            finished = intent.started_at + timedelta(seconds=3)
            store.record_sync(
                sync_record(sha=intent.sha, at=intent.started_at, finished_at=finished, intent=ids[-1])
            )
    return ids


INTENT_TAMPERING = {
    "edit intent sha": (f"UPDATE sync_intents SET sha = '{'f' * 40}' WHERE id = 2", "sync intent #2"),
    "edit intent actor": ("UPDATE sync_intents SET actor = 'mallory' WHERE id = 1", "sync intent #1"),
    "edit intent planned": ("UPDATE sync_intents SET planned = '{}' WHERE id = 3", "sync intent #3"),
    "edit intent desired": ("UPDATE sync_intents SET desired = x'00' WHERE id = 2", "sync intent #2"),
    "delete middle intent": ("DELETE FROM sync_intents WHERE id = 2", "sync intent #3"),
    "truncate intents": ("DELETE FROM sync_intents WHERE id >= 3", "newest"),
    "relink outcome": ("UPDATE syncs SET intent = 4 WHERE id = 2", "sync #2"),
    "unlink outcome": ("UPDATE syncs SET intent = NULL WHERE id = 3", "sync #3"),
}


@pytest.fixture(scope="module")
def verified_intents(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store of 2 audit records, 4 intents and the outcomes of the first 3 that ``plumb audit
    verify`` passes, made once: each tampering test tampers with a copy of it."""
    path = tmp_path_factory.mktemp("intents") / "s.db"
    with Store.open(path) as store:
        fill(store, 2)
        record_intents(store, 4)
        assert [i.id for i in store.unfinished("guestbook")] == [4]
    good = plumb_audit(path, "verify")
    assert good.returncode == 0 and "9 records verified" in good.stdout, good.stdout + good.stderr
    return path


@pytest.mark.parametrize("how", sorted(INTENT_TAMPERING))
def test_cli_verify_finds_tampered_intents(tmp_path: Path, verified_intents: Path, how: str) -> None:
    """Intents are chained and anchored like history rows, and an outcome's link to its intent is
    sealed with it: hiding that a sync was started, what it meant to write, or that it was interrupted
    is found."""
    sql, named = INTENT_TAMPERING[how]
    path = copy_of(verified_intents, tmp_path)
    tamper(path, sql)
    verify_fails(path, named)


def test_stamping_an_intent_writing_keeps_the_trail_intact(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with Store.open(path) as store:
        (first,) = record_intents(store, 1)
        assert store.verify_audit() == (1, None)
        (second,) = record_intents(store, 1)
        store.mark_writing(second)  # a second stamp is refused by the store, quietly (writing_at set)
        assert store.verify_audit() == (2, None)
        assert [i.id for i in store.unfinished("guestbook")] == [first, second]


def test_a_schema_4_store_keeps_verifying_and_its_intents_are_sealed_on_upgrade(tmp_path: Path) -> None:
    """A store written before intents were sealed: its history rows were MACed without the intent
    link (and still verify as such), its intents had no MAC (sealed on upgrade, as they are)."""
    import hashlib
    import hmac
    import zlib

    from plumbline.store import _seal
    from plumbline.store._seal import Head
    from plumbline.store._sqlite import MIGRATIONS

    path = tmp_path / "old.db"
    key = bytes(range(32))
    path.with_name("old.db.audit-key").write_text(key.hex() + "\n")
    path.with_name("old.db.audit-key").chmod(0o600)
    raw = sqlite3.connect(path)
    raw.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    for version, steps in enumerate(MIGRATIONS[:4], start=1):
        for statement in steps:
            if isinstance(statement, str):
                raw.execute(statement)  # the schema-2 → 3 sealing step has nothing to seal yet
        raw.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
    desired = zlib.compress(b"[]")
    prev = GENESIS
    for i in (1, 2):
        raw.execute(
            "INSERT INTO sync_intents (app, revision, sha, actor, holder, lease_namespace, started_at, "
            "writing_at, planned, desired, flags, cause) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            ("shop", "main", f"{i:040x}", "old", "old/1", "plumbline-system", T0.isoformat(),
             T0.isoformat(), '{"counts":{}}', desired, "{}", "plumb sync"),
        )  # fmt: skip
        values = ["shop", "main", f"{i:040x}", T0.isoformat(), T0.isoformat(), "old", "succeeded", "{}"]
        values += [hashlib.sha256(desired).hexdigest(), "", "{}"]
        canonical = json.dumps(values, separators=(",", ":"), ensure_ascii=False)  # the schema-3 form
        prev = hmac.new(key, (prev + "\n" + canonical).encode(), hashlib.sha256).hexdigest()
        raw.execute(
            "INSERT INTO syncs (app, revision, sha, started_at, finished_at, actor, result, summary, "
            "desired, message, flags, mac, intent) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (*values[:8], desired, "", "{}", prev, i),
        )
    raw.commit()
    raw.close()
    _seal.write_anchor(
        path.with_name("old.db.audit-anchor"), key, {"audit": Head(0, GENESIS), "syncs": Head(2, prev)}
    )
    with Store.open(path) as store:
        assert store.verify_audit() == (4, None)
        (new,) = record_intents(store, 1)
        assert store.verify_audit() == (5, None)
        store.record_sync(
            SyncRecord(
                id=None, app="guestbook", revision="main", sha="0" * 40, started_at=T0, finished_at=T0,
                actor="alice", result=SyncResult.INTERRUPTED, intent=new,
            )
        )  # fmt: skip
        assert store.verify_audit() == (6, None)
    tamper(path, "UPDATE sync_intents SET actor = 'mallory' WHERE id = 1")
    verify_fails(path, "sync intent #1")
    tamper(path, "UPDATE sync_intents SET actor = 'old' WHERE id = 1")
    tamper(path, "UPDATE syncs SET intent = NULL WHERE id = 3")  # a row sealed with its intent link
    verify_fails(path, "sync #3")
