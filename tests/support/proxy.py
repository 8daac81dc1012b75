"""A loopback TCP proxy in front of a server, for tests of connections that fail."""

from __future__ import annotations

import contextlib
import socket
import threading


class Proxy:
    """Passes every connection through to ``upstream``, except: the first ``drop`` it accepts are
    closed at once (the client's TLS handshake fails), and while :meth:`cut` every connection through
    it is closed and new ones are closed at once, until :meth:`join` (an outage and its end)."""

    def __init__(self, upstream: tuple[str, int], *, drop: int = 0) -> None:
        self.upstream, self.drop = upstream, drop
        self.accepted = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._cut = threading.Event()
        self._open: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.accepted += 1
            if self.accepted <= self.drop or self._cut.is_set():
                client.close()
                continue
            upstream = socket.create_connection(self.upstream)
            self._open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self._cut.set()
        for s in self._open:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
        self._open.clear()

    def join(self) -> None:
        self._cut.clear()

    def close(self) -> None:
        self.listener.close()
