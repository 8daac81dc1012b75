"""The controller's endpoints: ``/metrics`` (Prometheus), ``/healthz``, ``/readyz`` and ``/webhook`` (Git
pushes), served beside the dashboard by the one ASGI server of :mod:`plumbline.web` (uvicorn).

GitHub deliveries must carry ``X-Hub-Signature-256: sha256=<HMAC-SHA256 of the body>`` keyed with
``$PLUMBLINE_WEBHOOK_SECRET``; GitLab ones ``X-Gitlab-Token`` equal to it (compared in constant time).
Anything else is refused with 401 and logged (without the secret or the body). A good delivery
queues a reconcile of every app whose repoURL matches the pushed repository.

The endpoint faces the network, so nobody can make it hold memory, threads or time beyond fixed bounds
(:mod:`plumbline.web`'s server: a whole request within ``request_timeout_s``, at most ``max_connections``
open, a body of stated length at most :data:`MAX_BODY`, all decided before the body is read), and:

* a request without the provider's signature header is refused before its body is read;
* the signature is checked before the body is parsed; a signed delivery already seen (the same
  ``X-GitHub-Delivery`` / ``X-Gitlab-Event-UUID``, or the same signed body) gets 409 — the set of
  seen deliveries is bounded (:data:`SEEN_DELIVERIES`, oldest forgotten first).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import threading
from collections import OrderedDict
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Scope

from plumbline.controller._log import log
from plumbline.web import MAX_BODY, MAX_CONNECTIONS, REQUEST_TIMEOUT_S, Dashboard, Served, client_ip
from plumbline.web import serve as serve_app

if TYPE_CHECKING:
    from plumbline.controller._loop import Controller


class Delivery(StrEnum):
    """What became of a webhook delivery (the ``result`` label of ``plumbline_webhooks``)."""

    ACCEPTED = "accepted"  # signed, new: the apps of the pushed repository are queued
    REFUSED = "refused"  # unsigned, badly signed or malformed: not read, or not believed
    REPLAYED = "replayed"  # signed, but a delivery already seen


SEEN_DELIVERIES = 4096
__all__ = ["MAX_BODY", "MAX_CONNECTIONS", "REQUEST_TIMEOUT_S", "Delivery", "routes", "serve"]


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


def _text(status: int, text: str) -> Response:
    return PlainTextResponse(text + "\n", status_code=status, headers={"Connection": "close"})


def _provider(headers: Any) -> tuple[str, str]:
    """(provider, the header its signature or token comes in); ("unknown", "") for anyone else."""
    if headers.get("X-GitHub-Event"):
        return "github", "X-Hub-Signature-256"
    if headers.get("X-Gitlab-Event"):
        return "gitlab", "X-Gitlab-Token"
    return "unknown", ""


def _delivery_id(provider: str, headers: Any) -> str:
    header = "X-GitHub-Delivery" if provider == "github" else "X-Gitlab-Event-UUID"
    return str(headers.get(header) or "")[:200]


def _delivery_keys(provider: str, headers: Any, body: bytes) -> list[str]:
    # The delivery id is not signed (GitHub signs the body only), so the same signed body under a
    # fresh id is a replay too; for GitLab (a token, no signature) the body says the same.
    keys = [f"{provider}:body:{hashlib.sha256(body).hexdigest()}"]
    if delivery := _delivery_id(provider, headers):
        keys.append(f"{provider}:id:{delivery}")
    return keys


def routes(controller: Controller, *, secret: str | None = None) -> list[BaseRoute]:
    """The controller's endpoints as routes of the one ASGI app (:func:`serve` adds the dashboard)."""
    key = secret if secret is not None else os.environ.get("PLUMBLINE_WEBHOOK_SECRET", "")
    seen = SeenDeliveries()

    def refuse(provider: str, peer: str, status: int, why: str) -> Response:
        controller.metrics.webhooks.labels(provider=provider, result=Delivery.REFUSED.value).inc()
        log(logging.WARNING, f"webhook refused: {why}", peer=peer, status=status)
        return _text(status, why)

    def metrics(request: Request) -> Response:
        body = controller.metrics.render()
        return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")

    def healthz(request: Request) -> Response:
        ok, why = controller.healthy()  # the API server and its etcd, cached briefly
        return _text(200 if ok else 503, why)

    def readyz(request: Request) -> Response:  # the Deployment's readiness probe
        if controller.stopping:
            return _text(503, "stopping")
        return healthz(request)

    async def webhook(request: Request) -> Response:
        provider, signed_by = _provider(request.headers)
        peer = client_ip(request.scope)
        if not signed_by or not request.headers.get(signed_by) or not key:
            return refuse(provider, peer, 401, f"bad or missing {provider} signature")
        try:
            body = await request.body()  # of stated length, at most MAX_BODY (the server's BodyLimit)
        except ClientDisconnect:
            return refuse(provider, peer, 400, "body ended early")
        if not verify(provider, request.headers, body, key):
            return refuse(provider, peer, 401, f"bad or missing {provider} signature")
        if not seen.first_time(_delivery_keys(provider, request.headers, body)):
            controller.metrics.webhooks.labels(provider=provider, result=Delivery.REPLAYED.value).inc()
            log(logging.WARNING, f"webhook refused: {provider} delivery already seen (a replay)",
                peer=peer, delivery=_delivery_id(provider, request.headers))  # fmt: skip
            return _text(409, "delivery already seen")
        try:
            payload = json.loads(body)
        except ValueError:
            return _text(400, "not JSON")
        pushed = repo_urls(provider, payload if isinstance(payload, dict) else {})
        matched = sorted(
            name for name, app in controller.config.apps.items() if _norm(app.spec.source.repo_url) in pushed
        )
        controller.pushed(matched)
        controller.metrics.webhooks.labels(provider=provider, result=Delivery.ACCEPTED.value).inc()
        log(logging.INFO, f"webhook from {provider}: queued {len(matched)} app(s)", apps=matched)
        return JSONResponse({"queued": matched}, status_code=202, headers={"Connection": "close"})

    return [
        Route("/metrics", metrics),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/webhook", webhook, methods=["POST"]),
    ]


def serve(
    controller: Controller,
    *,
    host: str,
    port: int,
    secret: str | None = None,
    request_timeout_s: float = REQUEST_TIMEOUT_S,
    max_connections: int = MAX_CONNECTIONS,
    dashboard: Dashboard | None = None,
) -> Served:
    """Serve the controller's endpoints and ``dashboard`` (if given) on a daemon thread;
    ``served.shutdown()`` stops it. Port 0 picks a free port."""

    def refused(scope: Scope, status: int, why: str) -> None:
        if scope["path"] == "/webhook":
            provider, _ = _provider(Headers(scope=scope))
            controller.metrics.webhooks.labels(provider=provider, result=Delivery.REFUSED.value).inc()
            log(logging.WARNING, f"webhook refused: {why}", peer=client_ip(scope), status=status)

    if dashboard is None:
        options = controller.settings
        dashboard = Dashboard(
            lambda: controller.config, kubeconfig=options.kubeconfig, context=options.context
        )
    app = dashboard.asgi(extra=routes(controller, secret=secret), refused=refused)
    return serve_app(app, host=host, port=port, request_timeout_s=request_timeout_s,
                     max_connections=max_connections)  # fmt: skip
