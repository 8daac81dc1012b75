"""Manual operations while a controller runs, on the real control plane: the controller holds the
app (its owner Lease) for good, but the write Lease only while it writes, so `plumb sync` and the
break-glass `plumb resume --revert` go through instead of waiting for a holder that never lets go."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from plumbline.controller import Controller
from plumbline.engine.lease import LEASE_NAMESPACE
from tests.support.sites import Site

pytestmark = pytest.mark.integration


@contextlib.contextmanager
def running(controller: Controller) -> Iterator[None]:
    thread = threading.Thread(target=controller.run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        controller.stop()
        thread.join(timeout=30)
        controller.close()


def wait_for(what: str, done: Any, within: float = 60) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if done():
            return
        time.sleep(0.2)
    pytest.fail(f"{what} within {within:.0f} s")


def data(site: Site) -> Any:
    live = site.live()
    return None if live is None else live["data"]


def test_manual_sync_and_resume_revert_while_the_controller_runs(make_site: Any) -> None:
    site: Site = make_site("sync")
    site.lease_namespace = LEASE_NAMESPACE  # where `plumb sync` looks for the app's Lease
    controller = site.controller(interval_s=1.0)
    with running(controller):
        wait_for("the controller did not sync", lambda: site.live() is not None)
        site.edit("LOG_LEVEL", "hotfix")
        manual = site.plumb("sync", site.app, "--revert-drift")
        assert manual.returncode == 0, manual.stdout + manual.stderr
        assert data(site) == {"LOG_LEVEL": "info"}

        paused = site.plumb("pause", site.app, "--reason", "incident 7", "--for", "30m")
        assert paused.returncode == 0, paused.stdout + paused.stderr
        site.edit("LOG_LEVEL", "during-incident")
        resumed = site.plumb("resume", site.app, "--revert", "--reason", "incident over")
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        assert data(site) == {"LOG_LEVEL": "info"}
