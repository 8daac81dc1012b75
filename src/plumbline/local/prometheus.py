"""A real Prometheus on loopback, and a metrics endpoint whose values the caller sets.

For tests of metric checks (issue 13's verification window) and demos: :class:`Prometheus` runs the
``prometheus`` binary of the prometheus kit with a static scrape configuration, answers PromQL instant
queries (:meth:`Prometheus.query`), and can be pointed at other targets while it runs
(:meth:`Prometheus.scrape`). :class:`Exporter` serves counters in the Prometheus text format from a
thread of this process; the caller changes them with :meth:`Exporter.set`.

Like the control plane, a Prometheus dies with the process that started it, and its folder is removed
when it stops (or, if that process was killed, by the next ``Prometheus.temporary``).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.exposition import start_http_server

from plumbline import toolchain
from plumbline.errors import ControlPlaneError
from plumbline.local.controlplane import (
    Component,
    Server,
    free_port,
    http_ok,
    owned_temporary_folder,
    spawn,
    stop_process,
    wait_ready,
)
from plumbline.verify import QueryError, Sample, query

READY_TIMEOUT_S = 60.0
SCRAPE_INTERVAL_S = 1.0
JOB = "plumbline-test"
TEMP_PREFIX = "plumbline-prom-"


class PrometheusError(ControlPlaneError):
    """Prometheus answered a query with an error, or could not be asked."""


@dataclass
class Prometheus(Server):
    """One Prometheus server in ``directory``, scraping ``targets`` (``host:port``) every ``interval``."""

    directory: Path
    targets: list[str] = field(default_factory=list)
    interval: float = SCRAPE_INTERVAL_S
    ready_timeout: float = READY_TIMEOUT_S
    remove_directory: bool = False
    port: int | None = None
    _process: Component | None = None

    @classmethod
    @contextlib.contextmanager
    def temporary(cls, targets: Iterable[str] = (), **kwargs: Any) -> Iterator[Prometheus]:
        """A Prometheus in a fresh temporary folder, stopped and removed when the block ends."""
        directory = owned_temporary_folder(TEMP_PREFIX)
        with cls(directory=directory, targets=list(targets), remove_directory=True, **kwargs) as server:
            yield server

    @property
    def pid(self) -> int:
        if self._process is None:
            raise PrometheusError("Prometheus has not been started")
        return self._process.process.pid

    @property
    def url(self) -> str:
        if self.port is None:
            raise PrometheusError("Prometheus has not been started")
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        binary = toolchain.binary("prometheus")
        self.directory.mkdir(parents=True, exist_ok=True)
        self._write_config()
        self.port = free_port()
        self._process = spawn(
            "prometheus",
            [
                str(binary),
                f"--config.file={self.directory / 'prometheus.yml'}",
                f"--storage.tsdb.path={self.directory / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--web.enable-lifecycle",  # POST /-/reload, for scrape()
                "--log.level=warn",
            ],
            self.directory,
        )
        try:
            wait_ready(
                self._process,
                time.monotonic() + self.ready_timeout,
                lambda: http_ok(f"{self.url}/-/ready", b"Ready"),
                timeout=self.ready_timeout,
            )
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self._process is not None:
            stop_process(self._process)
            self._process = None
        if self.remove_directory:
            shutil.rmtree(self.directory, ignore_errors=True)

    def scrape(self, targets: Iterable[str]) -> None:
        """Scrape ``targets`` from now on (the configuration is rewritten and reloaded)."""
        self.targets = list(targets)
        self._write_config()
        request = urllib.request.Request(f"{self.url}/-/reload", method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                response.read()
        except (urllib.error.URLError, OSError) as error:
            raise PrometheusError(
                f"Prometheus at {self.url} did not reload its configuration: {error}"
            ) from None

    def query(self, promql: str) -> list[Sample]:
        """Evaluate ``promql`` now (an instant query, :func:`plumbline.verify.query`): one
        :class:`Sample` per series. A query Prometheus refuses raises :class:`PrometheusError`, with
        its reason."""
        try:
            return query(self.url, promql)
        except QueryError as error:
            raise PrometheusError(str(error)) from None

    def wait_for(self, promql: str, value: float, *, timeout: float = 30.0) -> list[Sample]:
        """Query until some series of ``promql`` has ``value`` (scrapes are periodic); the last answer."""
        deadline = time.monotonic() + timeout
        while True:
            samples = self.query(promql)
            if any(s.value == value for s in samples):
                return samples
            if time.monotonic() > deadline:
                raise PrometheusError(
                    f"query {promql!r} did not reach {value} within {timeout:.0f}s; it says {samples}"
                )
            time.sleep(self.interval / 2)

    def _write_config(self) -> None:
        seconds = f"{self.interval:g}s"
        config = {
            "global": {"scrape_interval": seconds, "evaluation_interval": seconds},
            "scrape_configs": [{"job_name": JOB, "static_configs": [{"targets": self.targets}]}],
        }
        # JSON is YAML; written whole then renamed, so a reload never reads half a file.
        staged = self.directory / "prometheus.yml.new"
        staged.write_text(json.dumps(config, indent=2) + "\n")
        staged.replace(self.directory / "prometheus.yml")


class Exporter:
    """Counters on ``http://127.0.0.1:<port>/metrics`` whose values the caller sets.

    ``set("http_requests", 5, code="500")`` serves ``http_requests_total{code="500"} 5.0``. Values
    may go down too (a test may "restart" the counter); Prometheus' ``rate`` treats that as a reset.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
        self._registry = CollectorRegistry(auto_describe=False)
        self._registry.register(self)
        # Port 0: the kernel picks a free one, with no window for another process to take it.
        self._server, self._thread = start_http_server(0, addr="127.0.0.1", registry=self._registry)
        self.port = int(self._server.server_port)

    @property
    def target(self) -> str:
        """What Prometheus scrapes: ``host:port``."""
        return f"127.0.0.1:{self.port}"

    def set(self, name: str, value: float, **labels: str) -> None:
        with self._lock:
            self._values.setdefault(name, {})[tuple(sorted(labels.items()))] = float(value)

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            snapshot = {name: dict(series) for name, series in self._values.items()}
        for name, series in snapshot.items():
            keys = sorted({key for labels in series for key, _ in labels})
            family = CounterMetricFamily(name, f"{name}, set by the test", labels=keys)
            for labels, value in series.items():
                given: Mapping[str, str] = dict(labels)
                family.add_metric([given.get(key, "") for key in keys], value)
            yield family

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Exporter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
