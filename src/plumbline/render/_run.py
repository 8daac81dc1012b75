"""Running ``helm`` and ``kustomize``: bounded in time and output, isolated from the user's setup.

Each run gets a fresh ``HOME`` (and the Helm folders inside it) in a temporary folder, an empty
``KUBECONFIG`` and only ``PATH`` from the caller's environment: no user configuration, registry
credentials or cluster access can change what a render produces. Unless a render was allowed remote
sources, its network is also cut off: HTTP(S) goes to a proxy address nothing listens on and Git may
use only local repositories, so a remote reference the checks missed fails instead of downloading.
Output goes to files that are watched while the tool runs, so a template that loops forever or
prints gigabytes is stopped.
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


# Port 9 (discard) on loopback: connections are refused at once, so nothing waits for a timeout.
_NO_PROXY_HERE = "http://127.0.0.1:9"
_PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")


def isolated_env(home: Path, *, network: bool = False) -> dict[str, str]:
    """The environment for a render tool, everything it may write kept under ``home``.

    ``network``: only for a render whose remote sources the Project allows; then the caller's proxy
    settings are passed on, and nothing else.
    """
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "TMPDIR": str(home),
        "LANG": "C.UTF-8",
        "KUBECONFIG": str(home / "no-kubeconfig"),
        "HELM_CACHE_HOME": str(home / "helm-cache"),
        "HELM_CONFIG_HOME": str(home / "helm-config"),
        "HELM_DATA_HOME": str(home / "helm-data"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_TERMINAL_PROMPT": "0",
    }
    if network:
        env.update({name: os.environ[name] for name in _PROXY_VARIABLES if name in os.environ})
    else:
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
            env[name] = _NO_PROXY_HERE
        env["GIT_ALLOW_PROTOCOL"] = "file"
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
    failure_output: bool = False,
) -> str:
    """Run ``cmd`` and return its standard output.

    ``what`` names the job in errors ("kustomize build apps/web"). ``scratch`` is a folder for the
    output files; ``root`` (the checkout) is shortened to ``.`` in error messages, which are about
    repository paths, not where the cache happens to be. Raises :class:`RenderError` on a non-zero
    exit (with the tool's own message; with ``failure_output`` also what it printed to standard
    output, where ``helm dependency update`` says why a download failed), a timeout or too much output.
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
        text = err_path.read_bytes().decode("utf-8", "replace")
        if failure_output:
            text = out_path.read_bytes()[-_STDERR_SHOWN:].decode("utf-8", "replace") + "\n" + text
        message = _shorten(text, root=root, scratch=scratch)
        raise RenderError(f"{what} failed (exit code {proc.returncode}):\n{message or '(no message)'}")
    try:
        return out_path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise RenderError(f"{what} printed output that is not UTF-8") from None


def _shorten(text: str, *, root: Path, scratch: Path) -> str:
    text = text.strip().replace(f"{root}/", "").replace(str(root), ".").replace(str(scratch), "<tmp>")
    return text if len(text) <= _STDERR_SHOWN else "..." + text[-_STDERR_SHOWN:]
