"""Serving an ASGI app with uvicorn on a thread of its own, with fixed bounds on what a client can hold.

The dashboard and the controller's endpoints face the network, so no client can make the server hold
memory, time or connections beyond fixed bounds:

* a whole request (line, headers, body) must arrive within ``request_timeout_s`` of the connection
  (or of the previous response on a kept-alive one), else the connection is closed; a response being
  streamed (server-sent events) is not a request arriving and is not cut;
* at most ``max_connections`` connections are open at once: the next is answered 503 at once and
  closed, instead of waiting behind connections that may be held on purpose; a connection costs no
  thread (asyncio), only the requests' handlers run on a bounded thread pool;
* a request with a body must state its length (411 otherwise, chunked included), at most
  ``max_body`` bytes (413), decided before a byte of it is read (:class:`BodyLimit`); uvicorn's
  HTTP parser (h11) answers 400 to a malformed or repeated ``Content-Length``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import h11
import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

MAX_BODY = 5 * 1024 * 1024
REQUEST_TIMEOUT_S = 5.0
MAX_CONNECTIONS = 32

log = logging.getLogger("plumbline.web")

_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
    b"Content-Length: 5\r\nRetry-After: 5\r\nConnection: close\r\n\r\nbusy\n"
)


class _Bounded(H11Protocol):
    """uvicorn's h11 protocol, with a deadline for each request and a cap on open connections."""

    request_timeout_s = REQUEST_TIMEOUT_S
    max_connections = MAX_CONNECTIONS

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            transport.write(_BUSY)
            transport.close()
            return
        self._deadline: asyncio.TimerHandle | None = None
        self._arm()

    def _arm(self) -> None:
        if getattr(self, "_deadline", None) is not None:
            self._deadline.cancel()  # type: ignore[union-attr]
        self._deadline = self.loop.call_later(self.request_timeout_s, self._expire)

    def _expire(self) -> None:
        self._deadline = None
        if self.transport.is_closing() or self.conn.their_state in (h11.DONE, h11.MUST_CLOSE, h11.CLOSED):
            return  # the request is in; its response may stream as long as it needs
        if self.conn.their_state is h11.IDLE and self.cycle is not None and not self.cycle.response_complete:
            return
        peer = self.client[0] if self.client else "?"
        log.warning(
            "HTTP connection closed: no complete request within %gs (peer %s)", self.request_timeout_s, peer
        )
        self.transport.close()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()  # the next request on this connection gets its own deadline

    def connection_lost(self, exc: Exception | None) -> None:
        deadline = getattr(self, "_deadline", None)
        if deadline is not None:
            deadline.cancel()
        super().connection_lost(exc)


Refused = Callable[[Scope, int, str], None]


class BodyLimit:
    """ASGI middleware: a body must state its length, at most ``max_body`` bytes; decided from the
    headers, before the body is read. ``refused`` hears of each refusal (metrics, logs)."""

    def __init__(self, app: ASGIApp, *, max_body: int = MAX_BODY, refused: Refused | None = None) -> None:
        self.app, self.max_body, self.refused = app, max_body, refused

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        headers = [(k.lower(), v) for k, v in scope["headers"]]
        lengths = [v for k, v in headers if k == b"content-length"]
        problem: tuple[int, str] | None = None
        if any(k == b"transfer-encoding" for k, _ in headers):
            problem = 411, "Content-Length required (no chunked bodies)"
        elif not lengths:
            problem = 411, "Content-Length required"
        elif len(lengths) > 1 or not lengths[0].isdigit():
            problem = 400, "Content-Length must be one non-negative number"
        elif int(lengths[0]) > self.max_body:
            problem = 413, f"body larger than {self.max_body} bytes"
        if problem is None:
            await self.app(scope, receive, send)
            return
        status, why = problem
        if self.refused is not None:
            self.refused(scope, status, why)
        body = why.encode() + b"\n"
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


@dataclass
class Served:
    """A running server: its address, and ``shutdown()`` to stop it (waiting for it to stop)."""

    server: uvicorn.Server
    thread: threading.Thread
    host: str
    port: int

    @property
    def server_address(self) -> tuple[str, int]:
        return self.host, self.port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def shutdown(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def parse_listen(listen: str, *, default_host: str = "127.0.0.1") -> tuple[str, int]:
    """``HOST:PORT`` (or ``:PORT``, ``PORT``) → (host, port); the host defaults to loopback."""
    host, _, port = listen.rpartition(":")
    host = host.strip("[]") or default_host
    if not port.isdigit() or int(port) > 65535:
        raise ValueError(f"--listen {listen!r}: expected HOST:PORT, e.g. 127.0.0.1:8080")
    return host, int(port)


def serve(
    app: ASGIApp,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    request_timeout_s: float = REQUEST_TIMEOUT_S,
    max_connections: int = MAX_CONNECTIONS,
) -> Served:
    """Start serving ``app`` on a daemon thread (port 0: a free one), bounded as the module says."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.setblocking(False)
    bound = sock.getsockname()[1]

    protocol = type("Bounded", (_Bounded,), {"request_timeout_s": request_timeout_s,
                                             "max_connections": max_connections})  # fmt: skip
    config = uvicorn.Config(
        app,
        http=protocol,
        lifespan="off",
        log_config=None,
        access_log=False,
        timeout_keep_alive=int(max(1, request_timeout_s)),
        timeout_graceful_shutdown=2,
        server_header=False,
        proxy_headers=False,
        ws="none",
    )
    server = uvicorn.Server(config)

    def run() -> None:
        with contextlib.suppress(Exception):
            server.run(sockets=[sock])

    thread = threading.Thread(target=run, name="plumbline-http", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    if not server.started:
        server.should_exit = True
        raise OSError(f"could not serve on {host}:{port}")
    return Served(server=server, thread=thread, host=host, port=bound)


def client_ip(scope: Scope) -> str:
    client: Any = scope.get("client")
    return str(client[0]) if client else "?"
