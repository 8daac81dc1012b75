"""The webhook endpoint of a running controller process, attacked with real sockets: bodies too big
or of no stated length, silent and dribbling connections, floods of connections, replayed deliveries."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import select
import socket
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from plumbline.local import ControlPlane
from plumbline.web import MAX_CONNECTIONS, REQUEST_TIMEOUT_S
from tests.support import cli
from tests.support.sites import Site  # the same site (repo, config, store) the controller tests use

pytestmark = pytest.mark.integration

SECRET = "webhook-secret-for-tests"
MIB = 1024 * 1024


class Running:
    def __init__(self, process: subprocess.Popen[str], port: int, site: Site) -> None:
        self.process, self.port, self.site = process, port, site

    def status(self, key: str) -> int:
        """A number from /proc/<pid>/status (VmHWM in kB, Threads)."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
        raise AssertionError(f"no {key} in /proc/{self.process.pid}/status")

    def get(self, path: str, timeout: float = 3.0) -> int:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=timeout) as response:
            return int(response.status)

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=3) as response:
            return str(response.read().decode())

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=30)


@pytest.fixture
def controller(tmp_path: Path, control_plane: ControlPlane, namespace: str) -> Iterator[Running]:
    site = Site(tmp_path, control_plane, namespace, "observe")
    port = cli.free_port()
    process = cli.start(
        "controller", "--identity", "webhook-test", "--interval", "3600", "--lease-namespace",
        site.lease_namespace, "--no-watch", "--listen", f"127.0.0.1:{port}",
        env={**site.env(), "PLUMBLINE_WEBHOOK_SECRET": SECRET},
    )  # fmt: skip
    running = Running(process, port, site)
    try:
        deadline = time.monotonic() + 60
        passed = f'plumbline_reconciles_total{{app="{site.app}"'
        while True:  # up, and its first pass over the app done (its threads started)
            with contextlib.suppress(OSError):
                if passed in running.metrics():
                    break
            assert time.monotonic() < deadline and process.poll() is None, "the controller did not start"
            time.sleep(0.2)
        yield running
    finally:
        cli.stop(process)
        site.close()


def reply_within(sock: socket.socket, seconds: float) -> bytes | None:
    """What the server says within ``seconds`` (None: nothing yet); b"" if it closed the connection."""
    readable, _, _ = select.select([sock], [], [], seconds)
    if not readable:
        return None
    try:
        return sock.recv(65536)
    except ConnectionResetError:
        return b""


def test_a_huge_body_of_no_stated_length_is_refused_before_it_is_read(controller: Running) -> None:
    """Content-Length -1 used to mean "read to EOF": 300 MiB unsigned went into memory."""
    before = controller.status("VmHWM")  # peak resident memory
    sock = controller.connect()
    sock.sendall(b"POST /webhook HTTP/1.1\r\nHost: x\r\nX-GitHub-Event: push\r\nContent-Length: -1\r\n\r\n")
    early = reply_within(sock, 2.0)
    chunk = b"x" * MIB
    with contextlib.suppress(OSError):
        for _ in range(300):
            sock.sendall(chunk)
        sock.shutdown(socket.SHUT_WR)
    answer = early if early is not None else reply_within(sock, 30.0)
    sock.close()
    time.sleep(0.5)
    grown_mib = (controller.status("VmHWM") - before) / 1024
    assert grown_mib < 20, f"the controller's peak memory grew by {grown_mib:.0f} MiB"
    assert answer is not None and answer.startswith(b"HTTP/1.1 400"), answer


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        (b"Content-Length: 314572800\r\n", b"413"),  # 300 MiB announced
        (b"", b"411"),  # no length at all
        (b"Transfer-Encoding: chunked\r\n", b"411"),
        (b"Content-Length: 10\r\nContent-Length: 20\r\n", b"400"),
        (b"Content-Length: +5\r\n", b"400"),
    ],
)
def test_bad_lengths_are_answered_before_the_body(controller: Running, headers: bytes, status: bytes) -> None:
    sock = controller.connect()
    sock.sendall(b"POST /webhook HTTP/1.1\r\nHost: x\r\nX-GitHub-Event: push\r\n" + headers + b"\r\n")
    answer = reply_within(sock, 3.0)
    sock.close()
    assert answer is not None and answer.startswith(b"HTTP/1.1 " + status), answer


def test_an_unsigned_body_is_refused_before_it_is_read(controller: Running) -> None:
    sock = controller.connect()
    sock.sendall(
        b"POST /webhook HTTP/1.1\r\nHost: x\r\nX-GitHub-Event: push\r\nContent-Length: 4000000\r\n\r\n"
    )
    answer = reply_within(sock, 3.0)  # not one byte of the body sent
    sock.close()
    assert answer is not None and answer.startswith(b"HTTP/1.1 401"), answer


def test_silent_and_dribbling_connections_are_closed_while_others_are_served(controller: Running) -> None:
    silent = controller.connect()
    dribbling = controller.connect()
    opened = time.monotonic()
    assert controller.get("/metrics") == 200  # served meanwhile
    closed: dict[str, float] = {}
    request = b"POST /webhook HTTP/1.1\r\nHost: x\r\nX-GitHub-Event: push\r\n"
    sent = 0
    while time.monotonic() - opened < REQUEST_TIMEOUT_S + 10 and len(closed) < 2:
        if "dribbling" not in closed:
            try:  # one byte a second: never idle long, never done
                dribbling.sendall(request[sent % len(request) : sent % len(request) + 1])
                sent += 1
            except OSError:
                closed["dribbling"] = time.monotonic() - opened
        for name, sock in (("silent", silent), ("dribbling", dribbling)):
            if name not in closed and reply_within(sock, 0) == b"":
                closed[name] = time.monotonic() - opened
        time.sleep(1.0)
    silent.close()
    dribbling.close()
    assert set(closed) == {"silent", "dribbling"}, f"still open after {REQUEST_TIMEOUT_S + 10:.0f}s: {closed}"
    assert max(closed.values()) < REQUEST_TIMEOUT_S + 3, closed
    assert controller.get("/metrics") == 200


def test_a_flood_of_held_connections_does_not_pin_a_thread_each(controller: Running) -> None:
    threads_before = controller.status("Threads")
    held = [controller.connect() for _ in range(60)]
    time.sleep(1.0)
    threads_during = controller.status("Threads")
    busy = [reply_within(sock, 0) for sock in held]
    try:
        # a connection costs no thread (the server is asyncio); beyond the cap, 503 at once
        assert threads_during - threads_before <= 2, (threads_before, threads_during)
        assert (
            sum(1 for answer in busy if answer and answer.startswith(b"HTTP/1.1 503")) >= 60 - MAX_CONNECTIONS
        )
        time.sleep(REQUEST_TIMEOUT_S + 1)
        assert controller.get("/metrics") == 200  # every held slot freed by the timeout
    finally:
        for sock in held:
            sock.close()


def test_slow_uploads_are_cut_at_the_deadline_and_do_not_starve_other_requests(controller: Running) -> None:
    """20 clients each dribble a declared 1 MiB signed body, a byte at a time: the hand-written server
    gave each a thread (and a timer thread) out of 16 slots, so /metrics got 503 until they were cut."""
    threads_before = controller.status("Threads")
    head = (
        b"POST /webhook HTTP/1.1\r\nHost: x\r\nX-GitHub-Event: push\r\n"
        b"X-Hub-Signature-256: sha256=" + b"0" * 64 + b"\r\nContent-Length: 1048576\r\n\r\n"
    )
    slow = [controller.connect() for _ in range(20)]
    opened = time.monotonic()
    for sock in slow:
        sock.sendall(head)
    cut: dict[int, float] = {}
    answered: list[float] = []
    while len(cut) < len(slow) and time.monotonic() - opened < REQUEST_TIMEOUT_S + 10:
        for n, sock in enumerate(slow):
            if n in cut:
                continue
            try:
                sock.sendall(b"x")
            except OSError:
                cut[n] = time.monotonic() - opened
                continue
            if reply_within(sock, 0) == b"":
                cut[n] = time.monotonic() - opened
        began = time.monotonic()
        assert controller.get("/metrics") == 200
        answered.append(time.monotonic() - began)
        assert controller.status("Threads") - threads_before <= 2
        time.sleep(0.5)
    for sock in slow:
        sock.close()
    assert len(cut) == len(slow), f"{len(slow) - len(cut)} slow uploads still open"
    assert max(cut.values()) < REQUEST_TIMEOUT_S + 3, cut
    assert max(answered) < 2.0, answered


def signed_post(controller: Running, body: bytes, delivery: str) -> int:
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    request = urllib.request.Request(
        f"http://127.0.0.1:{controller.port}/webhook",
        data=body,
        headers={"X-GitHub-Event": "push", "X-GitHub-Delivery": delivery, "X-Hub-Signature-256": signature},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def test_a_replayed_delivery_is_refused(controller: Running) -> None:
    push: dict[str, Any] = {
        "ref": "refs/heads/main",
        "after": "a" * 40,
        "repository": {"clone_url": "./repo"},
    }
    body = json.dumps(push).encode()
    delivery = str(uuid.uuid4())
    assert signed_post(controller, body, delivery) == 202
    assert signed_post(controller, body, delivery) == 409  # the same delivery again
    assert signed_post(controller, body, str(uuid.uuid4())) == 409  # the same signed body, a new id
    other = json.dumps({**push, "after": "b" * 40}).encode()
    assert signed_post(controller, other, delivery) == 409  # a new body under a used id
    assert signed_post(controller, other, str(uuid.uuid4())) == 202  # a real new push
    metrics = controller.metrics()
    assert 'plumbline_webhooks_total{provider="github",result="replayed"} 3.0' in metrics


def test_the_controller_serves_the_dashboard_beside_its_endpoints(controller: Running) -> None:
    with urllib.request.urlopen(f"http://127.0.0.1:{controller.port}/", timeout=120) as response:
        page = response.read().decode()
    assert controller.site.app in page and "Sign in to act" in page
    assert controller.get("/readyz") == 200
