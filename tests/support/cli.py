"""The ``plumb`` command as users get it: the installed console script, run in a child process."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

PLUMB = Path(sys.executable).with_name("plumb")
"""The console script pip installed beside this Python (``plumbline.cli:main``)."""


def argv(*args: str) -> list[str]:
    """The command line of ``plumb ARGS`` (for tests that start it with ``subprocess.Popen``)."""
    if not PLUMB.is_file():
        raise FileNotFoundError(
            f"{PLUMB}: the plumb console script is not installed (make .venv/.installed-stamp)"
        )
    return [str(PLUMB), *args]


def plumb_env(
    *, kubeconfig: Path | str, config: Path, store: Path, actor: str | None = None
) -> dict[str, str]:
    """This process's environment, with the cluster, configuration, store and actor a run of ``plumb``
    uses, and no colours in its output."""
    env = {
        **os.environ,
        "KUBECONFIG": str(kubeconfig),
        "PLUMBLINE_CONFIG": str(config),
        "PLUMBLINE_STORE": str(store),
        "NO_COLOR": "1",
    }
    if actor is not None:
        env["PLUMBLINE_ACTOR"] = actor
    return env


def offline_env(folder: Path, config: Path) -> dict[str, str]:
    """The environment of ``plumb check`` in CI: ``config``, no cluster (a kubeconfig that does not
    exist, no local control plane to find), no colours, no ``TF_WORKSPACE`` from the machine."""
    env = {
        **os.environ,
        "KUBECONFIG": str(folder / "no-such-kubeconfig"),
        "PLUMBLINE_STATE_DIR": str(folder / "state"),
        "PLUMBLINE_CONFIG": str(config),
        "NO_COLOR": "1",
    }
    env.pop("TF_WORKSPACE", None)
    return env


def plumb(
    *args: str, env: Mapping[str, str] | None = None, cwd: Path | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """Run ``plumb ARGS`` to the end; its exit code and output (text)."""
    return subprocess.run(argv(*args), env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def start(*args: str, env: Mapping[str, str], stderr: int = subprocess.DEVNULL) -> subprocess.Popen[str]:
    """Start ``plumb ARGS`` in the background (a controller, a sync to interrupt); its standard output is
    dropped, its standard error too unless ``stderr=subprocess.PIPE``."""
    return subprocess.Popen(argv(*args), env=env, stdout=subprocess.DEVNULL, stderr=stderr, text=True)


def stop(process: subprocess.Popen[str], sig: int = signal.SIGTERM, *, within: float = 30) -> None:
    """``sig`` (SIGTERM: a controller stops cleanly on it) to ``process`` and reap it; SIGKILL after
    ``within`` s."""
    process.send_signal(sig)
    try:
        process.wait(timeout=within)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on (for ``plumb controller --listen``)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def kill_when(process: subprocess.Popen[str], ready: Callable[[], bool], *, within: float = 120) -> None:
    """SIGKILL ``process`` the moment ``ready()`` holds (or it ended, or ``within`` seconds passed), and
    reap it: a crash in the middle of what it was doing."""
    try:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline and not ready() and process.poll() is None:
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
        process.wait()
    finally:
        if process.poll() is None:
            process.kill()


def started_child(script: str, what: str) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    """Run ``script`` in a child Python that prints one JSON line once ``what`` it starts is up; the
    child and that line."""
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    line = child.stdout.readline()
    assert line, f"the child's {what} did not start"
    return child, json.loads(line)


def kill_and_wait(child: subprocess.Popen[str], gone: Callable[[], bool], *, within: float = 10) -> None:
    """SIGKILL ``child`` (no chance to clean up), then wait up to ``within`` seconds for ``gone()``."""
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    deadline = time.monotonic() + within
    while not gone() and time.monotonic() < deadline:
        time.sleep(0.1)
