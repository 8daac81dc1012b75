"""Prometheus metrics of one controller process, in their own registry (tests make several)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from plumbline.cluster.cache import LiveCache, State
from plumbline.config import HealthStatus, VerificationOutcome
from plumbline.controller.decide import Result
from plumbline.plan import SyncStatus
from plumbline.plan.attribution import Attribution
from plumbline.render import RenderCache
from plumbline.store import AppStateKind

if TYPE_CHECKING:
    from plumbline.controller._model import Outcome

# Seconds an app may wait for a worker: from a pass at once to a round of a thousand apps.
WAIT_BUCKETS = (0.005, 0.025, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.sync_status = Gauge(
            "plumbline_app_sync_status", "1 for the app's current sync status", ["app", "status"], registry=r
        )
        self.app_state = Gauge(
            "plumbline_app_state", "1 for the app's break-glass state", ["app", "state"], registry=r
        )
        self.app_health = Gauge(
            "plumbline_app_health",
            "1 for the app's health (the worst of its live objects'), as its last plan read it",
            ["app", "status"],
            registry=r,
        )
        self.app_verification = Gauge(
            "plumbline_app_verification",
            "1 for how the app's last verification window ended",
            ["app", "outcome"],
            registry=r,
        )
        self.verifications = Counter(
            "plumbline_verifications", "verification windows by outcome", ["app", "outcome"], registry=r
        )
        self.drift_changes = Gauge(
            "plumbline_drift_changes",
            "planned changes by attribution class",
            ["app", "attribution"],
            registry=r,
        )
        self.unscanned = Gauge(
            "plumbline_unscanned_kinds",
            "kinds the app's last plan was not allowed to list (its prune or HPA scan is incomplete)",
            ["app"],
            registry=r,
        )
        self.unheld = Gauge(
            "plumbline_app_unheld_seconds",
            "how long this replica has seen the app without a holder (0: held); over the lease "
            "duration, nothing reconciled it meanwhile",
            ["app"],
            registry=r,
        )
        self.reconciles = Counter(
            "plumbline_reconciles", "reconcile passes by result", ["app", "result"], registry=r
        )
        self.reconcile_seconds = Histogram(
            "plumbline_reconcile_duration_seconds", "one reconcile pass (plan included)", ["app"], registry=r
        )
        self.sync_seconds = Histogram(
            "plumbline_sync_duration_seconds", "one sync (plan and apply)", ["app"], registry=r
        )
        self.queue_depth = Gauge("plumbline_reconcile_queue_depth", "apps waiting for a pass", registry=r)
        self.queue_wait = Histogram(
            "plumbline_queue_wait_seconds",
            "how long an app waited in the queue, from being asked for to a worker starting its pass",
            buckets=WAIT_BUCKETS,
            registry=r,
        )
        self.round_seconds = Gauge(
            "plumbline_round_seconds",
            "the last full round: from the poll enqueueing every app until each has had a pass",
            registry=r,
        )
        self.rounds = Counter("plumbline_rounds", "full rounds over every app completed", registry=r)
        self.workers_busy = Gauge("plumbline_workers_busy", "workers reconciling an app now", registry=r)
        self.workers = Gauge("plumbline_workers", "workers in the pool (--workers)", registry=r)
        self.fights = Counter(
            "plumbline_selfheal_fights", "self-heal stopped by a fight", ["app"], registry=r
        )
        self.guard_blocks = Counter(
            "plumbline_guard_blocks", "automated syncs a guard blocked", ["app"], registry=r
        )
        self.pause_expiries = Counter(
            "plumbline_pause_expiries", "pauses that ran out (to active or pending)", ["app"], registry=r
        )
        self.webhooks = Counter(
            "plumbline_webhooks", "webhook deliveries by result", ["provider", "result"], registry=r
        )

    def observe(self, outcome: Outcome, *, seconds: float) -> None:
        app = outcome.app
        self.reconciles.labels(app=app, result=outcome.result.value).inc()
        self.reconcile_seconds.labels(app=app).observe(seconds)
        if outcome.result is Result.NOT_HOLDER:
            return  # another replica reports this app
        for status in SyncStatus:
            self.sync_status.labels(app=app, status=status.value).set(1 if status == outcome.status else 0)
        for state in AppStateKind:
            self.app_state.labels(app=app, state=state.value).set(1 if state == outcome.state else 0)
        for tally in (self.fights, self.guard_blocks, self.pause_expiries):
            tally.labels(app=app)  # a series from the app's first pass: 0, not absent, until it happens

    def health(self, app: str, status: HealthStatus) -> None:
        """The app's health: 1 for ``status``, 0 for every other word."""
        for each in HealthStatus:
            self.app_health.labels(app=app, status=each.value).set(1 if each is status else 0)

    def verified(self, app: str, outcome: VerificationOutcome) -> None:
        """A verification window of the app ended: counted, and its outcome is the app's now."""
        self.verifications.labels(app=app, outcome=outcome.value).inc()
        for each in VerificationOutcome:
            self.app_verification.labels(app=app, outcome=each.value).set(1 if each is outcome else 0)

    def drift(self, app: str, counts: dict[Attribution, int]) -> None:
        """The app's planned changes per attribution class (every class: 0 when the plan has none)."""
        for attribution in Attribution:
            self.drift_changes.labels(app=app, attribution=attribution.value).set(counts.get(attribution, 0))

    def renders(self, cache: RenderCache) -> None:
        """Report ``cache`` (the controller's renders kept per commit) at every scrape."""
        self.registry.register(_RenderCacheCollector(cache))

    def live_caches(self, caches: Callable[[], list[LiveCache]]) -> None:
        """Report the watch-fed caches ``caches()`` gives (one per API server) at every scrape."""
        self.registry.register(_LiveCacheCollector(caches))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _LiveCacheCollector(Collector):
    def __init__(self, caches: Callable[[], list[LiveCache]]) -> None:
        self.caches = caches

    def collect(self) -> Iterator[Metric]:
        caches = self.caches()
        kinds = GaugeMetricFamily(
            "plumbline_live_cache_kinds",
            "kinds the watch-fed caches watch: synced (passes read them from the cache), starting (not "
            "listed yet, or again after a failure) or unavailable (forbidden cluster-wide, or gone: passes "
            "read them from the API server)",
            labels=["state"],
        )
        for state in State:
            kinds.add_metric([state.value], sum(cache.kinds()[state] for cache in caches))
        yield kinds
        yield GaugeMetricFamily(
            "plumbline_live_cache_objects",
            "live objects the watch-fed caches hold",
            value=sum(map(len, caches)),
        )


class _RenderCacheCollector(Collector):
    def __init__(self, cache: RenderCache) -> None:
        self.cache = cache

    def collect(self) -> Iterator[Metric]:
        lookups = CounterMetricFamily(
            "plumbline_render_cache_lookups",
            "renders a pass asked for: hit (kept for the app's commit, not run again) or miss (rendered)",
            labels=["result"],
        )
        for result, count in self.cache.lookups().items():
            lookups.add_metric([result.value], count)
        yield lookups
        yield GaugeMetricFamily("plumbline_render_cache_renders", "renders kept", value=len(self.cache))
