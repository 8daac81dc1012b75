"""The controller asks each Git repository for its refs once per revision per interval (issue 16): a
round over several apps of one repository lists its refs once, a pass between polls (a watch event,
an operation) asks nothing, and a webhook for the repository makes the next pass ask at once — a new
commit is still seen. Counted at a real smart-HTTP Git server, on the real control plane."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from plumbline.controller import Controller, Result
from tests.support.config import app_yaml
from tests.support.git import git, serve_http
from tests.support.sites import Site

pytestmark = pytest.mark.integration


@pytest.fixture
def served(make_site: Any, tmp_path: Path) -> Iterator[tuple[Site, serve_http, str]]:
    """The site's repository as a bare clone served over HTTP, and three observed apps of it."""
    site: Site = make_site("observe")
    bare = tmp_path / "served.git"
    git(tmp_path, "clone", "-q", "--bare", str(site.repo), str(bare))
    server = serve_http(bare)
    with server as url:
        site.config.write_text(
            "---\n".join(
                app_yaml(f"{site.app}-{n}", namespace=site.namespace, repo=url, mode="observe")
                for n in range(3)
            )
        )
        yield site, server, url


def listings(server: serve_http) -> int:
    """How many times the server listed the repository's refs."""
    return sum(count for path, count in server.asked.items() if path.endswith("/info/refs"))


def test_a_round_lists_a_repositorys_refs_once_and_a_push_is_seen_at_once(
    served: tuple[Site, serve_http, str], tmp_path: Path
) -> None:
    site, server, _ = served
    controller: Controller = site.controller(workers=3)
    try:
        first = controller.run_once()
        assert {o.result for o in first} == {Result.OBSERVED}, first
        assert listings(server) == 1  # three apps, one repository and revision: one listing

        controller.run_once()
        assert listings(server) == 2  # a new round (the poll, each interval) asks again, once

        app = controller.config.apps[f"{site.app}-0"]
        between = controller.reconcile(app)  # a pass between polls: a watch event, an operation
        assert listings(server) == 2
        assert between.sha == first[0].sha

        site.write_config_map("LOG_LEVEL", "debug")
        sha = site.commit("debug")
        git(site.repo, "push", "-q", str(tmp_path / "served.git"), "main")
        controller.pushed([app.name])  # the webhook for the repository
        taken = controller._queue.get(timeout=0)
        assert taken is not None and taken.name == app.name  # queued
        controller._queue.done(taken.name)
        moved = controller.reconcile(app)
        assert listings(server) == 3
        assert moved.sha == sha  # the push is seen on the next pass, not a poll later
        assert controller.reconciler.refs.fetched == 3
    finally:
        controller.close()
