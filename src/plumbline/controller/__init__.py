"""The controller: continuous reconciliation along the automation gradient, break-glass pauses,
one writer per app through Kubernetes Leases, an audit trail, metrics and webhooks.

    engine.sync_app(app, cluster=cluster, store=store)   # takes the app's lease itself, only to write

    controller = Controller(config=lambda: load_config(path), store=store, settings=Settings(identity=...))
    outcomes = controller.run_once()   # or controller.run() until controller.stop()

What a pass does is decided by a pure function, :func:`decide` (module ``decide``: a
:class:`Situation` in, a :class:`Decision` out); the scheduler (``Controller``) gathers the situation
and carries the decision out; docs/controller.md has the decision table.
"""

from plumbline.controller._anchor import verify as verify_anchor
from plumbline.controller._drift import drift_of
from plumbline.controller._http import serve
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
from plumbline.controller._log import log
from plumbline.controller._log import setup as setup_logging
from plumbline.controller._loop import Controller
from plumbline.controller._metrics import Metrics
from plumbline.controller._model import Outcome, Settings, effective_mode
from plumbline.controller._notify import Notice, NoticeKind, Notifier
from plumbline.controller._pause import (
    PauseError,
    activate,
    end_pause,
    parse_duration,
    pause,
    write_refusal,
)
from plumbline.controller._readiness import Readiness, readiness
from plumbline.controller.decide import Decision, Result, Rules, Situation, Step, decide

__all__ = [
    "LEASE_DURATION_S",
    "LEASE_NAMESPACE",
    "Controller",
    "Decision",
    "LeaseHeldError",
    "LeaseInfo",
    "Metrics",
    "Notice",
    "NoticeKind",
    "Notifier",
    "Outcome",
    "PauseError",
    "Readiness",
    "Result",
    "Rules",
    "Settings",
    "Situation",
    "Step",
    "activate",
    "app_lease",
    "decide",
    "default_identity",
    "drift_of",
    "effective_mode",
    "end_pause",
    "log",
    "parse_duration",
    "pause",
    "read_lease",
    "readiness",
    "release",
    "serve",
    "setup_logging",
    "try_acquire",
    "verify_anchor",
    "write_refusal",
]
