"""Secret values never leave plumbline in clear (seeds 02 and 04: base64 is encoding), on the real
control plane: an app with a Secret (``data`` and ``stringData``) and a password-like ConfigMap value
goes through diff, sync, live edits, drift, a refused sync, history, capture, the controller (logs,
generic and Slack notifications, Kubernetes Events) and self-heal; every output, the store file (its
compressed columns opened), the audit trail and the Events are searched for each value, clear and
base64 — none may appear. And a live edit of a key Git sets through ``stringData`` is drift, reverted
by self-heal, like one set through ``data``."""

from __future__ import annotations

import base64
import contextlib
import json
import sqlite3
import subprocess
import time
import uuid
import zlib
from pathlib import Path
from typing import Any

import pytest

from plumbline.cluster import Cluster
from plumbline.local import ControlPlane
from tests.support import cli
from tests.support.cluster import admission_policy
from tests.support.config import app_yaml
from tests.support.git import commit_all, git
from tests.support.sites import Receiver

pytestmark = pytest.mark.integration

ALLOW = "\n\nPlumb-Allow: secrets Secret/creds\nPlumb-Allow: secrets ConfigMap/settings\n"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


class SecretApp:
    """A Git repository with a Secret and a ConfigMap, its config and store, and `plumb` to run."""

    def __init__(self, root: Path, plane: ControlPlane, namespace: str) -> None:
        self.root, self.namespace = root, namespace
        self.app = f"sec-{uuid.uuid4().hex[:6]}"
        tag = uuid.uuid4().hex[:10]
        # Git's values and the live edits' values, each unique to this test.
        self.git_password, self.git_token, self.git_db = f"pw-{tag}-git", f"tok-{tag}-git", f"db-{tag}-git"
        self.live_password, self.live_token, self.live_db = f"pw-{tag}-hot", f"tok-{tag}-hot", f"db-{tag}-hot"
        self.live_extra = f"ex-{tag}-hot"  # a key only live has (an unmanaged addition)
        self.repo = root / "repo"
        (self.repo / "app").mkdir(parents=True)
        git(self.repo, "init", "-q", "-b", "main")
        (self.repo / "app" / "secret.yaml").write_text(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\ntype: Opaque\n"
            f"data:\n  password: {b64(self.git_password)}\n"
            f"stringData:\n  token: {self.git_token}\n"
        )
        self.write_settings("info")
        self.commit("first")
        self.config = root / "plumbline.yaml"
        self.config.write_text(app_yaml(self.app, namespace=namespace))
        self.store = root / "plumbline.db"
        self.cluster = Cluster(kubeconfig=plane.kubeconfig)
        self.kubeconfig = plane.kubeconfig
        self.outputs: list[str] = []

    def write_settings(self, level: str) -> None:
        (self.repo / "app" / "settings.yaml").write_text(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n"
            f"data:\n  LOG_LEVEL: {level}\n  DB_PASSWORD: {self.git_db}\n"
        )

    def commit(self, subject: str) -> str:
        return commit_all(self.repo, subject + ALLOW)

    def plumb(self, *args: str, code: int | None = None) -> subprocess.CompletedProcess[str]:
        env = cli.plumb_env(
            kubeconfig=self.kubeconfig, config=self.config, store=self.store, actor="oncall@ci"
        )
        done = cli.plumb(*args, env=env)
        self.outputs.append(f"$ plumb {' '.join(args)}\n{done.stdout}\n{done.stderr}")
        if code is not None:
            assert done.returncode == code, f"plumb {' '.join(args)}: {done.stdout}{done.stderr}"
        return done

    def path(self, kind: str, name: str) -> str:
        return f"/api/v1/namespaces/{self.namespace}/{kind}/{name}"

    def live(self, kind: str, name: str) -> dict[str, Any]:
        obj: dict[str, Any] = self.cluster.request("GET", self.path(kind, name))
        return obj

    def edit(self, kind: str, name: str, data: dict[str, str]) -> None:
        """What `kubectl edit` does: an update by another field manager."""
        self.cluster.request(
            "PATCH",
            self.path(kind, name),
            query={"fieldManager": "kubectl-edit"},
            body={"data": data},
            content_type="application/merge-patch+json",
        )

    def values(self) -> list[str]:
        """Every secret value of this test, clear and base64."""
        clear = [
            self.git_password,
            self.git_token,
            self.git_db,
            self.live_password,
            self.live_token,
            self.live_db,
            self.live_extra,
        ]
        return clear + [b64(v) for v in clear]


@pytest.fixture
def secret_app(tmp_path: Path, control_plane: ControlPlane, namespace: str) -> Any:
    site = SecretApp(tmp_path, control_plane, namespace)
    yield site
    site.cluster.close()


def store_text(path: Path) -> str:
    """Everything the store holds: the raw bytes of its files, and every row with compressed
    columns decompressed."""
    parts = []
    for file in path.parent.glob(path.name + "*"):
        parts.append(file.read_bytes().decode("latin-1"))
    with sqlite3.connect(path) as db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            for row in db.execute(f"SELECT * FROM {table}"):
                for value in row:
                    if isinstance(value, bytes):
                        with contextlib.suppress(zlib.error):  # the desired column is compressed
                            value = zlib.decompress(value)
                        value = value.decode("utf-8", "replace")
                    parts.append(str(value))
    return "\n".join(parts)


def leaks(text: str, values: list[str]) -> list[str]:
    return [value for value in values if value in text]


def changes(plan: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    (obj,) = [o for o in plan["objects"] if o["kind"] == kind]
    return {c["pointer"]: c for c in obj["changes"]}


def test_secret_values_appear_nowhere_and_string_data_edits_are_drift(
    secret_app: SecretApp, control_plane: ControlPlane
) -> None:
    site = secret_app
    site.plumb("diff", site.app, code=1)
    site.plumb("diff", site.app, "-o", "json", code=1)
    site.plumb("sync", site.app, code=0)
    secret = site.live("secrets", "creds")
    assert secret["data"] == {"password": b64(site.git_password), "token": b64(site.git_token)}

    # Live edits: the key Git sets through data, the one it sets through stringData, the ConfigMap's.
    site.edit(
        "secrets",
        "creds",
        {"password": b64(site.live_password), "token": b64(site.live_token), "extra": b64(site.live_extra)},
    )
    site.edit("configmaps", "settings", {"DB_PASSWORD": site.live_db})

    plan = json.loads(site.plumb("diff", site.app, "-o", "json", code=1).stdout)
    secret_changes = changes(plan, "Secret")
    for pointer in ("/data/password", "/data/token"):
        change = secret_changes[pointer]
        assert change["attribution"] == "drift-revert", change
        assert change["editor"]["manager"] == "kubectl-edit"
        assert change["live"].startswith("redacted:") and change["git"].startswith("redacted:"), change
        assert change["live"] != change["git"] and change["lastSynced"] == change["git"], change
    extra = secret_changes["/data/extra"]
    assert extra["attribution"] == "unmanaged-addition" and extra["live"].startswith("redacted:"), extra
    (secret_obj,) = [o for o in plan["objects"] if o["kind"] == "Secret"]
    assert secret_obj["action"] == "update"
    assert "token: redacted:" in secret_obj["diff"], secret_obj["diff"]
    db = changes(plan, "ConfigMap")["/data/DB_PASSWORD"]
    assert db["attribution"] == "drift-revert" and db["live"].startswith("redacted:"), db

    drift = json.loads(site.plumb("drift", site.app, "-o", "json", code=1).stdout)
    drifted = {(d["kind"], d["pointer"]) for d in drift["drifted"]}
    assert {("Secret", "/data/password"), ("Secret", "/data/token"), ("ConfigMap", "/data/DB_PASSWORD")} <= (
        drifted
    )
    site.plumb("drift", site.app, code=1)
    site.plumb("diff", site.app, code=1)
    refused = site.plumb("sync", site.app, code=1)
    assert "/data/token" in refused.stdout and "redacted:" in refused.stdout, refused.stdout
    site.plumb("capture", site.app)
    site.plumb("status", site.app)

    # A new commit while the drift is live: the controller (mode sync) refuses to undo the edits —
    # a SyncFailed Warning Event, a notification, a log line — then, in self-heal, reverts them.
    site.write_settings("debug")
    site.commit("more logs")
    receiver = Receiver()
    controller = [
        "controller",
        "--once",
        "--no-watch",
        "--json-logs",
        "--identity",
        "replica-a",
        "--lease-namespace",
        f"pl-{uuid.uuid4().hex[:8]}",
        "--notify",
        receiver.url + "/hook",
        "--notify-slack",
        receiver.url + "/slack",
    ]
    site.plumb(*controller)
    site.plumb("mode", site.app, "self-heal", "--reason", "drift classified", code=0)
    site.plumb(*controller)
    receiver.server.shutdown()

    secret = site.live("secrets", "creds")
    assert secret["data"] == {"password": b64(site.git_password), "token": b64(site.git_token)}, (
        "self-heal reverts both keys and removes the one only live had"
    )
    assert site.live("configmaps", "settings")["data"]["DB_PASSWORD"] == site.git_db
    site.plumb("diff", site.app, code=0)
    site.plumb("history", site.app, code=0)
    site.plumb("history", site.app, "-o", "json", code=0)
    site.plumb("audit", site.app, code=0)
    site.plumb("audit", "verify")

    events = site.cluster.request("GET", f"/api/v1/namespaces/{site.namespace}/events")["items"]
    reasons = {e["reason"] for e in events if e["source"].get("component") == "plumbline-controller"}
    assert {"SyncFailed", "Drift"} <= reasons, reasons
    kinds = {body.get("kind") for path, body in receiver.received if path == "/hook"}
    assert {"drift", "sync-blocked"} <= kinds, receiver.received
    assert any(path == "/slack" for path, _ in receiver.received)

    outputs = "\n".join(site.outputs)
    assert "redacted:" in outputs
    assert leaks(outputs, site.values()) == [], outputs
    assert leaks(json.dumps(receiver.received), site.values()) == [], receiver.received
    assert leaks(json.dumps(events), site.values()) == []
    stored = store_text(site.store)
    assert "redacted:" in stored
    assert leaks(stored, site.values()) == []


def test_a_server_message_quoting_a_secret_value_is_shown_with_its_fingerprint(
    secret_app: SecretApp,
) -> None:
    """An admission policy that quotes the Secret it refuses (CEL decodes ``data`` to the clear value):
    the refusal reaches the plan, the diff, the blocked sync and the history — the value does not."""
    site = secret_app
    ns = site.namespace
    quote = {
        "expression": "!has(object.data) || !('password' in object.data)",
        "messageExpression": "'no password here, not even ' + string(object.data.password)",
    }
    with admission_policy(site.cluster, f"quote-{ns}", namespace=ns, resource="secrets", validation=quote):
        deadline = time.monotonic() + 30
        while True:  # the policy takes effect a moment after it is created
            done = site.plumb("diff", site.app, "-o", "json")
            if done.returncode == 2 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert done.returncode == 2, done.stdout + done.stderr
        (refused,) = [o for o in json.loads(done.stdout)["objects"] if o["error"]]
        assert "no password here, not even redacted:" in refused["error"], refused["error"]
        site.plumb("diff", site.app, code=2)
        blocked = site.plumb("sync", site.app, code=1)
        assert "no password here" in blocked.stdout, blocked.stdout
        site.plumb("history", site.app, "-o", "json", code=0)
    outputs = "\n".join(site.outputs)
    assert leaks(outputs, site.values()) == [], outputs
    assert leaks(store_text(site.store), site.values()) == []
