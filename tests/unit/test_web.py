"""The dashboard's pure parts: what an action's form must hold, the listen address, sessions, the
body limit (on a real loopback server), and the diff's HTML."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from plumbline.cluster import Identity, Permission
from plumbline.errors import PlumbError
from plumbline.web import BodyLimit, Served, parse_listen, serve
from plumbline.web._app import _diff, _same_origin, _validated
from plumbline.web._auth import Sessions, same


def test_a_pause_needs_a_reason_and_an_expiry() -> None:
    with pytest.raises(PlumbError, match="reason"):
        _validated(Permission.PAUSE, {"expiry": "2h"})
    with pytest.raises(PlumbError, match="expiry"):
        _validated(Permission.PAUSE, {"reason": "incident 7", "expiry": " "})
    with pytest.raises(PlumbError, match="duration"):
        _validated(Permission.PAUSE, {"reason": "incident 7", "expiry": "forever"})
    work = _validated(Permission.PAUSE, {"reason": " incident 7 ", "expiry": "2h"})
    assert work["reason"] == "incident 7" and work["duration"].total_seconds() == 7200


def test_a_capture_branch_must_look_like_one() -> None:
    assert _validated(Permission.CAPTURE, {})["branch"] == ""
    for bad in ("--force", "a b", "x/../y"):
        with pytest.raises(PlumbError, match="branch"):
            _validated(Permission.CAPTURE, {"branch": bad})


def test_listen_defaults_to_loopback_and_refuses_nonsense() -> None:
    assert parse_listen(":8080") == ("127.0.0.1", 8080)
    assert parse_listen("0.0.0.0:80") == ("0.0.0.0", 80)
    assert parse_listen("[::1]:9") == ("::1", 9)
    for bad in ("8080x", "host:", "host:99999"):
        with pytest.raises(ValueError, match="HOST:PORT"):
            parse_listen(bad)


def test_sessions_expire_and_tokens_compare_only_when_both_are_there() -> None:
    sessions = Sessions(ttl_s=-1)  # already expired when made
    session = sessions.start(Identity("alice"))
    assert sessions.get(session.id) is None
    live = Sessions().start(Identity("bob"))
    assert live.csrf != live.id
    assert same("a", "a") and not same("a", "b") and not same("", "") and not same(None, "x")


def test_a_diff_s_lines_are_escaped_and_marked_by_tag() -> None:
    html = _diff("--- live\n+++ git\n-  a: <b>\n+  a: c\n   same\n")
    assert str(html) == (
        "<del>--- live</del><ins>+++ git</ins>"
        "<del>-  a: &lt;b&gt;</del><ins>+  a: c</ins><span>   same</span>"
    )


def _request(headers: dict[str, str]) -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    return Request({"type": "http", "method": "POST", "path": "/", "headers": raw})


def test_a_form_from_another_site_is_not_the_same_origin() -> None:
    assert _same_origin(_request({"host": "127.0.0.1:8470"}))
    assert _same_origin(_request({"host": "127.0.0.1:8470", "origin": "http://127.0.0.1:8470"}))
    assert not _same_origin(_request({"host": "127.0.0.1:8470", "origin": "http://evil.example"}))
    assert not _same_origin(_request({"host": "127.0.0.1:8470", "origin": "null"}))


@pytest.fixture
def echo() -> Iterator[Served]:
    async def read(request: Request) -> PlainTextResponse:
        return PlainTextResponse(str(len(await request.body())))

    app = Starlette(routes=[Route("/", read, methods=["POST"])])
    served = serve(BodyLimit(app, max_body=100), port=0, request_timeout_s=2)
    yield served
    served.shutdown()


def _send(served: Served, request: bytes) -> bytes:
    with socket.create_connection(served.server_address, timeout=5) as sock:
        sock.sendall(request)
        return sock.recv(4096)


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        (b"Content-Length: 101\r\n", b"413"),
        (b"", b"411"),
        (b"Transfer-Encoding: chunked\r\n", b"411"),
        (b"Content-Length: 3\r\n", b"200"),
    ],
)
def test_bodies_are_judged_by_their_stated_length_before_they_are_read(
    echo: Served, headers: bytes, status: bytes
) -> None:
    answer = _send(echo, b"POST / HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n" + b"abc")
    assert answer.startswith(b"HTTP/1.1 " + status), answer


def test_a_silent_connection_is_closed_at_the_deadline(echo: Served) -> None:
    with socket.create_connection(echo.server_address, timeout=5) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\n")  # never finished
        assert sock.recv(4096) == b""  # closed by the server after 2 s, not the client's 5 s
