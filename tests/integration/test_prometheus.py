"""A real Prometheus (the prometheus kit) scraping an exporter the test controls, asked in PromQL."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from plumbline.local import Exporter, Prometheus, PrometheusError
from plumbline.local.controlplane import process_alive, sweep_stale
from plumbline.local.prometheus import TEMP_PREFIX
from tests.support import cli

pytestmark = pytest.mark.integration


def _name() -> str:
    """A metric of this test's own: the session's exporter and Prometheus are shared."""
    return f"t{uuid.uuid4().hex[:8]}_requests"


def test_a_query_returns_the_value_the_test_set_then_the_changed_one(
    prometheus: Prometheus, exporter: Exporter
) -> None:
    name = _name()
    exporter.set(name, 7, code="200")
    exporter.set(name, 2, code="500")

    samples = prometheus.wait_for(f'{name}_total{{code="500"}}', 2)
    assert [(s.labels["code"], s.value) for s in samples] == [("500", 2.0)]
    assert samples[0].labels["job"] == "plumbline-test"
    assert samples[0].labels["instance"] == exporter.target

    exporter.set(name, 40, code="500")
    prometheus.wait_for(f'{name}_total{{code="500"}}', 40)
    # The error ratio a verification check would compute, from the same scrapes.
    ratio = prometheus.query(f'sum({name}_total{{code="500"}}) / sum({name}_total)')
    assert [s.value for s in ratio] == [pytest.approx(40 / 47)]


def test_a_scalar_and_an_empty_answer(prometheus: Prometheus) -> None:
    assert [s.value for s in prometheus.query("1 + 2")] == [3.0]
    assert prometheus.query(f"{_name()}_total") == []  # no such series: nothing, not an error


def test_a_query_prometheus_refuses_is_an_error_naming_it(prometheus: Prometheus) -> None:
    with pytest.raises(PrometheusError, match=r"query 'sum\(\(': bad_data: .*parse error"):
        prometheus.query("sum((")


def test_the_scrape_targets_can_change_while_it_runs(prometheus: Prometheus, exporter: Exporter) -> None:
    name = _name()
    with Exporter() as other:
        other.set(name, 5)
        prometheus.scrape([exporter.target, other.target])
        try:
            samples = prometheus.wait_for(f"{name}_total", 5)
            assert {s.labels["instance"] for s in samples} == {other.target}
        finally:
            prometheus.scrape([exporter.target])


KILLED_OWNER = """
import json, time
from plumbline.local import Prometheus
with Prometheus.temporary() as server:
    print(json.dumps({"dir": str(server.directory), "pid": server.pid}), flush=True)
    time.sleep(3600)
"""


def test_a_killed_owner_leaves_no_prometheus_and_its_folder_is_swept(prometheus: Prometheus) -> None:
    owner, started = cli.started_child(KILLED_OWNER, "Prometheus")
    directory, pid = Path(started["dir"]), int(started["pid"])
    assert process_alive(pid)

    cli.kill_and_wait(owner, lambda: not process_alive(pid))
    assert not process_alive(pid)

    assert directory.exists()
    sweep_stale(TEMP_PREFIX)
    assert not directory.exists()
    assert prometheus.query("1") != []  # the session's own is left alone: its owner lives
    assert prometheus.directory.exists()
