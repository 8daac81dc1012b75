"""Git for tests: repositories made, committed to and served the one way every test does it."""

from __future__ import annotations

import os
import subprocess
import threading
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from dulwich.repo import Repo
from dulwich.server import BackendRepo, DictBackend
from dulwich.web import make_wsgi_chain

AUTHOR = "Ada Lovelace <ada@example.com>"
"""Who every test commit is by (author and committer)."""


def git(repo: Path, *args: str, when: str | None = None, env: Mapping[str, str] | None = None) -> str:
    """Run ``git -C repo ARGS`` as :data:`AUTHOR`, blind to the machine's and the user's git config; its
    standard output, stripped. ``when`` fixes the commit dates; ``env`` adds to the environment (a
    ``GNUPGHOME``). Fails the test on a non-zero exit."""
    name, email = AUTHOR.removesuffix(">").split(" <")
    environ = {
        **os.environ,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
    }
    if when is not None:
        environ |= {"GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when}
    done = subprocess.run(
        ["git", "-C", str(repo), *args],
        env={**environ, **(env or {})},
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip()


def write_files(root: Path, files: Mapping[str, str | bytes]) -> Path:
    """Write each ``{relative path: content}`` below ``root`` (folders made as needed); ``root``."""
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return root


def commit_all(repo: Path, message: str, *, when: str | None = None) -> str:
    """Commit everything in the work tree of ``repo``; the new commit's SHA."""
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message, when=when)
    return git(repo, "rev-parse", "HEAD")


def init_repo(root: Path, files: Mapping[str, str | bytes] | None = None, message: str = "first") -> str:
    """A new repository at ``root`` on branch ``main`` holding ``files`` in its first commit; its SHA."""
    write_files(root, files or {}).mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q", "-b", "main")
    return commit_all(root, message)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


class serve_http:  # used like a function: `with serve_http(bare) as url`
    """A dulwich smart-HTTP server for one bare repository on 127.0.0.1, in a thread."""

    def __init__(self, bare: Path) -> None:
        self.repo = Repo(str(bare))
        repos: dict[str, BackendRepo] = {"/": self.repo}
        app = make_wsgi_chain(DictBackend(repos))
        self.asked: Counter[str] = Counter()  # requests by path: each ".../info/refs" is one ref listing

        def counting(environ: dict[str, Any], start_response: Any) -> Any:
            self.asked[str(environ.get("PATH_INFO", ""))] += 1
            return app(environ, start_response)

        self.server: WSGIServer = make_server("127.0.0.1", 0, counting, handler_class=_QuietHandler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        return f"http://127.0.0.1:{self.server.server_port}/"

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.repo.close()
