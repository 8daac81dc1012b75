"""Client-side rate limiting, as client-go's ``rest.Config`` QPS and Burst do it: a token bucket that
refills ``qps`` tokens a second and holds at most ``burst``; every request takes one, and waits when
there is none (watch streams take none: one is open for minutes).

:class:`TokenBucket` hands out *reservations*: a caller that finds the bucket empty is told how long
to wait for its token and the bucket goes into debt, so callers on many threads are served in the
order they asked, each waiting once, without spinning. The clock and the sleep are injected: the
arithmetic is tested without waiting.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """``qps`` requests a second on average, ``burst`` at once after a quiet spell; ``qps`` of 0 or
    less: no client-side limit (client-go's QPS -1)."""

    qps: float
    burst: int

    @property
    def unlimited(self) -> bool:
        return self.qps <= 0


class TokenBucket:
    def __init__(
        self,
        limits: Limits,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if limits.unlimited:
            raise ValueError("an unlimited rate needs no token bucket")
        self.qps = limits.qps
        self.burst = max(1, limits.burst)
        self._clock, self._sleep = clock, sleep
        self._tokens = float(self.burst)  # a full bucket: the first ``burst`` requests go at once
        self._at = clock()
        self._lock = threading.Lock()
        self.taken = 0  # tokens taken, one per request
        self.waits = 0  # requests that had to wait for their token
        self.waited_s = 0.0  # the seconds they were told to wait, in all

    def reserve(self) -> float:
        """Take a token; the seconds to wait before using it (0: at once)."""
        with self._lock:
            moment = self._clock()
            self._tokens = min(float(self.burst), self._tokens + (moment - self._at) * self.qps)
            self._at = moment
            self._tokens -= 1.0
            self.taken += 1
            if self._tokens >= 0.0:
                return 0.0
            wait = -self._tokens / self.qps
            self.waits += 1
            self.waited_s += wait
            return wait

    def take(self) -> None:
        """Take a token, waiting for it if the bucket is empty."""
        wait = self.reserve()
        if wait > 0.0:
            self._sleep(wait)
