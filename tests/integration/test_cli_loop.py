"""The core loop as a user runs it: `plumb diff / sync / status / history` on plain, Kustomize and Helm
apps from real Git repositories, against the real control plane; and the bad inputs, each a clear
error naming the file, with nothing written."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from plumbline.cluster import Cluster
from plumbline.local import ControlPlane
from tests.support.git import commit_all
from tests.support.json_keys import not_camel_case
from tests.support.sites import Workspace, unique

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def ws(tmp_path: Path, control_plane: ControlPlane) -> Workspace:
    return Workspace(tmp_path, control_plane)


def loop(ws: Workspace, app: str, change: str) -> None:
    """diff → sync → status → (a commit) → diff → sync → history, checking each step's exit and output."""
    first = ws.plumb("diff", app)
    assert first.returncode == 1, first.stderr  # changes, like diff(1)
    assert "to create" in first.stdout and "0 to update" in first.stdout

    synced = ws.plumb("sync", app)
    assert synced.returncode == 0, synced.stdout + synced.stderr
    assert "succeeded" in synced.stdout

    status = ws.plumb("status", app, "-o", "json")
    assert status.returncode == 0, status.stdout + status.stderr
    (row,) = json.loads(status.stdout)
    assert row["status"] == "Synced" and row["lastResult"] == "succeeded"
    assert not_camel_case(row) == []

    before = ws.plumb("diff", app)
    assert before.returncode == 0, before.stdout  # nothing to do

    sha = ws.commit(change)
    after = ws.plumb("diff", app, "-o", "json")
    assert after.returncode == 1
    plan = json.loads(after.stdout)
    assert plan["sha"] == sha
    updated = [o for o in plan["objects"] if o["action"] == "update"]
    assert updated, plan["summary"]

    assert ws.plumb("sync", app).returncode == 0
    assert ws.plumb("diff", app).returncode == 0

    history = ws.plumb("history", app, "-o", "json")
    records = json.loads(history.stdout)
    assert [r["result"] for r in records] == ["succeeded", "succeeded"]
    assert not_camel_case(records) == []
    audit = json.loads(ws.plumb("audit", app, "-o", "json").stdout)
    assert not_camel_case(audit) == [] and {r["outcome"] for r in audit} == {"started", "succeeded"}
    assert records[0]["sha"] == sha and records[0]["actor"] == "tester@ci"
    assert records[0]["desired"], "history must hold the full desired objects"


def test_plain_app(ws: Workspace) -> None:
    shutil.copytree(ROOT / "examples" / "guestbook", ws.repo / "apps" / "guestbook")
    ws.commit("guestbook")
    # The example's config points at guestbook.guestbook.svc: the references guard holds it to that.
    ws.add_app("guestbook", "apps/guestbook", "guestbook")
    deployment = ws.repo / "apps" / "guestbook" / "deployment.yaml"
    deployment.write_text(deployment.read_text().replace("nginx:1.27", "nginx:1.28"))
    loop(ws, "guestbook", "nginx 1.28")
    apps = ws.plumb("apps")
    assert apps.returncode == 0 and "guestbook" in apps.stdout and "sync" in apps.stdout


def test_kustomize_app(ws: Workspace) -> None:
    write(
        ws.repo / "base" / "kustomization.yaml",
        "resources:\n- deployment.yaml\nconfigMapGenerator:\n- name: settings\n  literals:\n  - LEVEL=info\n",
    )
    write(
        ws.repo / "base" / "deployment.yaml",
        """apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
    spec:
      containers:
      - name: api
        image: registry.example/api:1.0
""",
    )
    write(
        ws.repo / "overlays" / "prod" / "kustomization.yaml",
        "resources:\n- ../../base\nimages:\n- name: registry.example/api\n  newTag: '1.1'\n"
        "commonLabels:\n  env: prod\n",
    )
    ws.commit("kustomize app")
    ws.add_app("api", "overlays/prod", unique("kust"))
    write(
        ws.repo / "overlays" / "prod" / "kustomization.yaml",
        "resources:\n- ../../base\nimages:\n- name: registry.example/api\n  newTag: '1.2'\n"
        "commonLabels:\n  env: prod\n",
    )
    loop(ws, "api", "api 1.2")


def test_helm_app(ws: Workspace) -> None:
    chart = ws.repo / "charts" / "web"
    write(chart / "Chart.yaml", "apiVersion: v2\nname: web\nversion: 0.1.0\n")
    write(chart / "values.yaml", "image: nginx:1.27\nreplicas: 1\ngreeting: hello\n")
    write(chart / "values-prod.yaml", "replicas: 2\n")
    write(
        chart / "templates" / "deployment.yaml",
        """apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels: {app: {{ .Release.Name }}}
  template:
    metadata:
      labels: {app: {{ .Release.Name }}}
    spec:
      containers:
      - name: web
        image: {{ .Values.image }}
""",
    )
    write(
        chart / "templates" / "configmap.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-config\n"
        "data:\n  GREETING: {{ .Values.greeting | quote }}\n",
    )
    ws.commit("helm chart")
    ws.add_app(
        "web",
        "charts/web",
        unique("helm"),
        extra="    helm:\n      releaseName: web\n      valueFiles: [charts/web/values-prod.yaml]\n",
    )
    write(chart / "values.yaml", "image: nginx:1.27\nreplicas: 1\ngreeting: hello there\n")
    loop(ws, "web", "new greeting")


# ---- bad input: a clear error naming the file, exit 2, nothing written ---------------------------


def test_invalid_config_names_file_line_and_field(ws: Workspace) -> None:
    ws.config.write_text(
        "apiVersion: plumbline.dev/v1alpha1\nkind: App\nmetadata:\n  name: broken\nspec:\n"
        "  source:\n    repoURL: ./repo\n  destination:\n    namspace: x\n"
    )
    done = ws.plumb("apps")
    assert done.returncode == 2
    assert "plumbline.yaml:" in done.stderr and "App/broken" in done.stderr and "namspace" in done.stderr


def test_unknown_app_suggests_the_closest(ws: Workspace) -> None:
    ws.add_app("guestbook", "apps/guestbook", "x")
    done = ws.plumb("diff", "guestbok")
    assert done.returncode == 2 and "guestbook" in done.stderr


def test_unknown_kind_and_duplicates_name_their_files(ws: Workspace, control_plane: ControlPlane) -> None:
    namespace = unique("bad")
    write(
        ws.repo / "apps" / "bad" / "widget.yaml",
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n",
    )
    write(ws.repo / "apps" / "bad" / "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n")
    ws.commit("bad kind")
    ws.add_app("bad", "apps/bad", namespace)
    done = ws.plumb("sync", "bad")
    assert done.returncode == 2
    assert "apps/bad/widget.yaml" in done.stderr and "Widget" in done.stderr

    (ws.repo / "apps" / "bad" / "widget.yaml").unlink()
    write(ws.repo / "apps" / "bad" / "again.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n")
    ws.commit("duplicate")
    done = ws.plumb("sync", "bad")
    assert done.returncode == 2
    assert "apps/bad/again.yaml" in done.stderr and "apps/bad/cm.yaml" in done.stderr
    with Cluster(kubeconfig=control_plane.kubeconfig) as cluster:
        info = cluster.discovery.lookup("v1", "Namespace")
        assert (
            info is not None and cluster.get(info, name=namespace, namespace=None) is None
        )  # nothing written


def test_alias_bomb_in_the_repo_is_refused_quickly(ws: Workspace) -> None:
    laughs = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        laughs.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    write(ws.repo / "apps" / "bomb" / "bomb.yaml", "\n".join(laughs) + "\n")
    ws.commit("bomb")
    ws.add_app("bomb", "apps/bomb", "bomb")
    began = time.monotonic()
    done = ws.plumb("diff", "bomb")
    assert done.returncode == 2 and "alias bomb" in done.stderr and "bomb.yaml" in done.stderr
    assert time.monotonic() - began < 15


def test_a_refused_dry_run_writes_nothing_and_is_recorded(ws: Workspace, control_plane: ControlPlane) -> None:
    namespace = unique("refused")
    write(ws.repo / "apps" / "r" / "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n")
    write(
        ws.repo / "apps" / "r" / "svc.yaml",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: bad\nspec:\n  ports:\n  - port: 70000\n",
    )
    ws.commit("bad port")
    ws.add_app("r", "apps/r", namespace)
    with Cluster(kubeconfig=control_plane.kubeconfig) as cluster:
        ns_info = cluster.discovery.lookup("v1", "Namespace")
        assert ns_info is not None
        cluster.apply(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}, info=ns_info
        )
        done = ws.plumb("sync", "r")
        assert done.returncode == 1, done.stdout + done.stderr
        assert "Service" in done.stdout and "70000" in done.stdout
        cm = cluster.discovery.lookup("v1", "ConfigMap")
        assert cm is not None and cluster.get(cm, name="ok", namespace=namespace) is None
    history = json.loads(ws.plumb("history", "r", "-o", "json").stdout)
    assert history[0]["result"] == "blocked"


# ---- guards on every sync ---------------------------------------------------------------------


def test_a_guard_blocks_the_sync_and_an_override_is_recorded(
    ws: Workspace, control_plane: ControlPlane
) -> None:
    """Seed 01, incident 2: an order service pointing at a deprecated inventory service."""
    namespace = unique("orders")
    write(
        ws.repo / "apps" / "orders" / "config.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: orders-env\ndata:\n"
        "  INVENTORY_SERVICE_URL: http://old-inventory-service.svc.cluster.local\n",
    )
    ws.commit("orders v2")
    ws.add_app("orders", "apps/orders", namespace)

    blocked = ws.plumb("sync", "orders")
    assert blocked.returncode == 1, blocked.stdout + blocked.stderr
    assert "references" in blocked.stdout and "old-inventory-service" in blocked.stdout
    assert "fix:" in blocked.stdout
    with Cluster(kubeconfig=control_plane.kubeconfig) as cluster:
        info = cluster.discovery.lookup("v1", "Namespace")
        assert (
            info is not None and cluster.get(info, name=namespace, namespace=None) is None
        )  # nothing written

    missing_reason = ws.plumb("sync", "orders", "--allow", "references:ConfigMap/orders-env")
    assert missing_reason.returncode == 2 and "reason" in missing_reason.stderr

    allowed = ws.plumb(
        "sync",
        "orders",
        "--allow",
        "references:ConfigMap/orders-env",
        "--reason",
        "inventory moves next sprint",
    )
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    records = json.loads(ws.plumb("history", "orders", "-o", "json").stdout)
    assert [r["result"] for r in records] == ["succeeded", "blocked"]
    (override,) = records[0]["flags"]["overrides"]
    assert override["guard"] == "references" and override["reason"] == "inventory moves next sprint"
    assert override["via"] == "--allow" and records[0]["actor"] == "tester@ci"

    # The same block, let through by a trailer in the commit that brings it.
    write(
        ws.repo / "apps" / "orders" / "config.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: orders-env\ndata:\n"
        "  INVENTORY_SERVICE_URL: http://old-inventory-service.svc.cluster.local\n  RETRIES: '3'\n",
    )
    commit_all(ws.repo, "orders: retries\n\nPlumb-Allow: references ConfigMap/orders-env")
    by_trailer = ws.plumb("sync", "orders")
    assert by_trailer.returncode == 0, by_trailer.stdout + by_trailer.stderr
    latest = json.loads(ws.plumb("history", "orders", "-o", "json").stdout)[0]
    assert latest["flags"]["overrides"][0]["via"] == "trailer"


def test_sync_refuses_a_paused_app_and_one_held_by_another_writer(
    ws: Workspace, control_plane: ControlPlane
) -> None:
    from plumbline.engine.lease import app_lease

    namespace = unique("writer")
    write(ws.repo / "apps" / "w" / "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n")
    ws.commit("w")
    ws.add_app("w", "apps/w", namespace)

    paused = ws.plumb("pause", "w", "--reason", "incident 42", "--for", "30m")
    assert paused.returncode == 0, paused.stdout + paused.stderr
    refused = ws.plumb("sync", "w")
    assert refused.returncode == 1 and "paused" in refused.stderr and "incident 42" in refused.stderr
    assert ws.plumb("resume", "w").returncode == 0

    with Cluster(kubeconfig=control_plane.kubeconfig) as cluster, app_lease(cluster, "w", "replica-a"):
        held = ws.plumb("sync", "w")
    assert held.returncode == 1 and "replica-a" in held.stderr
    assert ws.plumb("sync", "w").returncode == 0  # released: the sync goes through
