"""The controller's small HTTP server: ``/metrics`` (Prometheus), ``/healthz`` and ``/readyz`` (the API
server is ready), and ``/webhook`` (Git pushes).

GitHub deliveries must carry ``X-Hub-Signature-256: sha256=<HMAC-SHA256 of the body>`` keyed with
``$PLUMBLINE_WEBHOOK_SECRET``; GitLab ones ``X-Gitlab-Token`` equal to it (compared in constant time).
Anything else is refused with 401 and logged (without the secret or the body). A good delivery
queues a reconcile of every app whose repoURL matches the pushed repository.

The endpoint faces the network, so nobody can make it hold memory, threads or time beyond fixed bounds:

* the body is read only when ``Content-Length`` is present (411 otherwise, chunked included), a plain
  non-negative number (400) and at most :data:`MAX_BODY` (413) — decided before a byte of it is read;
  a request without the provider's signature header is refused before its body is read;
* a whole request (line, headers, body) must arrive within ``request_timeout_s``, else the
  connection is closed: a silent or dribbling client holds a thread for that long, never longer;
* at most ``max_connections`` connections are handled at once; the next gets 503 at once;
* the signature is checked before the body is parsed; a signed delivery already seen (the same
  ``X-GitHub-Delivery`` / ``X-Gitlab-Event-UUID``, or the same signed body) gets 409 — the set of
  seen deliveries is bounded (:data:`SEEN_DELIVERIES`, oldest forgotten first).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import os
import re
import socket
import threading
from collections import OrderedDict
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from plumbline.controller._log import log

if TYPE_CHECKING:
    from plumbline.controller._loop import Controller


class Delivery(StrEnum):
    """What became of a webhook delivery (the ``result`` label of ``plumbline_webhooks``)."""

    ACCEPTED = "accepted"  # signed, new: the apps of the pushed repository are queued
    REFUSED = "refused"  # unsigned, badly signed or malformed: not read, or not believed
    REPLAYED = "replayed"  # signed, but a delivery already seen


MAX_BODY = 5 * 1024 * 1024
REQUEST_TIMEOUT_S = 5.0
MAX_CONNECTIONS = 16
SEEN_DELIVERIES = 4096

_LENGTH = re.compile(r"[0-9]{1,10}")


def _norm(url: str) -> str:
    url = url.strip().lower().removesuffix("/").removesuffix(".git")
    for prefix in ("https://", "http://", "ssh://", "git://", "file://"):
        url = url.removeprefix(prefix)
    if "@" in url.split("/")[0]:
        url = url.split("@", 1)[1]
    return url.replace(":", "/", 1) if ":" in url.split("/")[0] else url


def repo_urls(provider: str, payload: dict[str, Any]) -> set[str]:
    """Every address the pushed repository goes by, normalised (scheme, user, ``.git`` dropped)."""
    repo = payload.get("repository") or {}
    project = payload.get("project") or {}
    keys = ("clone_url", "ssh_url", "git_url", "html_url", "url", "git_http_url", "git_ssh_url", "web_url")
    urls = {repo.get(k) for k in keys} | {project.get(k) for k in keys}
    return {_norm(u) for u in urls if isinstance(u, str) and u}


def verify(provider: str, headers: Any, body: bytes, secret: str) -> bool:
    if not secret:
        return False
    if provider == "github":
        signature = headers.get("X-Hub-Signature-256") or ""
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(signature.encode(), expected.encode())
    if provider == "gitlab":
        return hmac.compare_digest((headers.get("X-Gitlab-Token") or "").encode(), secret.encode())
    return False


class SeenDeliveries:
    """Delivery keys already accepted, the newest ``limit`` of them (bounded memory)."""

    def __init__(self, limit: int = SEEN_DELIVERIES) -> None:
        self.limit = limit
        self._keys: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def first_time(self, keys: list[str]) -> bool:
        """Record ``keys``; False (recording nothing) if any of them was seen before."""
        with self._lock:
            if any(key in self._keys for key in keys):
                return False
            for key in keys:
                self._keys[key] = None
            while len(self._keys) > self.limit:
                self._keys.popitem(last=False)
            return True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # a burst is accepted and answered (503 when full), not left in SYN retries

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], slots: int) -> None:
        super().__init__(address, handler)
        self._slots = threading.BoundedSemaphore(slots)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            # Full: answer at once instead of queueing behind connections that may be held on purpose.
            with contextlib.suppress(OSError):
                request.settimeout(1.0)
                request.sendall(
                    b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
                    b"Content-Length: 5\r\nRetry-After: 5\r\nConnection: close\r\n\r\nbusy\n"
                )
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


def serve(
    controller: Controller,
    *,
    host: str,
    port: int,
    secret: str | None = None,
    request_timeout_s: float = REQUEST_TIMEOUT_S,
    max_connections: int = MAX_CONNECTIONS,
) -> ThreadingHTTPServer:
    """Start serving on a daemon thread; ``server.shutdown()`` stops it. Port 0 picks a free port."""
    key = secret if secret is not None else os.environ.get("PLUMBLINE_WEBHOOK_SECRET", "")
    seen = SeenDeliveries()

    class Handler(BaseHTTPRequestHandler):
        timeout = request_timeout_s  # each read from the socket; the timer below bounds the whole request

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the controller logs what matters, structured

        def handle(self) -> None:
            self._received = threading.Event()
            timer = threading.Timer(request_timeout_s, self._expire)
            timer.daemon = True
            timer.start()
            try:
                super().handle()
            except OSError:
                pass  # the client went away or was cut off by the timer: nothing to answer
            finally:
                timer.cancel()

        def _expire(self) -> None:
            if self._received.is_set():
                return
            log(
                logging.WARNING,
                f"HTTP connection closed: no complete request within {request_timeout_s:g}s",
                peer=self.client_address[0],
            )
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)

        def _reply(self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8") -> None:
            self._received.set()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            self._received.set()
            if self.path == "/metrics":
                self._reply(200, controller.metrics.render(), "text/plain; version=0.0.4; charset=utf-8")
            elif self.path in ("/healthz", "/readyz"):  # /readyz: the Deployment's readiness probe
                ok, why = controller.healthy()  # the API server and its etcd, cached briefly
                self._reply(200 if ok else 503, why.encode() + b"\n")
            else:
                self._reply(404, b"not found\n")

        def _refuse(self, provider: str, status: int, why: str) -> None:
            controller.metrics.webhooks.labels(provider=provider, result=Delivery.REFUSED.value).inc()
            log(logging.WARNING, f"webhook refused: {why}", peer=self.client_address[0], status=status)
            self._reply(status, why.encode() + b"\n")

        def _length(self) -> tuple[int, str] | int:
            """The body's length, or (status, why) when it must not be read at all."""
            if self.headers.get("Transfer-Encoding"):
                return 411, "Content-Length required (no chunked bodies)"
            values = self.headers.get_all("Content-Length") or []
            if not values:
                return 411, "Content-Length required"
            if len(values) > 1 or not _LENGTH.fullmatch(values[0]):
                return 400, "Content-Length must be one non-negative number"
            length = int(values[0])
            if length > MAX_BODY:
                return 413, f"body larger than {MAX_BODY} bytes"
            return length

        def do_POST(self) -> None:
            if self.path != "/webhook":
                self._reply(404, b"not found\n")
                return
            if self.headers.get("X-GitHub-Event"):
                provider, signed_by = "github", "X-Hub-Signature-256"
            elif self.headers.get("X-Gitlab-Event"):
                provider, signed_by = "gitlab", "X-Gitlab-Token"
            else:
                provider, signed_by = "unknown", ""
            length = self._length()
            if isinstance(length, tuple):
                self._refuse(provider, *length)
                return
            if not signed_by or not self.headers.get(signed_by) or not key:
                self._refuse(provider, 401, f"bad or missing {provider} signature")
                return
            body = self.rfile.read(length)
            self._received.set()
            if len(body) != length:
                self._refuse(provider, 400, f"body ended after {len(body)} of {length} bytes")
                return
            if not verify(provider, self.headers, body, key):
                self._refuse(provider, 401, f"bad or missing {provider} signature")
                return
            if not seen.first_time(self._delivery_keys(provider, body)):
                controller.metrics.webhooks.labels(provider=provider, result=Delivery.REPLAYED.value).inc()
                log(logging.WARNING, f"webhook refused: {provider} delivery already seen (a replay)",
                    peer=self.client_address[0], delivery=self._delivery_id(provider))  # fmt: skip
                self._reply(409, b"delivery already seen\n")
                return
            try:
                payload = json.loads(body)
            except ValueError:
                self._reply(400, b"not JSON\n")
                return
            pushed = repo_urls(provider, payload if isinstance(payload, dict) else {})
            matched = sorted(
                name
                for name, app in controller.config.apps.items()
                if _norm(app.spec.source.repo_url) in pushed
            )
            for name in matched:
                controller.enqueue(name)
            controller.metrics.webhooks.labels(provider=provider, result=Delivery.ACCEPTED.value).inc()
            log(logging.INFO, f"webhook from {provider}: queued {len(matched)} app(s)", apps=matched)
            self._reply(202, json.dumps({"queued": matched}).encode(), "application/json")

        def _delivery_id(self, provider: str) -> str:
            header = "X-GitHub-Delivery" if provider == "github" else "X-Gitlab-Event-UUID"
            return (self.headers.get(header) or "")[:200]

        def _delivery_keys(self, provider: str, body: bytes) -> list[str]:
            # The delivery id is not signed (GitHub signs the body only), so the same signed body under
            # a fresh id is a replay too; for GitLab (a token, no signature) the body says the same.
            keys = [f"{provider}:body:{hashlib.sha256(body).hexdigest()}"]
            if delivery := self._delivery_id(provider):
                keys.append(f"{provider}:id:{delivery}")
            return keys

    server = _Server((host, port), Handler, max_connections)
    threading.Thread(target=server.serve_forever, name="plumbline-http", daemon=True).start()
    return server
