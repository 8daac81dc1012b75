"""A local Kubernetes control plane: the test harness and ``plumb local up|down|status``."""

from plumbline.local.controlplane import ControlPlane
from plumbline.local.user import LocalStatus, local_dir, local_down, local_status, local_up

__all__ = ["ControlPlane", "LocalStatus", "local_dir", "local_down", "local_status", "local_up"]
