"""Standing guard exceptions on the real control plane: an app the controller (mode ``sync``) could
never sync because a guard blocks it goes through with a GuardException in the configuration, and
blocks again — saying why — once the exception has expired; ``plumb sync`` shows both."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from plumbline.cluster import Cluster
from plumbline.config import load_config
from plumbline.controller import Controller, Result, Settings
from plumbline.local import ControlPlane
from plumbline.store import Store, SyncResult
from tests.support import cli
from tests.support.config import app_yaml
from tests.support.git import commit_all, git

pytestmark = pytest.mark.integration


class Shop:
    """A Git repo with one app whose ConfigMap names a Service its namespace does not have."""

    def __init__(self, root: Path, plane: ControlPlane, namespace: str) -> None:
        self.namespace = namespace
        self.app = f"carts-{uuid.uuid4().hex[:6]}"
        repo = root / "repo"
        (repo / "app").mkdir(parents=True)
        git(repo, "init", "-q", "-b", "main")
        (repo / "app" / "env.yaml").write_text(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: carts-env\ndata:\n"
            f"  QUEUE_HOST: rabbitmq.{namespace}.svc.cluster.local\n"
        )
        commit_all(repo, "carts")
        self.config = root / "plumbline.yaml"
        self.app_yaml = app_yaml(self.app, namespace=namespace)
        self.config.write_text(self.app_yaml)
        self.store = Store.open(root / "plumbline.db")
        self.cluster = Cluster(kubeconfig=plane.kubeconfig)
        self.controller = Controller(
            config=lambda: load_config(self.config),
            store=self.store,
            settings=Settings(
                identity="replica-a",
                lease_namespace=f"pl-{uuid.uuid4().hex[:8]}",
                kubeconfig=str(plane.kubeconfig),
                watch=False,
                backoff_base_s=0.0,
            ),
        )

    def except_queue(self, expires: str) -> None:
        self.config.write_text(
            self.app_yaml
            + f"""---
apiVersion: plumbline.dev/v1alpha1
kind: GuardException
metadata: {{name: carts-queue}}
spec:
  app: {self.app}
  guard: references
  target: {{kind: ConfigMap, name: carts-env, field: data.QUEUE_HOST}}
  reason: the queue is provisioned by the platform team next sprint; carts retries until then
  owner: team-carts
  expires: "{expires}"
"""
        )

    def reconcile(self) -> Any:
        (outcome,) = self.controller.run_once()
        return outcome

    def live(self) -> dict[str, Any] | None:
        info = self.cluster.discovery.lookup("v1", "ConfigMap")
        assert info is not None
        return self.cluster.get(info, name="carts-env", namespace=self.namespace)


@pytest.fixture
def shop(tmp_path: Path, control_plane: ControlPlane, namespace: str) -> Iterator[Shop]:
    site = Shop(tmp_path, control_plane, namespace)
    yield site
    site.store.close()
    site.cluster.close()


def test_the_controller_syncs_with_a_standing_exception_and_blocks_once_it_expired(shop: Shop) -> None:
    # Today: blocked on every pass, whatever is committed; an --allow lasts one sync.
    for _ in range(2):
        blocked = shop.reconcile()
        assert blocked.result is Result.BLOCKED and "references ConfigMap/carts-env" in blocked.message
    assert shop.live() is None

    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    shop.except_queue(tomorrow)
    synced = shop.reconcile()
    assert synced.result is Result.SYNCED, synced
    assert shop.live() is not None
    record = shop.store.last_sync(shop.app)
    assert record is not None and record.result is SyncResult.SUCCEEDED
    [override] = record.flags["overrides"]
    assert (override["via"], override["exception"], override["owner"]) == (
        "exception",
        "carts-queue",
        "team-carts",
    )
    assert override["field"] == "data.QUEUE_HOST" and override["expires"].startswith(tomorrow)
    [listed] = record.flags["exceptions"]
    assert listed["state"] == "active" and listed["covers"] == [
        {"subject": "ConfigMap/carts-env", "field": "data.QUEUE_HOST"}
    ]

    today = datetime.now(UTC).date().isoformat()  # 00:00 UTC today: already past
    shop.except_queue(today)
    repo = shop.config.parent / "repo"
    env = repo / "app" / "env.yaml"
    env.write_text(env.read_text() + "  QUEUE_RETRIES: '5'\n")
    git(repo, "commit", "-qam", "more retries")
    again = shop.reconcile()
    assert again.result is Result.BLOCKED, again
    assert f"exception carts-queue expired {today}" in again.message
    last = shop.store.last_sync(shop.app, result=None)
    assert last is not None and last.result is SyncResult.BLOCKED
    [expired] = last.flags["exceptions"]
    assert expired["state"] == "expired" and expired["covers"][0]["field"] == "data.QUEUE_HOST"
    [finding] = [f for f in last.flags["findings"] if f["severity"] == "block"]
    assert "standing exception 'carts-queue' (owner team-carts) expired" in finding["message"]
    assert "QUEUE_RETRIES" not in (shop.live() or {}).get("data", {})  # nothing written


def test_plumb_sync_shows_what_an_exception_let_through_and_which_expired(
    shop: Shop, control_plane: ControlPlane, tmp_path: Path
) -> None:
    def plumb(*args: str) -> subprocess.CompletedProcess[str]:
        env = cli.plumb_env(
            kubeconfig=control_plane.kubeconfig, config=shop.config, store=tmp_path / "cli.db"
        )
        return cli.plumb(*args, env=env)

    shop.except_queue((datetime.now(UTC) + timedelta(days=7)).date().isoformat())
    synced = plumb("sync", shop.app)
    assert synced.returncode == 0, synced.stdout + synced.stderr
    assert (
        "override  references ConfigMap/carts-env via exception carts-queue (owner team-carts"
        in synced.stdout
    )

    expired_on = datetime.now(UTC).date().isoformat()
    shop.except_queue(expired_on)
    blocked = plumb("sync", shop.app)
    assert blocked.returncode == 1, blocked.stdout + blocked.stderr
    assert f"expired   exception carts-queue (owner team-carts) expired {expired_on}" in blocked.stdout
    assert f"blocked by references ConfigMap/carts-env (exception carts-queue expired {expired_on})" in (
        blocked.stdout
    )
