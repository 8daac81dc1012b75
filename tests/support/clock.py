"""A clock for pure logic that waits: time moves only when the code under test sleeps."""

from __future__ import annotations


class Clock:
    """Time that moves only when the code under test sleeps (``sleep`` records each wait)."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
