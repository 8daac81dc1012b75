"""The Grafana dashboard (deploy/grafana/plumbline.json) against a real Prometheus scraping a running
``plumb controller --listen`` on the real control plane: every PromQL expression in it parses and
returns data, and every metric it names is one the controller exports."""

from __future__ import annotations

import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest

from plumbline.engine.pause import pause
from plumbline.local import ControlPlane, Exporter, Prometheus
from plumbline.store import Store
from tests.support import cli
from tests.support.config import app_yaml
from tests.support.dashboard import DASHBOARD, VARIABLES, expressions, metric_names, promql
from tests.support.git import commit_all, write_files
from tests.support.sites import Workspace

pytestmark = pytest.mark.integration

ENVIRONMENTS = """\
apiVersion: plumbline.dev/v1alpha1
kind: Environment
metadata: {name: default}
---
apiVersion: plumbline.dev/v1alpha1
kind: Environment
metadata: {name: held}
spec: {branches: [release]}
"""
# What the controller's metrics must have counted at least once: a sync, a guard block, a pause that
# expired, a verification window, a refused webhook.
WANTED = (
    'plumbline_sync_duration_seconds_count{app="%(ok)s"}',
    'plumbline_guard_blocks_total{app="%(held)s"}',
    'plumbline_pause_expiries_total{app="%(paused)s"}',
    'plumbline_verifications_total{app="%(ok)s",outcome="Passed"}',
    'plumbline_webhooks_total{provider="github",result="refused"}',
)


@dataclass(frozen=True)
class Scraped:
    prometheus: Prometheus
    exported: str  # the controller's /metrics text, once it had seen everything


def _counted(exported: str, series: str) -> bool:
    """``series`` (``name{labels}``) is in the exposition ``exported`` with a value of 1 or more."""
    return any(
        line.startswith(series + " ") and float(line.rsplit(" ", 1)[1]) >= 1 for line in exported.splitlines()
    )


def _metrics(port: int) -> str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
            return str(response.read().decode())
    except OSError:
        return ""


def _refused_webhook(port: int) -> None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/webhook", data=b"{}", headers={"X-GitHub-Event": "push"}, method="POST"
    )
    try:
        urllib.request.urlopen(request, timeout=5).close()
    except urllib.error.HTTPError as refused:
        assert refused.code == 401


@pytest.fixture(scope="module")
def scraped(
    tmp_path_factory: pytest.TempPathFactory,
    control_plane: ControlPlane,
    prometheus: Prometheus,
    exporter: Exporter,
) -> Iterator[Scraped]:
    """One controller over three apps (one syncs and is verified, one a guard blocks, one paused
    briefly), scraped by the session's Prometheus until every metric has data."""
    workspace = Workspace(tmp_path_factory.mktemp("dashboard"), control_plane)
    suffix = uuid.uuid4().hex[:6]
    apps = {role: f"dash-{role}-{suffix}" for role in ("ok", "held", "paused")}
    config = [ENVIRONMENTS]
    for role, name in apps.items():
        config_map = f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {role}\ndata:\n  A: '1'\n"
        write_files(workspace.repo, {f"{role}/cm.yaml": config_map})
        environment = "held" if role == "held" else None
        app = app_yaml(name, namespace=name, path=role, environment=environment, create_namespace=True)
        if role == "ok":  # a short verification window after its sync: health must hold for 2 s
            app += "  verification: {window: 2s, interval: 1s}\n"
        config.append(app)
    workspace.config.write_text("---\n".join(config))
    commit_all(workspace.repo, "three apps")
    with Store.open(workspace.root / "plumbline.db") as store:
        pause(store, apps["paused"], reason="dashboard test", duration=timedelta(seconds=3), actor="tester")

    port = cli.free_port()
    log = (workspace.root / "controller.log").open("w")
    controller = cli.start(
        "controller", "--identity", "dashboard", "--interval", "1", "--no-watch",
        "--lease-namespace", f"pl-{suffix}", "--listen", f"127.0.0.1:{port}", env=workspace.env,
        stderr=log.fileno(),
    )  # fmt: skip
    try:
        exported, wanted = "", [w % apps for w in WANTED]
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not all(_counted(exported, w) for w in wanted):
            if exported and not _counted(exported, wanted[-1]):
                _refused_webhook(port)
            time.sleep(0.5)
            exported = _metrics(port)
        missing = [w for w in wanted if not _counted(exported, w)]
        said = (workspace.root / "controller.log").read_text()[-3000:]
        assert not missing, f"the controller never exported {missing}; it logged:\n{said}"
        prometheus.scrape([exporter.target, f"127.0.0.1:{port}"])
        try:
            prometheus.wait_for(f'plumbline_pause_expiries_total{{app="{apps["paused"]}"}}', 1)
            # Rates over the shortest window ($__rate_interval) need two samples of the controller in it.
            window = VARIABLES["__rate_interval"]
            prometheus.wait_for(f'count_over_time(up{{instance="127.0.0.1:{port}"}}[{window}]) >= bool 3', 1)
            yield Scraped(prometheus, exported)
        finally:
            prometheus.scrape([exporter.target])
    finally:
        cli.stop(controller)
        log.close()


QUERIES = expressions(DASHBOARD)


@pytest.mark.parametrize(("where", "expr"), QUERIES, ids=[where for where, _ in QUERIES])
def test_every_query_parses_and_returns_data(scraped: Scraped, where: str, expr: str) -> None:
    samples = scraped.prometheus.query(promql(expr))  # a query Prometheus cannot parse raises, naming it
    assert samples, f"{where}: no data for {promql(expr)}"


def test_every_metric_the_dashboard_names_is_one_the_controller_exports(scraped: Scraped) -> None:
    exported = {line.split("{")[0].split(" ")[0] for line in scraped.exported.splitlines() if line[:1] != "#"}
    used = metric_names(DASHBOARD)
    assert used and used <= exported, f"not exported by the controller: {sorted(used - exported)}"
    # The check can fail: a panel naming a metric the controller does not export returns no data.
    assert scraped.prometheus.query(promql('sum by (app) (plumbline_not_exported_total{app=~"$app"})')) == []
