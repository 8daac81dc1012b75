"""The controller's scheduler: every configured app reconciled per its mode, one writer per app.

Passes are queued by a Git poll per app (``interval_s``), by watches on the objects each app manages
(label ``plumbline.dev/app=<app>``, per kind of its last synced and planned desired state) and by
webhooks (``enqueue``). A pass over one app (:meth:`Controller.reconcile`) holds the app's owner
Lease within this replica's fair share (``_share.py``) or leaves the app to the replica that does, then
runs :class:`~plumbline.controller._pass.Reconciler`: the situation gathered, the pure decision
(``decide.py``: pause, pending, the mode's rule, backoff, fights) carried out through the engine's
write path, and what happened told by the one recorder (``_record.py``).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

from plumbline.cluster import Cluster
from plumbline.config import App, Config
from plumbline.controller import _anchor
from plumbline.controller import _record as said
from plumbline.controller._health import ApiHealth, Monitor
from plumbline.controller._log import log
from plumbline.controller._metrics import Metrics
from plumbline.controller._model import Outcome, Settings
from plumbline.controller._notify import Notifier
from plumbline.controller._operate import OPERATION_POLL_S, Operator, requested
from plumbline.controller._pass import Reconciler
from plumbline.controller._record import Recorder
from plumbline.controller._share import Share
from plumbline.controller._status import Located, StatusWriter
from plumbline.controller._watch import Watcher
from plumbline.controller.decide import Result
from plumbline.engine import effective_mode
from plumbline.errors import PlumbError
from plumbline.store import Store


class Controller:
    def __init__(
        self,
        *,
        config: Callable[[], Config],
        store: Store,
        settings: Settings,
        metrics: Metrics | None = None,
        notifier: Notifier | None = None,
        apps_in: Cluster | None = None,
    ) -> None:
        """``apps_in``: the cluster the configuration is read from (``--config cluster:NAMESPACE``);
        each App's status is written there after every pass."""
        self._load_config = config
        self.store = store
        self.settings = settings
        self.metrics = metrics or Metrics()
        self.health = ApiHealth()
        self.config = config()
        self.recorder = Recorder(
            store=store,
            identity=settings.identity,
            metrics=self.metrics,
            notifier=notifier or Notifier(),
            objects=lambda app: self.reconciler.desired.get(app, []),
        )
        self.reconciler = Reconciler(store=store, settings=settings, recorder=self.recorder)
        self.metrics.renders(self.reconciler.renders)
        self.operator = Operator(store=store, settings=settings)
        if apps_in is not None:
            self.recorder.status = StatusWriter(apps_in, store=store, locate=self.locate)
        self.share = Share(
            settings,
            on_taken=lambda app: self.recorder.record(said.lease_taken(app, settings.identity)),
            on_unheld=self._unheld,
        )
        self._queue: queue.Queue[str] = queue.Queue()
        self._queued: set[str] = set()
        self._queue_lock = threading.Lock()
        self._stop = threading.Event()
        self._watchers: dict[str, Watcher] = {}
        self._anchor_broken: str | None = None

    @property
    def notifier(self) -> Notifier:
        return self.recorder.notifier

    @notifier.setter
    def notifier(self, notifier: Notifier) -> None:
        self.recorder.notifier = notifier

    def locate(self, name: str) -> Located | None:
        """Where App ``name`` lives in the cluster (None: it was read from a file, or is gone)."""
        app = self.config.apps.get(name)
        if app is None or app.metadata.namespace is None:
            return None
        origin = self.config.origin(app)
        project = self.config.project(app.spec.project)
        generation = origin.generation if origin is not None else None
        return Located(app=app, project=project, namespace=app.metadata.namespace, generation=generation)

    def _unheld(self, name: str, seconds: float) -> None:
        """``name`` has been seen without a holder for ``seconds`` (0: it has one now)."""
        app = self.config.apps.get(name)
        period = self.settings.lease_duration_s
        if app is not None:
            self.recorder.unheld(app, self.share.cluster_for(app), seconds, period=period)

    def cluster_for(self, app: App) -> Cluster:
        return self.share.cluster_for(app)

    def clusters(self) -> list[Cluster]:
        """The API servers the configured apps live on, one each."""
        return self.share.clusters([app for _, app in sorted(self.config.apps.items())])

    def holds(self, app: App, cluster: Cluster) -> bool:
        """Take or renew ``app``'s owner Lease within this replica's fair share (see ``_share.py``)."""
        return self.share.holds(app, cluster, sorted(self.config.apps))

    def file_anchor(self) -> None:
        """File the audit trail's head in each cluster (``_anchor.py``); an anchor there that no
        longer matches the trail (newest records removed) is kept, and logged as an error once."""
        try:
            clusters = self.clusters()
        except PlumbError as error:
            log(logging.WARNING, f"cannot file the audit anchor: {error}")
            return
        for cluster in clusters:
            broken = _anchor.publish(cluster, self.store, namespace=self.settings.lease_namespace)
            if broken is not None and broken.why != self._anchor_broken:
                log(
                    logging.ERROR,
                    f"the audit trail no longer matches its anchor in "
                    f"{_anchor.where(self.settings.lease_namespace)}: {broken.why}; "
                    "left in place as evidence (plumb audit verify --cluster)",
                )
            self._anchor_broken = broken.why if broken is not None else None

    def healthy(self) -> tuple[bool, str]:
        """(True, ...) if every API server the apps live on is ready (etcd included), else why not."""
        try:
            answers = [self.health.check(cluster) for cluster in self.clusters()]
        except PlumbError as error:
            return False, str(error)
        bad = [why for ok, why in answers if not ok]
        return (False, "; ".join(bad)) if bad else (True, "ok")

    def enqueue(self, app: str) -> None:
        """Ask for a pass over ``app`` soon (deduplicated: a queued app is queued once)."""
        with self._queue_lock:
            if app in self._queued:
                return
            self._queued.add(app)
        self._queue.put(app)
        self.metrics.queue_depth.set(self._queue.qsize())

    def stop(self) -> None:
        self._stop.set()

    @property
    def stopping(self) -> bool:
        """Asked to stop (``/readyz`` answers 503 from then on)."""
        return self._stop.is_set()

    def close(self) -> None:
        self.notifier.close()
        for watcher in self._watchers.values():
            watcher.stop()
        self.share.close()

    def reconcile(self, app: App) -> Outcome:
        """One pass over ``app``; never raises for the app's own trouble (reported in the outcome)."""
        mode = effective_mode(app, self.store)
        state = self.store.app_state(app.name)
        outcome = Outcome(app=app.name, mode=mode, state=state.state, result=Result.ERROR)
        started = time.monotonic()
        try:
            cluster = self.cluster_for(app)
            if not self.holds(app, cluster):
                outcome.result = Result.NOT_HOLDER
                return outcome
            if (due := self.operator.due(cluster, app)) is not None:
                self.operator.carry_out(app, cluster, self.config, *due)  # a person's request first
                mode = effective_mode(app, self.store)  # the operation may have changed it
            self.recorder.config_mode(app, mode)
            outcome = self.reconciler.reconcile(app, cluster, mode, self.config)
            self._watch(app, cluster)
        except PlumbError as error:
            outcome.result, outcome.message = Result.ERROR, str(error)
            self.recorder.record(said.reconcile_failed(app.name, error))
        finally:
            self.recorder.passed(outcome, seconds=time.monotonic() - started)
        return outcome

    def run_once(self) -> list[Outcome]:
        """One pass over every configured app, in name order."""
        self.config = self._load_config()
        self.recorder.loaded(self.config)
        outcomes = [self.reconcile(app) for _, app in sorted(self.config.apps.items())]
        self.file_anchor()
        return outcomes

    def run(self) -> None:
        """Until :meth:`stop`: poll every app each ``interval_s``, and reconcile what is queued."""
        monitor = Monitor(self.health, self.clusters).start()
        try:
            self._run()
        finally:
            monitor.stop()

    def _run(self) -> None:
        next_poll = next_look = 0.0
        while not self._stop.is_set():
            moment = time.monotonic()
            if moment >= next_poll:
                try:
                    self.config = self._load_config()
                    self.recorder.loaded(self.config)
                except PlumbError as error:
                    log(logging.ERROR, f"config cannot be loaded; keeping the last good one: {error}")
                for name in sorted(self.config.apps):
                    self.enqueue(name)
                self.file_anchor()
                next_poll = moment + self.settings.interval_s
            if moment >= next_look:
                for name in requested(self.clusters, self.config):
                    self.enqueue(name)  # an operation requested on the App: carried out on its pass
                next_look = moment + OPERATION_POLL_S
            try:
                wake = min(next_poll, next_look) - time.monotonic()
                name = self._queue.get(timeout=max(0.05, min(1.0, wake)))
            except queue.Empty:
                continue
            with self._queue_lock:
                self._queued.discard(name)
            self.metrics.queue_depth.set(self._queue.qsize())
            app = self.config.apps.get(name)
            if app is not None:
                self.recorder.record(said.pass_over(self.reconcile(app)))

    def _watch(self, app: App, cluster: Cluster) -> None:
        if not self.settings.watch:
            return
        last = self.store.last_sync(app.name)
        desired = (last.desired if last else []) + self.reconciler.desired.get(app.name, [])
        watcher = self._watchers.get(app.name)
        if watcher is None:
            watcher = Watcher(cluster, app.name, on_change=self.enqueue)
            self._watchers[app.name] = watcher
        watcher.update(desired)
