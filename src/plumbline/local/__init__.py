"""A local Kubernetes control plane: the test harness and ``plumb local up|down|status``.

``ControlPlane`` runs etcd, kube-apiserver and kube-controller-manager; ``kwok.start_nodes`` adds
kube-scheduler and KWOK's simulated nodes; ``prometheus`` runs a real Prometheus and a metrics exporter
whose values a test sets.
"""

from plumbline.local.controlplane import ControlPlane
from plumbline.local.kwok import TOLERATION, Fault, SimulatedNodes, start_nodes
from plumbline.local.prometheus import Exporter, Prometheus, PrometheusError
from plumbline.local.user import DEFAULT_NODES, LocalStatus, local_dir, local_down, local_status, local_up
from plumbline.verify import Sample

__all__ = [
    "DEFAULT_NODES",
    "TOLERATION",
    "ControlPlane",
    "Exporter",
    "Fault",
    "LocalStatus",
    "Prometheus",
    "PrometheusError",
    "Sample",
    "SimulatedNodes",
    "local_dir",
    "local_down",
    "local_status",
    "local_up",
    "start_nodes",
]
