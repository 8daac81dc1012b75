"""The audit trail on real SQLite files: chained, append-only, and tampering found at the right record."""

from __future__ import annotations

import itertools
import json
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from plumbline.errors import StoreError
from plumbline.store import AppState, AppStateKind, AuditAction, Store
from plumbline.store._audit import GENESIS, chain_hash

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
            outcome="succeeded",
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
    raw.execute("DROP TRIGGER audit_append_only_update")
    raw.execute("DROP TRIGGER audit_append_only_delete")
    raw.execute(sql)
    raw.commit()
    raw.close()


def test_altered_row_is_the_first_broken_link(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with Store.open(path) as store:
        fill(store)
    tamper(path, "UPDATE audit SET outcome = 'failed' WHERE id = 3")
    with Store.open(path) as store:
        checked, broken = store.verify_audit()
    assert checked == 2 and broken is not None and broken.id == 3 and "altered" in broken.why


def test_rehashed_row_still_breaks_the_next_link(tmp_path: Path) -> None:
    """An attacker who recomputes the altered row's own hash breaks the link of the record after it."""
    path = tmp_path / "s.db"
    with Store.open(path) as store:
        fill(store)
        target = store.audit_log()[1]
    forged = chain_hash(target.prev_hash, target.__class__(**{**target.__dict__, "reason": "forged"}))
    tamper(path, f"UPDATE audit SET reason = 'forged', hash = '{forged}' WHERE id = {target.id}")
    with Store.open(path) as store:
        _, broken = store.verify_audit()
    assert broken is not None and broken.id == 3 and "link" in broken.why


def test_deleted_row_is_found(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with Store.open(path) as store:
        fill(store)
    tamper(path, "DELETE FROM audit WHERE id = 2")
    with Store.open(path) as store:
        _, broken = store.verify_audit()
    assert broken is not None and broken.id == 3


def test_non_json_summary_is_refused(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db") as store, pytest.raises(StoreError, match="not JSON"):
        store.audit(actor="a", app="x", action="sync", summary={"bad": object()})
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
            mode="sync",
            detail={"drift": ["ConfigMap ns/env"]},
        )
        store.set_app_state(state)
        assert store.app_state("guestbook") == state


def plumb_audit(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PLUMBLINE_STORE": str(path), "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "plumbline", "audit", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


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
    bad = plumb_audit(path, "verify")
    assert bad.returncode == 1 and "record #2" in bad.stderr, bad.stderr
