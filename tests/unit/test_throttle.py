"""The client-side token bucket (client-go's QPS and Burst) as pure arithmetic: an injected clock,
and a sleep that only moves that clock."""

from __future__ import annotations

import pytest

from plumbline.cluster.throttle import Limits, TokenBucket
from tests.support.clock import Clock


def bucket(qps: float, burst: int, clock: Clock) -> TokenBucket:
    return TokenBucket(Limits(qps=qps, burst=burst), clock=clock, sleep=clock.sleep)


def test_a_full_bucket_lets_the_burst_through_at_once_then_spaces_requests_by_one_over_qps() -> None:
    clock = Clock()
    limiter = bucket(10.0, 3, clock)
    for _ in range(3):
        limiter.take()
    assert clock.slept == []
    for _ in range(4):
        limiter.take()
    assert clock.slept == pytest.approx([0.1] * 4)
    assert (limiter.taken, limiter.waits) == (7, 4)
    assert limiter.waited_s == pytest.approx(0.4)


def test_the_bucket_refills_at_qps_up_to_the_burst() -> None:
    clock = Clock()
    limiter = bucket(2.0, 4, clock)
    for _ in range(4):
        assert limiter.reserve() == 0.0
    clock.now += 1.0  # two tokens back
    assert limiter.reserve() == 0.0
    assert limiter.reserve() == 0.0
    assert limiter.reserve() == pytest.approx(0.5)
    clock.now += 3600.0  # a long lull refills only up to the burst
    assert [limiter.reserve() for _ in range(5)] == pytest.approx([0.0, 0.0, 0.0, 0.0, 0.5])


def test_callers_at_once_are_told_to_wait_in_the_order_they_asked() -> None:
    clock = Clock()
    limiter = bucket(4.0, 1, clock)
    # Five threads asking at the same moment: each reservation waits a quarter second longer.
    assert [limiter.reserve() for _ in range(5)] == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0])


def test_qps_zero_or_less_means_no_limit() -> None:
    assert Limits(qps=0, burst=10).unlimited
    assert Limits(qps=-1, burst=10).unlimited
    with pytest.raises(ValueError):
        TokenBucket(Limits(qps=0, burst=10))
