"""The controller's worker pool on the real control plane: apps reconciled by several workers at once,
each once per round, and the round, the wait and the busy workers in the metrics (the names the bench
reads: plumbline_round_seconds, plumbline_rounds_total, plumbline_queue_wait_seconds,
plumbline_workers_busy)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from plumbline.config import App
from plumbline.controller import Controller, Outcome, Result
from tests.support.sites import Site

pytestmark = pytest.mark.integration


def apps_of(site: Site, count: int) -> list[str]:
    """``count`` observed apps over the site's repository (observe: they plan and never write)."""
    one_app = site.config.read_text()
    names = [f"{site.app}-{n}" for n in range(count)]
    site.config.write_text("---\n".join(one_app.replace(f"name: {site.app}", f"name: {n}") for n in names))
    return names


class Threads(Controller):
    """A controller that notes which thread ran each pass (the pass itself is the real one)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.threads: dict[str, set[str]] = {}
        self._noting = threading.Lock()

    def reconcile(self, app: App) -> Outcome:
        with self._noting:
            self.threads.setdefault(app.name, set()).add(threading.current_thread().name)
        return super().reconcile(app)


def metric(controller: Controller, name: str) -> float:
    for line in controller.metrics.render().decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in the metrics")


def test_run_once_reconciles_every_app_once_on_the_pool(make_site: Any) -> None:
    site = make_site("observe")
    names = apps_of(site, 6)
    plain = site.controller(workers=3)
    controller = Threads(config=plain._load_config, store=site.store, settings=plain.settings)
    plain.close()
    try:
        outcomes = controller.run_once()
        assert [o.app for o in outcomes] == names  # in name order, one each
        assert {o.result for o in outcomes} == {Result.OBSERVED}, outcomes
        assert all(len(threads) == 1 for threads in controller.threads.values())
        assert len(set().union(*controller.threads.values())) > 1  # more than one worker took apps
        assert metric(controller, "plumbline_rounds_total") == 1.0
        assert metric(controller, "plumbline_round_seconds") > 0.0
        assert metric(controller, "plumbline_queue_wait_seconds_count") == 6.0
        assert metric(controller, "plumbline_workers_busy") == 0.0
        assert metric(controller, "plumbline_workers") == 3.0
        assert metric(controller, "plumbline_reconcile_queue_depth") == 0.0
    finally:
        controller.close()


def test_the_running_controller_counts_full_rounds(make_site: Any) -> None:
    site = make_site("observe")
    names = apps_of(site, 3)
    controller = site.controller(workers=2, interval_s=0.5)
    runner = threading.Thread(target=controller.run, daemon=True)
    runner.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and metric(controller, "plumbline_rounds_total") < 2:
            time.sleep(0.1)
        assert metric(controller, "plumbline_rounds_total") >= 2
        assert metric(controller, "plumbline_round_seconds") > 0.0
        text = controller.metrics.render().decode()
        for name in names:
            assert f'plumbline_reconciles_total{{app="{name}",result="observed"}}' in text
    finally:
        controller.stop()
        runner.join(timeout=60)
        assert not runner.is_alive()
        controller.close()
