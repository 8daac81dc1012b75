"""The controller's scheduler: every configured app reconciled per its mode, one writer per app.

Passes are queued by a Git poll per app (``interval_s``), by the watches of one
:class:`~plumbline.cluster.cache.LiveCache` per API server (every kind the apps' prune scans list,
label ``plumbline.dev/app``: an event queues the apps it names; passes read their live objects from
it) and by webhooks (``enqueue``), into one :class:`~plumbline.controller._queue.WorkQueue`: first
in, first out, deduplicated, an app never handed to two workers at once, what happened to an app
(an event, a push, an operation) before the poll's round. ``settings.workers``
threads take apps from it (``run_once`` too). A pass over one app (:meth:`Controller.reconcile`)
holds the app's owner Lease within this replica's fair share (``_share.py``) or leaves the app to
the replica that does, then runs :class:`~plumbline.controller._pass.Reconciler`: the situation
gathered, the pure decision (``decide.py``: pause, pending, the mode's rule, backoff, fights)
carried out through the engine's write path, and what happened told by the one recorder
(``_record.py``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from plumbline import engine
from plumbline.cluster import Cluster
from plumbline.cluster.cache import LiveCache
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
from plumbline.controller._queue import Round, Taken, WorkQueue
from plumbline.controller._record import Recorder
from plumbline.controller._share import Share
from plumbline.controller._status import Located, StatusWriter
from plumbline.controller.decide import Result
from plumbline.engine import effective_mode
from plumbline.errors import PlumbError
from plumbline.plan.build import hpa_kind, prune_scan_kinds
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
        each App's status is written there after a pass that changed it."""
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
        self._queue = WorkQueue()
        self._round: Round | None = None
        self._round_lock = threading.Lock()
        self._stop = threading.Event()
        self.metrics.workers.set(self.settings.workers)
        self._caches: dict[Cluster, LiveCache] = {}  # one per API server, started by the first pass
        self._caches_lock = threading.Lock()
        self.reconciler.live = self._caches.get  # passes read the live objects from their server's
        self.metrics.live_caches(self._live_caches)
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

    def enqueue(self, app: str, *, urgent: bool = True) -> None:
        """Ask for a pass over ``app`` soon (deduplicated: a queued app is queued once; one asked for
        while a worker reconciles it has one more pass after that one). Only the poll is not
        ``urgent``: what happened to an app (an event, a push, an operation) goes before the round."""
        self._queue.add(app, urgent=urgent)
        self.metrics.queue_depth.set(self._queue.depth())

    def pushed(self, names: list[str]) -> None:
        """A push to the repositories of apps ``names`` (a webhook): what their revisions resolved to
        is forgotten, and each is queued, so its pass asks Git at once."""
        for name in names:
            app = self.config.apps.get(name)
            if app is not None:
                self.reconciler.refs.forget(app.spec.source.repo_url)
            self.enqueue(name)

    def stop(self) -> None:
        self._stop.set()

    @property
    def stopping(self) -> bool:
        """Asked to stop (``/readyz`` answers 503 from then on)."""
        return self._stop.is_set()

    def close(self) -> None:
        self.notifier.close()
        for cache in self._live_caches():
            cache.close()
        self.share.close()

    def reconcile(self, app: App) -> Outcome:
        """One pass over ``app``; never raises for the app's own trouble (reported in the outcome)."""
        config = self.config  # the configuration this pass reads throughout, should the poll load another
        state = self.store.app_state(app.name)
        mode = effective_mode(app, self.store, state)
        outcome = Outcome(app=app.name, mode=mode, state=state.state, result=Result.ERROR)
        started = time.monotonic()
        try:
            cluster = self.cluster_for(app)
            if not self.holds(app, cluster):
                outcome.result = Result.NOT_HOLDER
                return outcome
            if (due := self.operator.due(cluster, app)) is not None:
                self.operator.carry_out(app, cluster, config, *due)  # a person's request first
                mode = effective_mode(app, self.store)  # the operation may have changed it
            self.recorder.config_mode(app, mode)
            outcome = self.reconciler.reconcile(app, cluster, mode, config)
            self._watch(app, cluster)
        except PlumbError as error:
            outcome.result, outcome.message = Result.ERROR, str(error)
            self.recorder.record(said.reconcile_failed(app.name, error))
        finally:
            self.recorder.passed(outcome, seconds=time.monotonic() - started)
        return outcome

    def run_once(self) -> list[Outcome]:
        """One round: a pass over every configured app by the worker pool; the outcomes in name order."""
        self.config = self._load_config()
        self.recorder.loaded(self.config)
        names = sorted(self.config.apps)
        self._poll(names)
        outcomes: dict[str, Outcome] = {}
        failures: list[BaseException] = []

        def work() -> None:
            try:
                while (taken := self._work(wait=0)) is not None:
                    name, outcome = taken
                    if outcome is not None:
                        outcomes[name] = outcome
            except BaseException as error:  # raised in the caller, as a pass without the pool would
                failures.append(error)

        workers = [
            threading.Thread(target=work, name=f"plumbline-worker-{n}", daemon=True)
            for n in range(1, min(self.settings.workers, len(names)))
        ]
        for worker in workers:
            worker.start()
        work()  # this thread is a worker too
        for worker in workers:
            worker.join()
        if failures:
            raise failures[0]
        self.file_anchor()
        return [outcomes[name] for name in names if name in outcomes]

    def run(self) -> None:
        """Until :meth:`stop`: poll every app each ``interval_s``, and reconcile what is queued."""
        monitor = Monitor(self.health, self.clusters).start()
        try:
            self._run()
        finally:
            monitor.stop()

    def _run(self) -> None:
        """This thread polls (Git each ``interval_s``, requested operations each ``OPERATION_POLL_S``);
        ``settings.workers`` threads reconcile what is queued. On :meth:`stop`, passes under way end."""
        workers = [
            threading.Thread(target=self._worker, name=f"plumbline-worker-{n}", daemon=True)
            for n in range(self.settings.workers)
        ]
        for worker in workers:
            worker.start()
        try:
            self._schedule()
        finally:
            self._queue.close()
            for worker in workers:
                worker.join()

    def _schedule(self) -> None:
        next_poll = next_look = 0.0
        while not self._stop.is_set():
            moment = time.monotonic()
            if moment >= next_poll:
                try:
                    self.config = self._load_config()
                    self.recorder.loaded(self.config)
                except PlumbError as error:
                    log(logging.ERROR, f"config cannot be loaded; keeping the last good one: {error}")
                self._poll(sorted(self.config.apps))
                self.file_anchor()
                next_poll = moment + self.settings.interval_s
            if moment >= next_look:
                for name in requested(self.clusters, self.config):
                    self.enqueue(name)  # an operation requested on the App: carried out on its pass
                next_look = moment + OPERATION_POLL_S
            self._stop.wait(max(0.05, min(next_poll, next_look) - time.monotonic()))

    def _poll(self, names: list[str]) -> None:
        """Queue a pass over every app in ``names``, starting a round unless one is still going (then
        that round waits only for the apps still configured)."""
        self.reconciler.refs.expire()  # each repository's refs asked for once per interval
        with self._round_lock:
            if self._round is None and names:
                self._round = Round.of(names, started=time.monotonic())
            elif self._round is not None:
                self._round.waiting &= set(names)
        for name in names:
            self.enqueue(name, urgent=False)

    def _worker(self) -> None:
        while not self._stop.is_set():
            try:
                self._work(wait=1.0)
            except Exception as error:  # a defect in a pass: logged, and the worker goes on with the next app
                log(logging.ERROR, f"a pass failed unexpectedly: {type(error).__name__}: {error}")

    def _work(self, *, wait: float) -> tuple[str, Outcome | None] | None:
        """Take the app first in line (waiting up to ``wait`` seconds) and reconcile it: its name and
        outcome (None: it left the configuration meanwhile); None if no app came."""
        taken = self._queue.get(timeout=wait)
        if taken is None:
            return None
        self.metrics.queue_depth.set(self._queue.depth())
        self.metrics.queue_wait.observe(taken.waited_s)
        self.metrics.workers_busy.inc()
        try:
            outcome = None
            app = self.config.apps.get(taken.name)
            if app is not None:
                outcome = self.reconcile(app)
                self.recorder.record(said.pass_over(outcome))
            return taken.name, outcome
        finally:
            self.metrics.workers_busy.dec()
            self._queue.done(taken.name)
            self._passed(taken)

    def _passed(self, taken: Taken) -> None:
        """A pass is over: the round ends when it was the last one the round waited for."""
        with self._round_lock:
            if self._round is not None and self._round.passed(taken):
                self.metrics.round_seconds.set(time.monotonic() - self._round.started)
                self.metrics.rounds.inc()
                self._round = None

    def _watch(self, app: App, cluster: Cluster) -> None:
        """Have the cache of ``app``'s API server watch every kind ``app``'s prune scan lists (within
        its Project's bounds), its HorizontalPodAutoscalers and what the kinds' stamps are made of, so
        its next passes read them there."""
        if not self.settings.watch:
            return
        project = self.config.project(app.spec.project)
        kinds = prune_scan_kinds(cluster.discovery, None if project is None else engine.bounds_of(project))
        hpa = hpa_kind(cluster.discovery)
        # Every kind registered under the lock :meth:`watching` reads the caches under: it never sees
        # a cache with some of an app's kinds and not yet the others (the autoscalers, the stamps).
        with self._caches_lock:
            cache = self._caches.get(cluster)
            if cache is None:
                cache = self._caches[cluster] = LiveCache(cluster, on_change=self._changed, log=log)
            cache.watch(kinds)
            if hpa is not None:
                cache.watch_every([hpa])
            cache.watch_stamps()

    def watching(self, timeout: float | None = None) -> bool:
        """Wait until the caches started so far have listed every kind they watch (or found they
        may not); False if none is started yet, or on timeout."""
        caches = self._live_caches()
        return bool(caches) and all(cache.wait_synced(timeout) for cache in caches)

    def _live_caches(self) -> list[LiveCache]:
        with self._caches_lock:
            return list(self._caches.values())

    def _changed(self, apps: frozenset[str]) -> None:
        """A watched object of these apps changed (another installation's apps are not ours)."""
        for name in apps:
            if name in self.config.apps:
                self.enqueue(name)
