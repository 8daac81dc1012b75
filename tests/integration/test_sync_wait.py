"""``plumb sync APP --wait``: after the sync, wait until the app's objects are Healthy, on the real
control plane with KWOK's simulated nodes (Pods that run, crash-loop or never become ready)."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from plumbline.local import ControlPlane, Fault, SimulatedNodes
from tests.support.json_keys import not_camel_case
from tests.support.kwok import running_deployment, web_app

pytestmark = pytest.mark.integration


def _text(output: str) -> str:
    """A usage error's words without the box and line breaks typer draws around them."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", output).split())


def test_sync_wait_shows_progress_and_exits_0_once_the_pods_are_ready(
    tmp_path: Path, control_plane: ControlPlane, kwok_nodes: SimulatedNodes
) -> None:
    ws, app, _ = web_app(tmp_path, control_plane, running_deployment("web", replicas=3), prefix="wait")
    done = ws.plumb("sync", app, "--wait", "--timeout", "90s")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    progress = [line for line in lines if line.startswith("Deployment/web: ")]
    # The rollout is seen going (one line per change of its health), then done.
    assert progress[0].startswith("Deployment/web: Progressing ("), progress
    assert progress[-1] == "Deployment/web: Healthy"
    assert "Service/web: Healthy" in lines
    assert lines[-1].startswith(f"{app}: Healthy after ")
    # How the wait ended is in the audit trail, next to the sync it followed.
    audit = ws.plumb("audit", app)
    assert audit.returncode == 0, audit.stderr
    (health,) = [line for line in audit.stdout.splitlines() if " health " in line]
    assert "Healthy" in health and "plumb sync --wait" in health


def test_sync_wait_times_out_on_pods_that_never_become_ready_naming_the_deployment(
    tmp_path: Path, control_plane: ControlPlane, kwok_nodes: SimulatedNodes
) -> None:
    ws, app, _ = web_app(
        tmp_path, control_plane, running_deployment("web", fault=Fault.NEVER_READY), prefix="wait"
    )
    started = time.monotonic()
    done = ws.plumb("sync", app, "--wait", "--timeout", "15s", "-o", "json")
    assert done.returncode == 4, done.stdout + done.stderr  # synced, but not Healthy
    assert time.monotonic() - started < 60
    data = json.loads(done.stdout)
    assert data["record"]["result"] == "succeeded"  # the sync itself wrote everything
    health = data["health"]
    assert not_camel_case(health) == []
    assert health["timedOut"] is True and health["healthy"] is False
    assert health["status"] == "Progressing"
    assert health["message"].startswith(
        "Deployment/web: waiting for rollout: 0 of 2 updated replicas available"
    )
    by_object = {o["object"].split(" ")[0]: o for o in health["objects"]}
    assert by_object["Deployment.apps"]["status"] == "Progressing"
    assert by_object["Service"]["status"] == "Healthy"

    table = ws.plumb("sync", app, "--wait", "--timeout", "3s")  # nothing to change: waits all the same
    assert table.returncode == 4, table.stdout + table.stderr
    assert f"{app}: Progressing (timed out after " in table.stdout
    assert "  Deployment/web: Progressing (waiting for rollout: 0 of 2 updated replicas available)" in (
        table.stdout
    )
    assert "  Service/web" not in table.stdout  # only what is not Healthy is named
    audit = ws.plumb("audit", app)
    assert [line.count("Progressing") for line in audit.stdout.splitlines() if " health " in line] == [1, 1]


def test_sync_wait_stops_at_a_degraded_deployment_whose_pods_crash_loop(
    tmp_path: Path, control_plane: ControlPlane, kwok_nodes: SimulatedNodes
) -> None:
    deployment = running_deployment("web", fault=Fault.CRASHLOOP, deadline=5)
    ws, app, _ = web_app(tmp_path, control_plane, deployment, prefix="wait")
    started = time.monotonic()
    done = ws.plumb("sync", app, "--wait", "--timeout", "120s")
    took = time.monotonic() - started
    assert done.returncode == 4, done.stdout + done.stderr
    assert took < 100, took  # it stopped at Degraded, well before the timeout
    assert "Deployment/web: Degraded (Deployment 'web' exceeded its progress deadline)" in done.stdout
    assert f"{app}: Degraded (stopped waiting after " in done.stdout
    assert "timed out" not in done.stdout


def test_a_bad_timeout_is_a_usage_error_before_anything_is_written(
    tmp_path: Path, control_plane: ControlPlane
) -> None:
    ws, app, _ = web_app(tmp_path, control_plane, running_deployment("web"), prefix="wait")
    bad = ws.plumb("sync", app, "--wait", "--timeout", "soon")
    assert bad.returncode == 2
    assert "Invalid value for --timeout: duration 'soon': expected a positive number and a unit" in _text(
        bad.stderr
    )
    dry = ws.plumb("sync", app, "--wait", "--dry-run")
    assert dry.returncode == 2 and "a dry run writes nothing to wait for" in _text(dry.stderr)
    history = ws.plumb("history", app)
    assert history.returncode == 0 and "no syncs recorded" in history.stdout
