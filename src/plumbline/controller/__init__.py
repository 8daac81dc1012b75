"""The controller: continuous reconciliation along the automation gradient, break-glass pauses,
one writer per app through Kubernetes Leases, an audit trail, metrics and webhooks.

    engine.sync_app(app, cluster=cluster, store=store)   # takes the app's lease itself, only to write

    controller = Controller(config=lambda: load_config(path), store=store, settings=Settings(identity=...))
    outcomes = controller.run_once()   # or controller.run() until controller.stop()
"""

from plumbline.controller._lease import (
    LEASE_DURATION_S,
    LEASE_NAMESPACE,
    LeaseHeldError,
    LeaseInfo,
    app_lease,
    default_identity,
    read_lease,
    release,
    try_acquire,
)
from plumbline.controller._loop import Controller, Outcome, Result, Settings, effective_mode
from plumbline.controller._metrics import Metrics
from plumbline.controller._notify import Notice, NoticeKind, Notifier
from plumbline.controller._pause import (
    PauseError,
    activate,
    end_pause,
    parse_duration,
    pause,
    write_refusal,
)

__all__ = [
    "LEASE_DURATION_S",
    "LEASE_NAMESPACE",
    "Controller",
    "LeaseHeldError",
    "LeaseInfo",
    "Metrics",
    "Notice",
    "NoticeKind",
    "Notifier",
    "Outcome",
    "PauseError",
    "Result",
    "Settings",
    "activate",
    "app_lease",
    "default_identity",
    "effective_mode",
    "end_pause",
    "parse_duration",
    "pause",
    "read_lease",
    "release",
    "try_acquire",
    "write_refusal",
]
