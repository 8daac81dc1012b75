"""The controller's small HTTP server: ``/metrics`` (Prometheus) and ``/webhook`` (Git pushes).

GitHub deliveries must carry ``X-Hub-Signature-256: sha256=<HMAC-SHA256 of the body>`` keyed with
``$PLUMBLINE_WEBHOOK_SECRET``; GitLab ones ``X-Gitlab-Token`` equal to it (compared in constant time).
Anything else is refused with 401 and logged (without the secret or the body). A good delivery
queues a reconcile of every app whose repoURL matches the pushed repository.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from plumbline.controller._log import log

if TYPE_CHECKING:
    from plumbline.controller._loop import Controller

MAX_BODY = 5 * 1024 * 1024


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


def serve(controller: Controller, *, host: str, port: int, secret: str | None = None) -> ThreadingHTTPServer:
    """Start serving on a daemon thread; ``server.shutdown()`` stops it. Port 0 picks a free port."""
    key = secret if secret is not None else os.environ.get("PLUMBLINE_WEBHOOK_SECRET", "")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass  # the controller logs what matters, structured

        def _reply(self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path == "/metrics":
                self._reply(200, controller.metrics.render(), "text/plain; version=0.0.4; charset=utf-8")
            elif self.path == "/healthz":
                self._reply(200, b"ok\n")
            else:
                self._reply(404, b"not found\n")

        def do_POST(self) -> None:
            if self.path != "/webhook":
                self._reply(404, b"not found\n")
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._reply(413, b"too large\n")
                return
            body = self.rfile.read(length)
            if self.headers.get("X-GitHub-Event"):
                provider = "github"
            elif self.headers.get("X-Gitlab-Event"):
                provider = "gitlab"
            else:
                provider = "unknown"
            if not verify(provider, self.headers, body, key):
                controller.metrics.webhooks.labels(provider=provider, result="refused").inc()
                log(
                    logging.WARNING,
                    f"webhook refused: bad or missing {provider} signature",
                    peer=self.client_address[0],
                )
                self._reply(401, b"bad signature\n")
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
            controller.metrics.webhooks.labels(provider=provider, result="accepted").inc()
            log(logging.INFO, f"webhook from {provider}: queued {len(matched)} app(s)", apps=matched)
            self._reply(202, json.dumps({"queued": matched}).encode(), "application/json")

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="plumbline-http", daemon=True).start()
    return server
