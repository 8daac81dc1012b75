"""The write path records its intent before the first write and its outcome after, for `plumb sync`
as for the controller: a store that cannot take the intent refuses the sync with nothing written; a
writer killed mid-apply is reported as interrupted by the next `status` and finished by the next
`sync`; refused inputs never touch the app's Lease. All on the real control plane."""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from plumbline.cluster import Cluster
from plumbline.engine.lease import LEASE_NAMESPACE, lease_name, read_lease
from plumbline.local import ControlPlane
from plumbline.store import AuditAction, Store
from tests.support import cli
from tests.support.config import app_yaml
from tests.support.git import commit_all, git

pytestmark = pytest.mark.integration


class Site:
    """A Git repo with one app of N ConfigMaps in ``namespace``, its config and store, and `plumb`."""

    def __init__(self, root: Path, plane: ControlPlane, namespace: str) -> None:
        self.root, self.namespace = root, namespace
        self.app = f"intent-{uuid.uuid4().hex[:6]}"
        self.repo = root / "repo"
        (self.repo / "app").mkdir(parents=True)
        git(self.repo, "init", "-q", "-b", "main")
        self.config = root / "plumbline.yaml"
        self.config.write_text(app_yaml(self.app, namespace=namespace))
        self.store_path = root / "plumbline.db"
        self.cluster = Cluster(kubeconfig=plane.kubeconfig)
        self.env = cli.plumb_env(
            kubeconfig=plane.kubeconfig, config=self.config, store=self.store_path, actor="tester@ci"
        )

    def config_maps_in_git(self, n: int, value: str = "v") -> str:
        docs = [
            f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\ndata:\n  K: {value}{i}\n"
            for i in range(n)
        ]
        (self.repo / "app" / "many.yaml").write_text("---\n".join(docs))
        return commit_all(self.repo, f"{n} config maps")

    def config_maps(self) -> set[str]:
        listed = self.cluster.request(
            "GET",
            f"/api/v1/namespaces/{self.namespace}/configmaps",
            query={"labelSelector": f"plumbline.dev/app={self.app}"},
        )
        return {item["metadata"]["name"] for item in listed["items"]}

    def plumb(self, *args: str) -> subprocess.CompletedProcess[str]:
        return cli.plumb(*args, env=self.env)

    def lease_version(self) -> str | None:
        """The resourceVersion of the app's write Lease: any take or give-back changes it."""
        lease = self.cluster.read(
            f"/apis/coordination.k8s.io/v1/namespaces/{LEASE_NAMESPACE}/leases/{lease_name(self.app)}"
        )
        return None if lease is None else str(lease["metadata"]["resourceVersion"])

    def audit(self) -> list[tuple[str, str]]:
        with Store.open(self.store_path) as store:
            return [(r.outcome, r.actor) for r in store.audit_log(self.app) if r.action == AuditAction.SYNC]


@pytest.fixture
def site(tmp_path: Path, control_plane: ControlPlane, namespace: str) -> Iterator[Site]:
    made = Site(tmp_path, control_plane, namespace)
    yield made
    made.cluster.close()


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """The file cannot be written, even by root (tests run as root, where chmod stops nothing)."""
    subprocess.run(["chattr", "+i", str(path)], check=True)
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def test_a_store_that_cannot_take_the_intent_refuses_the_sync_with_nothing_written(site: Site) -> None:
    site.config_maps_in_git(3)
    made = site.plumb("history", site.app)  # creates the store, as any earlier command would have
    assert made.returncode == 0 and site.store_path.exists(), made.stderr
    with read_only(site.store_path):
        done = site.plumb("sync", site.app)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "cannot record the intent" in done.stderr and str(site.store_path) in done.stderr, done.stderr
    assert "nothing was written to the cluster" in done.stderr, done.stderr
    assert site.config_maps() == set()
    assert read_lease(site.cluster, site.app) is None  # not even the Lease


def test_a_sync_killed_mid_apply_is_reported_by_status_and_finished_by_the_next_sync(site: Site) -> None:
    total = 200
    sha = site.config_maps_in_git(total)
    process = cli.start("sync", site.app, env=site.env)
    cli.kill_when(process, lambda: bool(site.config_maps()))
    written = len(site.config_maps())
    assert 0 < written < total, f"not killed mid-apply ({written} of {total} written)"

    # Its lease has not lapsed yet: status cannot tell a dead writer from a slow one, and says so.
    running = site.plumb("status", site.app, "-o", "json")
    (row,) = json.loads(running.stdout)
    (unfinished,) = row["unfinished"]
    assert unfinished["state"] == "running" and unfinished["sha"] == sha, unfinished

    lease = read_lease(site.cluster, site.app)
    assert lease is not None and lease.holder
    deadline = time.monotonic() + lease.duration_s + 10
    while time.monotonic() < deadline and not lease.expired():
        time.sleep(0.5)
    assert lease.expired()

    status = site.plumb("status", site.app)
    assert status.returncode == 1, status.stdout + status.stderr
    text = " ".join(status.stdout.split())
    assert "interrupted" in text and sha[:12] in text and "main" in text, text
    assert "may have been applied" in text, text
    (row,) = json.loads(site.plumb("status", site.app, "-o", "json").stdout)
    (unfinished,) = row["unfinished"]
    assert unfinished["state"] == "interrupted" and unfinished["revision"] == "main", unfinished
    assert unfinished["actor"] == "tester@ci" and unfinished["planned"]["create"] == total, unfinished

    finished = site.plumb("sync", site.app)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert "interrupted" in finished.stdout and sha[:12] in finished.stdout, finished.stdout
    assert len(site.config_maps()) == total

    history = json.loads(site.plumb("history", site.app, "-o", "json").stdout)
    assert [(r["result"], r["sha"]) for r in history] == [("succeeded", sha), ("interrupted", sha)]
    assert history[1]["intent"] is not None and history[0]["intent"] != history[1]["intent"]
    assert "may have been applied" in history[1]["message"]
    assert site.audit() == [
        ("started", "tester@ci"),
        ("interrupted", "tester@ci"),
        ("started", "tester@ci"),
        ("succeeded", "tester@ci"),
    ]
    (row,) = json.loads(site.plumb("status", site.app, "-o", "json").stdout)
    assert row["status"] == "Synced" and row["unfinished"] == [], row


def test_manual_syncs_are_in_the_audit_trail_like_the_controllers(site: Site) -> None:
    sha = site.config_maps_in_git(2)
    assert site.plumb("sync", site.app).returncode == 0
    with Store.open(site.store_path) as store:
        records = [r for r in store.audit_log(site.app) if r.action == AuditAction.SYNC]
        checked, broken = store.verify_audit()
    assert [(r.outcome, r.actor, r.revision) for r in records] == [
        ("started", "tester@ci", sha),
        ("succeeded", "tester@ci", sha),
    ]
    assert records[1].summary["sync"] and records[1].summary["plan"]["create"] == 2
    assert broken is None and checked >= 2
    shown = site.plumb("audit", site.app)
    assert shown.returncode == 0 and "started" in shown.stdout and "succeeded" in shown.stdout, shown.stdout


def test_a_sync_with_nothing_to_write_records_no_intent_and_takes_no_lease(site: Site) -> None:
    sha = site.config_maps_in_git(3)
    assert site.plumb("sync", site.app).returncode == 0
    lease = site.lease_version()
    assert lease is not None

    again = site.plumb("sync", site.app)
    assert again.returncode == 0 and "3 unchanged" in again.stdout, again.stdout + again.stderr
    assert site.lease_version() == lease  # not taken, not given back: untouched
    history = json.loads(site.plumb("history", site.app, "-o", "json").stdout)
    assert [(r["result"], r["sha"]) for r in history] == [("succeeded", sha), ("succeeded", sha)]
    assert history[0]["intent"] is None and history[1]["intent"] is not None, history
    assert site.audit() == [("started", "tester@ci"), ("succeeded", "tester@ci"), ("succeeded", "tester@ci")]

    # Something to write again: intent and Lease as before.
    changed = site.config_maps_in_git(3, value="w")
    assert site.plumb("sync", site.app).returncode == 0
    (latest, *_) = json.loads(site.plumb("history", site.app, "-o", "json").stdout)
    assert latest["sha"] == changed and latest["intent"] is not None, latest
    assert site.lease_version() != lease


def test_refused_inputs_write_no_lease(site: Site) -> None:
    (site.repo / "app" / "broken.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: [oops\n")
    commit_all(site.repo, "broken")
    bad = site.plumb("sync", site.app)
    assert bad.returncode == 2 and "broken.yaml" in bad.stderr, bad.stdout + bad.stderr
    assert read_lease(site.cluster, site.app) is None

    (site.repo / "app" / "broken.yaml").unlink()
    (site.repo / "app" / "orders.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: orders-env\ndata:\n"
        "  INVENTORY_SERVICE_URL: http://old-inventory-service.svc.cluster.local\n"
    )
    commit_all(site.repo, "a reference to a Service that does not exist")
    blocked = site.plumb("sync", site.app)
    assert blocked.returncode == 1 and "references" in blocked.stdout, blocked.stdout + blocked.stderr
    assert read_lease(site.cluster, site.app) is None
    assert site.config_maps() == set()
    # The refusal is audited too (no "started": nothing was about to be written).
    assert site.audit() == [("blocked", "tester@ci")]
