"""Sharing apps out among controller replicas, on the real control plane (decision 0016): replicas
configured with different app lists starve none of them, and an app no replica has held for longer
than a lease period is taken anyway and reported."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from plumbline.config import load_config
from plumbline.controller import Controller, Settings
from plumbline.engine.lease import heartbeat, owner_lease_name, read_lease, release_replica
from tests.support.sites import Site

pytestmark = pytest.mark.integration


def config_of(site: Site, apps: list[str], name: str) -> Path:
    """A config file beside the site's with the site's app copied under each of ``apps``' names."""
    one_app = site.config.read_text()
    path = site.root / f"{name}.yaml"
    path.write_text("---\n".join(one_app.replace(f"name: {site.app}", f"name: {a}") for a in apps))
    return path


def replica(site: Site, identity: str, config: Path) -> Controller:
    settings = Settings(
        identity=identity,
        lease_namespace=site.lease_namespace,
        lease_duration_s=2,
        interval_s=0.5,
        kubeconfig=str(site.kubeconfig),
        watch=False,
    )
    return Controller(config=lambda: load_config(config), store=site.store, settings=settings)


@contextlib.contextmanager
def running(*controllers: Controller) -> Iterator[None]:
    threads = [threading.Thread(target=c.run, daemon=True) for c in controllers]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        for controller in controllers:
            controller.stop()
        for thread in threads:
            thread.join(timeout=30)
        for controller in controllers:
            controller.close()


def holders(site: Site, apps: list[str]) -> dict[str, str | None]:
    def holder(app: str) -> str | None:
        info = read_lease(site.cluster, app, namespace=site.lease_namespace, name=owner_lease_name(app))
        return info.holder if info and not info.expired() else None

    return {app: holder(app) for app in apps}


def settle(site: Site, apps: list[str], wanted: dict[str, str], within: float = 40) -> dict[str, str | None]:
    deadline = time.monotonic() + within
    seen = holders(site, apps)
    while time.monotonic() < deadline and seen != wanted:
        time.sleep(0.3)
        seen = holders(site, apps)
    return seen


def test_replicas_with_different_app_lists_starve_no_app(make_site: Any) -> None:
    site: Site = make_site("observe")
    a_apps, b_apps = [f"{site.app}-a{i}" for i in range(2)], [f"{site.app}-b{i}" for i in range(2)]
    a = replica(site, "replica-a", config_of(site, a_apps, "a"))
    b = replica(site, "replica-b", config_of(site, b_apps, "b"))
    with running(a, b):
        wanted = {**dict.fromkeys(a_apps, "replica-a"), **dict.fromkeys(b_apps, "replica-b")}
        # Counting every replica, each would hold one app of its two: the other never reconciled.
        assert settle(site, a_apps + b_apps, wanted) == wanted


def test_an_app_without_a_holder_is_taken_and_reported(
    make_site: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Three replicas that say they have both apps but never take one (stuck): the one that works
    holds its share (one app), then takes the other once it has had no holder for a lease period."""
    site: Site = make_site("observe")
    apps = [f"{site.app}-{i}" for i in range(2)]
    stuck = [f"stuck-{i}" for i in range(3)]
    for identity in stuck:
        heartbeat(site.cluster, identity, namespace=site.lease_namespace, duration_s=120, apps=apps)
    worker = replica(site, "replica-a", config_of(site, apps, "a"))
    try:
        with caplog.at_level(logging.WARNING, logger="plumbline.controller"), running(worker):
            wanted = dict.fromkeys(apps, "replica-a")
            assert settle(site, apps, wanted) == wanted
    finally:
        for identity in stuck:
            release_replica(site.cluster, identity, namespace=site.lease_namespace)
    alerts = [r for r in caplog.records if "no controller replica held the app" in r.getMessage()]
    # Two workers take the two apps at once: whichever comes second is beyond the share, reported once.
    assert len(alerts) == 1 and getattr(alerts[0], "app", "") in apps, [r.getMessage() for r in alerts]
    events = site.cluster.request(
        "GET", f"/api/v1/namespaces/{site.namespace}/events", query={"fieldSelector": "reason=NoHolder"}
    )
    assert [e["type"] for e in events["items"]] == ["Warning"], events["items"]
