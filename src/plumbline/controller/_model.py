"""The controller's settings, the outcome of one pass, and the mode in effect for an app."""

from __future__ import annotations

from dataclasses import dataclass, field

from plumbline.cluster.throttle import Limits
from plumbline.config import Mode
from plumbline.controller.decide import Result, Rules
from plumbline.engine.lease import LEASE_DURATION_S, LEASE_NAMESPACE
from plumbline.plan import SyncStatus
from plumbline.store import AppStateKind
from plumbline.words import KUBE_API_BURST as KUBE_API_BURST
from plumbline.words import KUBE_API_QPS as KUBE_API_QPS
from plumbline.words import WORKERS as WORKERS


@dataclass
class Settings:
    identity: str
    interval_s: float = 30.0
    workers: int = WORKERS  # apps reconciled at once (the worker pool; docs/controller.md)
    kube_api_qps: float = KUBE_API_QPS  # client-side limit per API server (0: none; decision 0025)
    kube_api_burst: int = KUBE_API_BURST
    lease_namespace: str = LEASE_NAMESPACE
    lease_duration_s: int = LEASE_DURATION_S
    watch: bool = True
    fight_limit: int = 3
    fight_window_s: float = 600.0
    backoff_base_s: float = 2.0
    backoff_max_s: float = 300.0
    kubeconfig: str | None = None
    context: str | None = None
    health_timeout_s: float = 300.0  # after a new commit's sync, how long to wait for Healthy
    failure_pause_s: float = 3600.0  # how long a failed verification's pause (onFailure: pause) lasts
    # At least this often (less a jitter of up to a tenth) each app's plan dry-runs every object, none
    # proved unchanged: a webhook's server can change what it does without its configuration changing.
    recheck_every_s: float = 600.0

    @property
    def limits(self) -> Limits:
        """The client-side QPS and burst of every connection the controller makes."""
        return Limits(qps=self.kube_api_qps, burst=self.kube_api_burst)

    @property
    def rules(self) -> Rules:
        return Rules(
            fight_limit=self.fight_limit,
            fight_window_s=self.fight_window_s,
            backoff_base_s=self.backoff_base_s,
            backoff_max_s=self.backoff_max_s,
        )


@dataclass
class Outcome:
    """What one pass over ``app`` found and did (``--once`` prints it, metrics count it)."""

    app: str
    mode: Mode
    state: AppStateKind
    result: Result
    status: SyncStatus = SyncStatus.UNKNOWN
    sha: str = ""
    drift: list[str] = field(default_factory=list)
    message: str = ""
