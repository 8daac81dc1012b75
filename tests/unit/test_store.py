"""The history store, on real SQLite files in a temporary folder."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
import threading
import zlib
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from plumbline.errors import StoreError
from plumbline.store import (
    SCHEMA_VERSION,
    NoSuchSyncError,
    SqliteStore,
    Store,
    SyncIntent,
    SyncRecord,
    SyncResult,
    current_actor,
    default_path,
)
from plumbline.store._sqlite import MIGRATIONS
from plumbline.yamlio import load_documents
from tests.support.data import GITOPS_ENGINE_DIFF
from tests.support.store import T0, sync_record

DESIRED = ("deployment", "elasticsearch", "sealedsecret", "smd-service", "ssd-deploy-with-manual-apply")


def desired_objects() -> list[dict[str, Any]]:
    """Real rendered objects (see tests/data/gitops-engine/README.md), in a stable order."""
    objects: list[dict[str, Any]] = []
    for path in sorted(p for name in DESIRED for p in GITOPS_ENGINE_DIFF.glob(f"{name}-config.*")):
        if path.suffix == ".json":
            objects.append(json.loads(path.read_text()))
        elif path.suffix == ".yaml":
            objects += [d.data for d in load_documents(path.read_text(), file=str(path))]
    return objects


@pytest.fixture
def store(tmp_path: Path) -> Any:
    with Store.open(tmp_path / "state" / "plumbline.db") as opened:
        yield opened


def test_full_round_trip_of_real_desired_objects(store: Store) -> None:
    objects = desired_objects()
    assert len(objects) == 5 and {o["kind"] for o in objects} >= {"Deployment", "StatefulSet", "Service"}
    original = sync_record(desired=objects, summary={"create": 5, "waves": [0, 1, 2]})

    new_id = store.record_sync(original)
    back = store.get(new_id)

    assert back.id == new_id
    assert back == SyncRecord(**{**original.__dict__, "id": new_id})
    assert back.desired == objects  # every field, nested lists, nulls (SealedSecret) included
    assert [o["metadata"]["name"] for o in back.desired] == [o["metadata"]["name"] for o in objects]
    assert back.started_at.tzinfo is UTC and back.started_at == T0


def test_timestamps_are_kept_in_utc_and_naive_ones_refused(store: Store) -> None:
    berlin = timezone(timedelta(hours=1))
    rec = sync_record(at=datetime(2025, 3, 7, 17, 45, tzinfo=berlin), finished_at=None, result="failed")
    assert rec.started_at == datetime(2025, 3, 7, 16, 45, tzinfo=UTC) and rec.started_at.tzinfo is UTC
    assert rec.result is SyncResult.FAILED
    back = store.get(store.record_sync(rec))
    assert back.started_at.utcoffset() == timedelta(0) and back.finished_at is None

    with pytest.raises(ValueError, match="timezone-aware"):
        sync_record(at=datetime(2025, 3, 7, 16, 45))


def test_history_is_newest_first_per_app_with_limit(store: Store) -> None:
    # recorded out of time order, on purpose: ordering is by start time, not insertion
    for minutes in (10, 0, 30, 20):
        store.record_sync(sync_record(at=T0 + timedelta(minutes=minutes), message=f"t+{minutes}"))
    store.record_sync(sync_record("other-app", at=T0 + timedelta(hours=1)))

    history = store.history("guestbook")
    assert [r.message for r in history] == ["t+30", "t+20", "t+10", "t+0"]
    assert [r.message for r in store.history("guestbook", limit=2)] == ["t+30", "t+20"]
    assert store.history("nobody") == []
    with pytest.raises(ValueError):
        store.history("guestbook", limit=0)


def test_same_start_time_orders_by_id(store: Store) -> None:
    first = store.record_sync(sync_record())
    second = store.record_sync(sync_record())
    assert [r.id for r in store.history("guestbook")] == [second, first]


def test_history_without_desired_leaves_it_empty(store: Store) -> None:
    store.record_sync(sync_record(desired=desired_objects()))
    [light] = store.history("guestbook", with_desired=False)
    assert light.desired == [] and light.summary["create"] == 2
    assert light.id is not None and store.get(light.id).desired == desired_objects()


def test_last_sync_filters_by_result(store: Store) -> None:
    assert store.last_sync("guestbook") is None
    good = store.record_sync(sync_record(at=T0, sha="a" * 40))
    store.record_sync(sync_record(at=T0 + timedelta(minutes=5), result=SyncResult.FAILED, message="boom"))
    store.record_sync(sync_record(at=T0 + timedelta(minutes=9), result=SyncResult.DRY_RUN))

    last_good = store.last_sync("guestbook")
    assert last_good is not None and last_good.id == good and last_good.sha == "a" * 40
    failed = store.last_sync("guestbook", result=SyncResult.FAILED)
    assert failed is not None and failed.message == "boom"
    latest = store.last_sync("guestbook", result=None)
    assert latest is not None and latest.result is SyncResult.DRY_RUN
    assert store.last_sync("guestbook", result=SyncResult.BLOCKED) is None


def test_get_unknown_id(store: Store) -> None:
    with pytest.raises(NoSuchSyncError, match=r"plumbline\.db: no sync #42"):
        store.get(42)


def test_record_refuses_stored_records_and_non_json(store: Store) -> None:
    with pytest.raises(ValueError, match="already recorded"):
        store.record_sync(sync_record(id=7))
    with pytest.raises(StoreError, match="not JSON data"):
        store.record_sync(sync_record(desired=[{"when": datetime.now(UTC)}]))
    assert store.history("guestbook") == []


def test_file_is_wal_versioned_and_append_only(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    Store.open(path).close()
    with Store.open(path) as store:  # reopening an existing store is fine
        store.record_sync(sync_record())

    raw = sqlite3.connect(path)
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert raw.execute("SELECT max(version) FROM schema_version").fetchone()[0] == SCHEMA_VERSION
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            raw.execute("UPDATE syncs SET result = 'succeeded', sha = 'forged'")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            raw.execute("DELETE FROM syncs")
    finally:
        raw.close()


def test_corrupt_file_is_a_store_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "plumbline.db"
    path.write_bytes(b"this is not an SQLite database, just bytes\n" * 200)
    with pytest.raises(StoreError, match=rf"^{path}: cannot open the history store: .*not a database"):
        Store.open(path)


def test_damaged_pages_are_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "plumbline.db"
    with Store.open(path) as store:
        for i in range(40):
            store.record_sync(sync_record(desired=desired_objects(), message=f"sync {i}"))
    raw = sqlite3.connect(path)
    raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw.close()
    data = bytearray(path.read_bytes())
    page = 4096
    data[2 * page : len(data)] = b"\xff" * (len(data) - 2 * page)  # keep the header, wreck the rest
    path.write_bytes(bytes(data))
    with (
        pytest.raises(StoreError, match=rf"^{path}: cannot .*malformed.*move it aside"),
        Store.open(path) as store,
    ):
        store.history("guestbook")


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "plumbline.db"
    Store.open(path).close()
    raw = sqlite3.connect(path)
    raw.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION + 1,))
    raw.commit()
    raw.close()
    with pytest.raises(StoreError, match="written by a newer plumbline"):
        Store.open(path)


def intent(app: str = "guestbook", **changes: Any) -> SyncIntent:
    fields: dict[str, Any] = {
        "id": None,
        "app": app,
        "revision": "main",
        "sha": "3f2b72e0c4d5a1b2c3d4e5f60718293a4b5c6d7e",
        "actor": "alice@laptop",
        "holder": "laptop-4242-abcdef",
        "lease_namespace": "plumbline-system",
        "started_at": T0,
        "planned": {"create": 1, "update": 0, "prune": 0, "objects": ["ConfigMap guestbook/env"]},
        "desired": desired_objects()[:1],
        "flags": {"prune": False},
        "cause": "plumb sync",
    }
    fields.update(changes)
    return SyncIntent(**fields)


def test_a_store_from_before_intents_is_migrated_and_keeps_its_history(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    for version, statements in enumerate(MIGRATIONS[:2], start=1):  # the file a schema-2 plumbline left
        for statement in statements:
            assert isinstance(statement, str)  # schema 1 and 2 are SQL only
            raw.execute(statement)
        raw.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
    raw.execute(
        "INSERT INTO syncs (app, revision, sha, started_at, finished_at, actor, result, summary, desired, "
        "message, flags) "
        "VALUES ('guestbook', 'main', 'abc', ?, NULL, 'bob', 'succeeded', '{}', ?, 'ok', '{}')",
        (T0.isoformat(timespec="microseconds"), zlib.compress(b"[]")),
    )
    raw.close()
    with Store.open(path) as store:
        (old,) = store.history("guestbook")
        assert old.sha == "abc" and old.actor == "bob" and old.intent is None
        assert store.unfinished("guestbook") == []
        intent_id = store.record_intent(intent())
        assert store.unfinished("guestbook") == []  # recorded, but its writer has not started writing
        store.mark_writing(intent_id)
        (open_,) = store.unfinished("guestbook")
        assert (
            open_.id == intent_id and open_.writing_at is not None and open_.desired == desired_objects()[:1]
        )
        assert (
            open_.planned["objects"] == ["ConfigMap guestbook/env"] and open_.holder == "laptop-4242-abcdef"
        )
        store.record_sync(sync_record(result=SyncResult.INTERRUPTED, intent=intent_id))
        assert store.unfinished("guestbook") == []
        assert store.history("guestbook")[0].intent == intent_id
        assert store.verify_audit() == (3, None)  # the old row, sealed on upgrade; the new intent and outcome
    raw = sqlite3.connect(path)
    try:
        assert raw.execute("SELECT max(version) FROM schema_version").fetchone()[0] == SCHEMA_VERSION == 6
    finally:
        raw.close()


def test_intents_are_fixed_once_recorded_and_have_one_outcome(store: SqliteStore) -> None:
    intent_id = store.record_intent(intent())
    store.mark_writing(intent_id)
    store.mark_writing(intent_id)  # a second stamp changes nothing
    store.record_sync(sync_record(intent=intent_id))
    with pytest.raises(StoreError, match="UNIQUE"):
        store.record_sync(sync_record(intent=intent_id, result=SyncResult.FAILED))
    with pytest.raises(ValueError, match="already recorded"):
        store.record_intent(intent(id=3))
    raw = sqlite3.connect(store.path)
    try:
        for sql in (
            "UPDATE sync_intents SET sha = 'forged'",
            "UPDATE sync_intents SET writing_at = '2020-01-01T00:00:00+00:00'",
            "DELETE FROM sync_intents",
        ):
            with pytest.raises(sqlite3.IntegrityError, match=r"cannot be changed|append-only"):
                raw.execute(sql)
    finally:
        raw.close()


def test_unwritable_location_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StoreError, match=rf"^{blocker / 'sub' / 'h.db'}: cannot create its folder"):
        Store.open(blocker / "sub" / "h.db")


def test_several_processes_write_at_once(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    script = textwrap.dedent(
        """
        import sys
        from datetime import UTC, datetime
        from pathlib import Path
        from plumbline.store import Store, SyncRecord, SyncResult
        with Store.open(Path(sys.argv[1])) as store:
            for i in range(30):
                store.record_sync(SyncRecord(
                    id=None, app=sys.argv[2], revision="main", sha=str(i), started_at=datetime.now(UTC),
                    finished_at=None, actor="test", result=SyncResult.SUCCEEDED,
                    desired=[{"kind": "ConfigMap", "data": {"i": str(i)}}],
                ))
        """
    )
    workers = [
        subprocess.Popen([sys.executable, "-c", script, str(path), f"app-{n}"], stderr=subprocess.PIPE)
        for n in range(4)
    ]
    for worker in workers:
        _, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err.decode()
    with Store.open(path) as store:
        for n in range(4):
            assert len(store.history(f"app-{n}", limit=None)) == 30


def test_default_path_and_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PLUMBLINE_STORE", raising=False)
    monkeypatch.setenv("PLUMBLINE_STATE_DIR", str(tmp_path / "state"))
    assert default_path() == tmp_path / "state" / "plumbline.db"
    with Store.open() as store:
        assert store.where == str(tmp_path / "state" / "plumbline.db")
    assert (tmp_path / "state" / "plumbline.db").is_file()

    monkeypatch.setenv("PLUMBLINE_STORE", str(tmp_path / "elsewhere.db"))
    with Store.open() as store:
        assert store.where == str(tmp_path / "elsewhere.db")


def test_current_actor() -> None:
    assert current_actor(environ={"PLUMBLINE_ACTOR": "controller/prod-eu"}) == "controller/prod-eu"
    user, _, host = current_actor(environ={}).partition("@")
    assert user and host


def test_an_open_waits_while_another_process_writes_a_store_not_yet_in_wal(tmp_path: Path) -> None:
    # Converting to WAL needs the file to itself and SQLite runs no busy handler for it: with another
    # connection's write lock held (rollback mode, as when several processes open a new store at once),
    # the open used to fail at once with "database is locked" instead of waiting its turn.
    path = tmp_path / "new.db"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("CREATE TABLE other_writer (x)")
    other.execute("BEGIN IMMEDIATE")
    releases = threading.Timer(0.5, lambda: other.execute("COMMIT"))
    releases.start()
    try:
        with Store.open(path) as store:
            assert store.history("web") == []
    finally:
        releases.join()
        other.close()
    with sqlite3.connect(path) as reader:
        assert reader.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


PROOFS = {
    "ConfigMap guestbook/env": {"desired": "d" * 32, "live": "l" * 32, "stamp": "s" * 32},
    "Deployment.apps guestbook/web": {"desired": "e" * 32, "live": "m" * 32, "stamp": "t" * 32},
}


def test_a_syncs_proofs_are_kept_with_it_and_left_out_of_long_listings(store: SqliteStore) -> None:
    store.record_sync(sync_record(at=T0, proofs=PROOFS))
    newer = store.record_sync(sync_record(at=T0 + timedelta(minutes=1)))  # none: an empty mapping
    last = store.last_sync("guestbook")
    assert last is not None and last.id == newer and last.proofs == {}
    (older,) = [r for r in store.history("guestbook") if r.id != newer]
    assert older.proofs == PROOFS and store.get(older.id or 0).proofs == PROOFS
    assert all(r.proofs == {} for r in store.history("guestbook", with_desired=False))
    assert store.verify_audit()[1] is None  # not under the MAC, and the chain is whole


def test_a_store_from_before_proofs_is_migrated_and_keeps_its_history(tmp_path: Path) -> None:
    path = tmp_path / "schema5.db"
    with Store.open(path) as current:
        old_id = current.record_sync(sync_record())
    raw = sqlite3.connect(path, isolation_level=None)
    try:  # the file as schema 5 left it: no proofs column
        raw.execute("ALTER TABLE syncs DROP COLUMN proofs")
        raw.execute("DELETE FROM schema_version WHERE version = 6")
    finally:
        raw.close()
    with Store.open(path) as store:
        old = store.get(old_id)
        assert old.proofs == {} and old.sha == sync_record().sha
        store.record_sync(sync_record(at=T0 + timedelta(minutes=1), proofs=PROOFS))
        last = store.last_sync("guestbook")
        assert last is not None and last.proofs == PROOFS
        assert store.verify_audit() == (2, None)
