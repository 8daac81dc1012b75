"""The controller renders an app once per commit (issue 16): a pass at the same Git SHA plans from the
render it kept, a new commit is rendered again — and the kept render never hides a live edit, since
the plan still reads the live objects. Renders are counted where they run (plumbline.render), on the
real control plane."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from plumbline.controller import Controller, Outcome, Result
from plumbline.local import ControlPlane
from plumbline.plan import SyncStatus
from plumbline.render import render_count
from tests.support.sites import Site

pytestmark = pytest.mark.integration


@pytest.fixture
def site(tmp_path: Path, control_plane: ControlPlane, namespace: str) -> Iterator[Site]:
    made = Site(tmp_path, control_plane, namespace, mode="sync")
    yield made
    made.close()


def reconcile(controller: Controller) -> tuple[Outcome, int]:
    """One pass; its outcome and how many renders it ran."""
    before = render_count()
    (outcome,) = controller.run_once()
    return outcome, render_count() - before


def test_a_pass_at_the_same_commit_renders_nothing_and_a_new_commit_renders_again(site: Site) -> None:
    controller = site.controller()
    try:
        first, renders = reconcile(controller)
        assert first.result is Result.SYNCED, first
        assert renders == 1

        again, renders = reconcile(controller)
        assert renders == 0  # same SHA, same path and options: the kept render
        assert again.sha == first.sha
        assert again.status is SyncStatus.SYNCED, again

        site.write_config_map("LOG_LEVEL", "debug")
        sha = site.commit("debug")
        moved, renders = reconcile(controller)
        assert renders == 1  # a new commit is rendered
        assert moved.sha == sha
        assert moved.result is Result.SYNCED, moved
        live = site.live()
        assert live is not None and live["data"] == {"LOG_LEVEL": "debug"}

        # A live edit is still seen: the plan compares the kept render with what the cluster has now.
        site.edit("LOG_LEVEL", "trace")
        drifted, renders = reconcile(controller)
        assert renders == 0
        assert drifted.sha == sha
        assert drifted.status is SyncStatus.OUT_OF_SYNC, drifted
        assert drifted.drift, drifted

        text = controller.metrics.render().decode()
        assert 'plumbline_render_cache_lookups_total{result="hit"} 2.0' in text
        assert 'plumbline_render_cache_lookups_total{result="miss"} 2.0' in text
        assert "plumbline_render_cache_renders 2.0" in text
    finally:
        controller.close()
