"""The ``plumb`` command as users get it: the installed console script, run in a child process."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

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


def plumb(
    *args: str, env: Mapping[str, str] | None = None, cwd: Path | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """Run ``plumb ARGS`` to the end; its exit code and output (text)."""
    return subprocess.run(argv(*args), env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def start(*args: str, env: Mapping[str, str], stderr: int = subprocess.DEVNULL) -> subprocess.Popen[str]:
    """Start ``plumb ARGS`` in the background (a controller, a sync to interrupt); its standard output is
    dropped, its standard error too unless ``stderr=subprocess.PIPE``."""
    return subprocess.Popen(argv(*args), env=env, stdout=subprocess.DEVNULL, stderr=stderr, text=True)
