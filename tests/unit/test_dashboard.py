"""The Grafana dashboard's shape (what Grafana needs to import it); tests/integration/test_dashboard.py
runs its queries against a real Prometheus scraping a real controller."""

from __future__ import annotations

from plumbline.controller import Metrics
from tests.support.dashboard import DASHBOARD, expressions, label_values, metric_names, panels, promql


def test_every_panel_queries_the_chosen_prometheus_and_fits_the_grid() -> None:
    assert DASHBOARD["uid"] == "plumbline" and DASHBOARD["title"] == "plumbline"
    ids = [p["id"] for p in DASHBOARD["panels"]]
    assert len(ids) == len(set(ids))
    source = {"type": "prometheus", "uid": "${datasource}"}
    for panel in panels(DASHBOARD):
        where = panel["title"]
        assert panel["datasource"] == source and panel["targets"], where
        assert all(t["datasource"] == source and t["expr"].strip() for t in panel["targets"]), where
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24 and grid["h"] > 0, where
        assert panel.get("description"), f"{where}: say what the panel shows"
    variables = {v["name"]: v for v in DASHBOARD["templating"]["list"]}
    assert variables["datasource"]["query"] == "prometheus"
    assert variables["app"]["allValue"] == ".*"


def test_grafanas_variables_are_filled_in_as_grafana_would() -> None:
    assert promql('rate(x{app=~"$app"}[$__rate_interval])') == 'rate(x{app=~".*"}[15s])'
    assert promql('x{app=~"${app}"}') == 'x{app=~".*"}'
    assert label_values("label_values(plumbline_app_sync_status, app)") == (
        "count by (app) (plumbline_app_sync_status)"
    )
    assert ("variable $app", "count by (app) (plumbline_app_sync_status)") in expressions(DASHBOARD)


def test_the_dashboard_names_only_metrics_the_controller_defines() -> None:
    defined = set()
    for collector in Metrics().registry.collect():
        defined |= {sample.name for sample in collector.samples} | {collector.name}
        suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"]}
        defined |= {collector.name + s for s in suffixes.get(collector.type, [])}
    used = metric_names(DASHBOARD)
    assert used and not used - defined, sorted(used - defined)
