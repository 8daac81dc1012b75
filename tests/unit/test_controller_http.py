"""The controller's HTTP server, for real on a loopback port: webhook signatures and /metrics."""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from plumbline.config import Mode, load_config
from plumbline.controller import Controller, Outcome, Result, Settings, serve
from plumbline.plan import SyncStatus
from plumbline.plan.attribution import Attribution
from plumbline.store import AppStateKind, Store
from tests.support.config import REMOTE_APPS as CONFIG  # apps shop and blog

SECRET = "s3cret-for-tests"


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[Controller, str]]:
    (tmp_path / "plumbline.yaml").write_text(CONFIG)
    with Store.open(tmp_path / "s.db") as store:
        controller = Controller(
            config=lambda: load_config(tmp_path / "plumbline.yaml"),
            store=store,
            settings=Settings(identity="test"),
        )
        server = serve(controller, host="127.0.0.1", port=0, secret=SECRET)
        try:
            yield controller, f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    request = urllib.request.Request(url + "/webhook", data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def queued(controller: Controller) -> list[str]:
    names = []
    while (taken := controller._queue.get(timeout=0)) is not None:
        names.append(taken.name)
    return names


def github_push() -> bytes:
    return json.dumps(
        {"ref": "refs/heads/main", "repository": {"clone_url": "https://github.com/acme/shop.git"}}
    ).encode()


def test_github_good_signature_queues_the_matching_app(running: Any) -> None:
    controller, url = running
    body = github_push()
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    status, answer = post(url, body, {"X-GitHub-Event": "push", "X-Hub-Signature-256": signature})
    assert status == 202 and json.loads(answer) == {"queued": ["shop"]}
    assert queued(controller) == ["shop"]


@pytest.mark.parametrize("signature", ["", "sha256=" + "0" * 64, "sha1=abc"])
def test_github_bad_signature_is_refused(running: Any, signature: str, caplog: Any) -> None:
    controller, url = running
    headers = {"X-GitHub-Event": "push"}
    if signature:
        headers["X-Hub-Signature-256"] = signature
    status, _ = post(url, github_push(), headers)
    assert status == 401
    assert queued(controller) == []
    assert "webhook refused" in caplog.text


def test_signature_over_a_different_body_is_refused(running: Any) -> None:
    controller, url = running
    signature = "sha256=" + hmac.new(SECRET.encode(), b"{}", hashlib.sha256).hexdigest()
    status, _ = post(url, github_push(), {"X-GitHub-Event": "push", "X-Hub-Signature-256": signature})
    assert status == 401 and queued(controller) == []


def test_gitlab_token(running: Any) -> None:
    controller, url = running
    body = json.dumps({"project": {"git_ssh_url": "git@gitlab.example.com:acme/blog.git"}}).encode()
    status, _ = post(url, body, {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": "wrong"})
    assert status == 401 and queued(controller) == []
    status, answer = post(url, body, {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": SECRET})
    assert status == 202 and json.loads(answer) == {"queued": ["blog"]}


def test_metrics_show_status_state_and_webhooks(running: Any) -> None:
    controller, url = running
    controller.metrics.observe(
        Outcome(
            app="shop",
            mode=Mode.SYNC,
            state=AppStateKind.PAUSED,
            result=Result.PAUSED,
            status=SyncStatus.OUT_OF_SYNC,
        ),
        seconds=0.5,
    )
    controller.metrics.drift("shop", {Attribution.DRIFT_REVERT: 2, Attribution.RUNTIME: 1})
    post(url, github_push(), {"X-GitHub-Event": "push"})
    with urllib.request.urlopen(url + "/metrics", timeout=5) as response:
        text = response.read().decode()
    assert 'plumbline_app_sync_status{app="shop",status="OutOfSync"} 1.0' in text
    assert 'plumbline_app_state{app="shop",state="paused"} 1.0' in text
    assert 'plumbline_drift_changes{app="shop",attribution="drift-revert"} 2.0' in text
    assert 'plumbline_webhooks_total{provider="github",result="refused"} 1.0' in text
    assert "plumbline_reconcile_duration_seconds_bucket" in text
    assert "plumbline_reconcile_queue_depth" in text
