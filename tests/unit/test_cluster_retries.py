"""The cluster client's retries on answers that say "try again" (429, 503), against a stand-in HTTP
server on loopback: Retry-After honoured, creates not repeated after a 503, attempts bounded. (The
real API server's connection failures are tested in tests/integration/test_api_errors.py.)"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from plumbline.cluster import ApiFailure, Cluster
from plumbline.cluster.client import RETRY_ATTEMPTS
from plumbline.errors import ApiUnavailable, ClusterError, PlumbError


class StandIn:
    """Answers each request with the next (status, headers) of ``script``, then 200 {"ok": true}."""

    def __init__(self) -> None:
        self.script: list[tuple[int, dict[str, str]]] = []
        self.seen: list[tuple[str, float]] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def answer(self) -> None:
                stand_in.seen.append((self.command, time.monotonic()))
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                status, headers = stand_in.script.pop(0) if stand_in.script else (200, {})
                body = json.dumps(
                    {"ok": True} if status < 400 else {"kind": "Status", "reason": "X", "message": "busy"}
                ).encode()
                self.send_response(status)
                for key, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PATCH = answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def stand_in(tmp_path: Path) -> Iterator[tuple[StandIn, Cluster]]:
    server = StandIn()
    config = tmp_path / "kubeconfig"
    config.write_text(
        f"""apiVersion: v1
kind: Config
clusters: [{{name: c, cluster: {{server: "{server.url}"}}}}]
users: [{{name: u, user: {{token: t}}}}]
contexts: [{{name: stand-in, context: {{cluster: c, user: u}}}}]
current-context: stand-in
"""
    )
    with Cluster(kubeconfig=config) as cluster:
        yield server, cluster
    server.server.shutdown()


def test_a_get_waits_as_retry_after_says_then_succeeds(stand_in: tuple[StandIn, Cluster]) -> None:
    server, cluster = stand_in
    server.script = [(429, {"Retry-After": "1"}), (503, {"Retry-After": "1"})]
    assert cluster.request("GET", "/api") == {"ok": True}
    times = [t for _, t in server.seen]
    assert len(times) == 3
    assert times[1] - times[0] >= 0.95 and times[2] - times[1] >= 0.95  # Retry-After: 1 honoured


def test_a_create_is_not_repeated_after_a_503_but_is_after_a_429(stand_in: tuple[StandIn, Cluster]) -> None:
    server, cluster = stand_in
    server.script = [(503, {})]
    with pytest.raises(ApiUnavailable) as raised:
        cluster.request("POST", "/api/v1/namespaces", body={})
    assert len(server.seen) == 1  # the server may have done it: not sent twice
    assert "API server " + server.url in str(raised.value) and "context stand-in" in str(raised.value)
    server.script = [(429, {})]  # "too many requests" is refused before anything is done
    assert cluster.request("POST", "/api/v1/namespaces", body={}) == {"ok": True}
    assert [method for method, _ in server.seen] == ["POST", "POST", "POST"]


def test_retries_are_bounded(stand_in: tuple[StandIn, Cluster]) -> None:
    server, cluster = stand_in
    server.script = [(503, {})] * 20
    started = time.monotonic()
    with pytest.raises(ApiUnavailable):
        cluster.request("PATCH", "/api/v1/x", body={}, content_type="application/apply-patch+yaml")
    assert len(server.seen) == RETRY_ATTEMPTS
    assert time.monotonic() - started < 10


def test_api_failure_is_one_catchable_hierarchy(stand_in: tuple[StandIn, Cluster]) -> None:
    server, cluster = stand_in
    server.script = [(404, {})]
    with pytest.raises(ApiFailure) as raised:
        cluster.request("GET", "/api/v1/namespaces/gone")
    failure = raised.value
    assert isinstance(failure, ClusterError) and isinstance(failure, PlumbError) and failure.exit_code == 2
    assert (failure.status, failure.reason, failure.message, failure.details) == (404, "X", "busy", {})
    assert type(failure).__name__ == "ApiNotFound"
