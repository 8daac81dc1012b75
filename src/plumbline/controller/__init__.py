"""The controller: continuous reconciliation along the automation gradient, one writer per app
through Kubernetes Leases (:mod:`plumbline.engine.lease`), honouring break-glass pauses
(:mod:`plumbline.engine.pause`), with an audit trail, metrics and webhooks.

    engine.sync_app(app, cluster=cluster, store=store)   # takes the app's lease itself, only to write

    controller = Controller(config=lambda: load_config(path), store=store, settings=Settings(identity=...))
    outcomes = controller.run_once()   # or controller.run() until controller.stop()

What a pass does is decided by a pure function, :func:`decide` (module ``decide``: a
:class:`Situation` in, a :class:`Decision` out); the scheduler (``Controller``) gathers the situation
and carries the decision out; docs/controller.md has the decision table.
"""

from plumbline.controller._anchor import verify as verify_anchor
from plumbline.controller._http import serve
from plumbline.controller._log import log
from plumbline.controller._log import setup as setup_logging
from plumbline.controller._loop import Controller
from plumbline.controller._metrics import Metrics
from plumbline.controller._model import KUBE_API_BURST, KUBE_API_QPS, WORKERS, Outcome, Settings
from plumbline.controller._notify import Notice, NoticeKind, Notifier
from plumbline.controller._readiness import Readiness, readiness
from plumbline.controller.decide import Decision, Result, Rules, Situation, Step, decide

__all__ = [
    "KUBE_API_BURST",
    "KUBE_API_QPS",
    "WORKERS",
    "Controller",
    "Decision",
    "Metrics",
    "Notice",
    "NoticeKind",
    "Notifier",
    "Outcome",
    "Readiness",
    "Result",
    "Rules",
    "Settings",
    "Situation",
    "Step",
    "decide",
    "log",
    "readiness",
    "serve",
    "setup_logging",
    "verify_anchor",
]
