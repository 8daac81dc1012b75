"""Redaction as pure logic: which values are fingerprinted, that fingerprints compare like the values
they stand for (a stringData key and its data form alike), that the installation key is kept and
shared, and that attribution of a Secret key works on fingerprints alone (the integration test
tests/integration/test_redact.py checks every output on the real control plane)."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from plumbline.errors import StoreError
from plumbline.plan.attribute import attribute
from plumbline.plan.attribution import Attribution
from plumbline.plan.diff import unified_diff
from plumbline.plan.model import Action, ObjectRef, PlanItem
from plumbline.plan.normalize import normalize
from plumbline.plan.runtime import RuntimeRules
from plumbline.redact import Redactor, contains_fingerprint, is_fingerprint
from plumbline.store import SqliteStore

KEY = Redactor(b"k" * 32)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def secret(**fields: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "creds", "namespace": "shop"},
        **fields,
    }


def test_secret_values_become_fingerprints_of_their_bytes() -> None:
    redacted = KEY.redact(secret(data={"password": b64("hunter2")}, stringData={"token": "hunter2"}))
    assert redacted is not None
    password, token = redacted["data"]["password"], redacted["stringData"]["token"]
    assert is_fingerprint(password) and password == token  # same bytes, same fingerprint
    assert KEY.fingerprint(password) == password  # idempotent: history holds fingerprints already
    assert Redactor(b"x" * 32).fingerprint("hunter2") != KEY.fingerprint("hunter2")  # keyed
    assert "hunter2" not in str(redacted) and b64("hunter2") not in str(redacted)


def test_config_map_and_env_values_under_password_like_names_only() -> None:
    cm: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "settings"},
        "data": {"DB_PASSWORD": "s3cret", "LOG_LEVEL": "info", "api_key": "abc"},
    }
    deploy = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "env": [{"name": "DB_HOST", "value": "db"}, {"name": "TOKEN", "value": "t"}],
                        }
                    ]
                }
            }
        },
    }
    shown_cm, shown_deploy = KEY.redact(cm), KEY.redact(deploy)
    assert shown_cm is not None and shown_deploy is not None
    assert shown_cm["data"]["LOG_LEVEL"] == "info"
    assert is_fingerprint(shown_cm["data"]["DB_PASSWORD"]) and is_fingerprint(shown_cm["data"]["api_key"])
    env = shown_deploy["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env[0] == {"name": "DB_HOST", "value": "db"} and is_fingerprint(env[1]["value"])
    assert cm["data"]["DB_PASSWORD"] == "s3cret"  # the input (what is applied) is left as it is
    assert contains_fingerprint(shown_deploy) and not contains_fingerprint(deploy)


def test_string_data_is_compared_as_data() -> None:
    normal = normalize(secret(data={"a": b64("1"), "b": b64("old")}, stringData={"b": "new", "c": "3"}))
    assert normal is not None and "stringData" not in normal
    assert normal["data"] == {"a": b64("1"), "b": b64("new"), "c": b64("3")}  # stringData wins


def edited_secret(token: str) -> dict[str, Any]:
    live = secret(data={"token": b64(token)})
    live["metadata"]["managedFields"] = [
        {
            "manager": "plumbline",
            "operation": "Apply",
            "time": "2026-01-01T00:00:00Z",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:type": {}},
        },
        {
            "manager": "kubectl-edit",
            "operation": "Update",
            "time": "2026-01-02T00:00:00Z",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:data": {"f:token": {}}},
        },
    ]
    return live


def test_live_edit_of_a_string_data_key_is_a_drift_revert_against_the_recorded_fingerprint() -> None:
    desired = secret(stringData={"token": "from-git"})
    recorded = PlanItem(
        ref=ObjectRef.of(desired),
        action=Action.CREATE,
        source="secret.yaml",
        desired=desired,
        live=None,
        predicted=None,
        api_version="v1",
        redactor=KEY,
    ).recorded
    assert recorded is not None and "from-git" not in str(recorded) and b64("from-git") not in str(recorded)
    live = edited_secret("hot-fix")
    predicted = secret(data={"token": b64("from-git")})  # what the server makes of stringData
    (change,) = attribute(
        ref=ObjectRef.of(desired),
        desired=desired,
        predicted=predicted,
        live=live,
        last_synced=recorded,
        rules=RuntimeRules(),
        redactor=KEY,
    )
    assert change.pointer == "/data/token" and change.attribution is Attribution.DRIFT_REVERT
    assert change.editor is not None and change.editor.manager == "kubectl-edit"
    assert change.live == KEY.fingerprint("hot-fix") and change.git == KEY.fingerprint("from-git")
    assert change.last_synced == change.git
    diff = unified_diff(live, predicted, name="Secret shop/creds", redactor=KEY)
    assert f"-  token: {change.live}" in diff and f"+  token: {change.git}" in diff
    assert b64("hot-fix") not in diff and b64("from-git") not in diff


def test_the_key_is_made_once_private_and_shared(tmp_path: Path) -> None:
    path = tmp_path / "state" / "plumbline.db"
    with SqliteStore.open(path) as store, SqliteStore.open(tmp_path / "other.db") as other:
        first, second = Redactor.for_store(store), Redactor.for_store(store)
        assert first.fingerprint("v") == second.fingerprint("v")
        key = tmp_path / "state" / "plumbline.db.key"
        assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
        assert Redactor.for_store(other).fingerprint("v") != first.fingerprint("v")
        key.write_text("")
        with pytest.raises(StoreError, match=r"plumbline\.db\.key"):
            Redactor.for_store(store)


def test_history_shows_records_written_before_fingerprints_redacted(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from typer.testing import CliRunner

    from plumbline.cli.app import app
    from plumbline.store import Store, SyncRecord, SyncResult

    config = tmp_path / "plumbline.yaml"
    config.write_text(
        "apiVersion: plumbline.dev/v1alpha1\nkind: App\nmetadata: {name: shop}\nspec:\n"
        "  source: {repoURL: ./repo, targetRevision: main, path: app}\n  destination: {namespace: shop}\n"
    )
    store = tmp_path / "plumbline.db"
    when = datetime(2026, 1, 1, tzinfo=UTC)
    legacy = secret(data={"password": b64("hunter2")}, stringData={"token": "sesame"})
    with Store.open(store) as history:
        history.record_sync(
            SyncRecord(
                None, "shop", "main", "a" * 40, when, when, "me", SyncResult.SUCCEEDED, desired=[legacy]
            )
        )
    env = {"PLUMBLINE_CONFIG": str(config), "PLUMBLINE_STORE": str(store)}
    done = CliRunner().invoke(app, ["history", "shop", "-o", "json"], env=env)
    assert done.exit_code == 0, done.output
    for value in ("hunter2", b64("hunter2"), "sesame", b64("sesame")):
        assert value not in done.output
    (record,) = json.loads(done.output)
    assert is_fingerprint(record["desired"][0]["data"]["password"])


def test_a_message_quoting_a_secret_value_in_any_form_is_scrubbed() -> None:
    obj = secret(data={"password": b64("hunter2")}, stringData={"token": "sesame"})
    text = f"denied: hunter2, {b64('hunter2')}, sesame"
    shown = KEY.scrub(text, obj, None)
    assert (
        shown
        == f"denied: {KEY.fingerprint('hunter2')}, {KEY.fingerprint('hunter2')}, {KEY.fingerprint('sesame')}"
    )
    assert obj["data"]["password"] == b64("hunter2")  # the object itself is left as it is
