"""Running a verification window: measure the app's health and every check each ``interval``
until the window ends or its verdict is forced. What is measured comes in as functions, so the
engine supplies the cluster and a test may supply its own clock."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from plumbline.config import VerificationSpec
from plumbline.health import Health
from plumbline.verify._evaluate import VerificationWatch, check_measurement, health_measurement
from plumbline.verify._model import Measurement, Verification
from plumbline.verify._prometheus import QueryError, Sample, query

Query = Callable[[str, str], Sequence[Sample]]
"""``(prometheus url, promql) → samples``, raising :class:`QueryError`: :func:`query` by default."""


def run_window(
    spec: VerificationSpec,
    *,
    health: Callable[[], Health],
    ask: Query = query,
    on_round: Callable[[Sequence[Measurement]], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Verification:
    """Measure ``health()`` and each of ``spec.checks`` (asked of ``spec.prometheus`` through
    ``ask``) at the start and then every ``spec.interval`` until ``spec.window`` has passed — the last
    round at its end — or a round forces Failed or Inconclusive (:class:`VerificationWatch`).
    ``on_round`` hears each round's measurements as they are taken. A window of 0 is one round."""
    watch = VerificationWatch(spec.checks, on_failure=spec.on_failure)
    window, interval = float(spec.window_s), float(spec.interval_s)
    url = spec.prometheus.url if spec.prometheus is not None else ""
    started = clock()
    while True:
        at = clock() - started
        taken = [health_measurement(health(), at)]
        for check in spec.checks:
            try:
                answer: Sequence[Sample] | QueryError = ask(url, check.query)
            except QueryError as error:
                answer = error
            taken.append(check_measurement(check, answer, at))
        watch.observe(taken)
        if on_round is not None:
            on_round(taken)
        elapsed = clock() - started
        if watch.decided or elapsed >= window:
            return watch.result(window_s=window, elapsed_s=elapsed)
        sleep(min(interval, window - elapsed))
