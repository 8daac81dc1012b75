"""kubectl, built from the pinned kubernetes kit like the control plane, run against it."""

from __future__ import annotations

import subprocess

from plumbline.local import ControlPlane
from plumbline.toolchain import binary


def kubectl(plane: ControlPlane, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """``kubectl args...`` with the control plane's kubeconfig; the finished process (never raises on
    a non-zero exit: tests look at it)."""
    return subprocess.run(
        [str(binary("kubectl")), f"--kubeconfig={plane.kubeconfig}", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )
