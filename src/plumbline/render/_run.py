"""Running ``helm`` and ``kustomize``: bounded in time and output, isolated from the user's setup.

Each run gets a fresh ``HOME`` (and the Helm folders inside it) in a temporary folder, an empty
``KUBECONFIG`` and only ``PATH`` from the caller's environment: no user configuration, registry
credentials or cluster access can change what a render produces. Output goes to files that are
watched while the tool runs, so a template that loops forever or prints gigabytes is stopped.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from plumbline.errors import RenderError

RENDER_TIMEOUT_S = 90.0
MAX_OUTPUT_BYTES = 64 << 20
_STDERR_SHOWN = 4000


def isolated_env(home: Path) -> dict[str, str]:
    """The environment for a render tool, everything it may write kept under ``home``."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "TMPDIR": str(home),
        "LANG": "C.UTF-8",
        "KUBECONFIG": str(home / "no-kubeconfig"),
        "HELM_CACHE_HOME": str(home / "helm-cache"),
        "HELM_CONFIG_HOME": str(home / "helm-config"),
        "HELM_DATA_HOME": str(home / "helm-data"),
    }
    return env


def run(
    cmd: list[str],
    *,
    what: str,
    cwd: Path,
    env: dict[str, str],
    scratch: Path,
    root: Path,
    timeout: float = RENDER_TIMEOUT_S,
) -> str:
    """Run ``cmd`` and return its standard output.

    ``what`` names the job in errors ("kustomize build apps/web"). ``scratch`` is a folder for the
    output files; ``root`` (the checkout) is shortened to ``.`` in error messages, which are about
    repository paths, not where the cache happens to be. Raises :class:`RenderError` on a non-zero
    exit (with the tool's own message), a timeout or too much output.
    """
    out_path, err_path = scratch / "stdout", scratch / "stderr"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        try:
            proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        except OSError as error:
            raise RenderError(f"{what}: cannot run {cmd[0]}: {error.strerror}") from None
        deadline = time.monotonic() + timeout
        problem = None
        while proc.poll() is None:
            if time.monotonic() > deadline:
                problem = f"did not finish within {timeout:.0f}s"
            elif out_path.stat().st_size > MAX_OUTPUT_BYTES or err_path.stat().st_size > MAX_OUTPUT_BYTES:
                problem = f"printed more than {MAX_OUTPUT_BYTES} bytes"
            if problem:
                proc.kill()
                proc.wait()
                raise RenderError(f"{what} {problem} and was stopped")
            time.sleep(0.02)
    if out_path.stat().st_size > MAX_OUTPUT_BYTES:
        raise RenderError(f"{what} printed more than {MAX_OUTPUT_BYTES} bytes")
    if proc.returncode != 0:
        message = _shorten(err_path.read_bytes().decode("utf-8", "replace"), root=root, scratch=scratch)
        raise RenderError(f"{what} failed (exit code {proc.returncode}):\n{message or '(no message)'}")
    try:
        return out_path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise RenderError(f"{what} printed output that is not UTF-8") from None


def _shorten(text: str, *, root: Path, scratch: Path) -> str:
    text = text.strip().replace(f"{root}/", "").replace(str(root), ".").replace(str(scratch), "<tmp>")
    return text if len(text) <= _STDERR_SHOWN else "..." + text[-_STDERR_SHOWN:]
