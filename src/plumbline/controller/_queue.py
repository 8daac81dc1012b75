"""The controller's work queue of app names, as client-go's workqueue keeps one: first in, first out,
deduplicated, and never handing one app to two workers at once.

* ``dirty`` — the apps asked for and not yet started (each with when it was first asked for);
* ``processing`` — the apps a worker is reconciling now.

An app asked for while it is waiting is not queued twice (a flood of events for one app is one pass,
so it cannot starve the others: they keep their place in the line). An app asked for while a worker
is reconciling it is not handed to another worker: it goes to the back of the line when that pass is
:meth:`done`, once, however many times it was asked for meanwhile.

A :class:`Round` is a full pass over the apps: every app the poll enqueued, until each has been
reconciled once by a pass that started after the poll (a pass already running then does not count:
it may have read the state from before). Pure logic with an injected clock: tested without threads.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Taken:
    """An app a worker took from the queue, and how long it waited there."""

    name: str
    waited_s: float
    started: float  # the clock when it was taken


class WorkQueue:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._line: deque[str] = deque()
        self._dirty: dict[str, float] = {}  # app -> when it was asked for (the first time)
        self._processing: set[str] = set()
        self._changed = threading.Condition()
        self._closed = False

    def add(self, name: str) -> bool:
        """Ask for a pass over ``name``; False if one is already waiting (nothing changes)."""
        with self._changed:
            if name in self._dirty:
                return False
            self._dirty[name] = self._clock()
            if name not in self._processing:
                self._line.append(name)
                self._changed.notify()
            return True

    def get(self, timeout: float | None = None) -> Taken | None:
        """The app first in line, now being processed; None if none came within ``timeout`` seconds
        (0: do not wait) or the queue is closed."""
        with self._changed:
            if not self._line and not self._closed and timeout != 0:
                self._changed.wait_for(lambda: bool(self._line) or self._closed, timeout)
            if self._closed or not self._line:
                return None
            name = self._line.popleft()
            asked = self._dirty.pop(name)
            self._processing.add(name)
            moment = self._clock()
            return Taken(name=name, waited_s=max(0.0, moment - asked), started=moment)

    def done(self, name: str) -> None:
        """The pass over ``name`` is over; if it was asked for again meanwhile, it goes in line now."""
        with self._changed:
            self._processing.discard(name)
            if name in self._dirty:
                self._line.append(name)
                self._changed.notify()

    def close(self) -> None:
        """Wake every waiting worker; :meth:`get` returns None from now on."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def depth(self) -> int:
        """Apps asked for and not started (an app being processed and asked for again counts)."""
        with self._changed:
            return len(self._dirty)

    def busy(self) -> int:
        """Apps being processed now."""
        with self._changed:
            return len(self._processing)

    def idle(self) -> bool:
        """Nothing waiting and nothing being processed."""
        with self._changed:
            return not self._dirty and not self._processing


@dataclass
class Round:
    """One full round: started when the poll enqueued ``apps``; over when each has had a pass that
    started at or after ``started``."""

    started: float
    waiting: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, apps: Iterable[str], *, started: float) -> Round:
        return cls(started=started, waiting=set(apps))

    def passed(self, taken: Taken) -> bool:
        """Count ``taken``'s pass (over now); True when it was the last one the round waited for."""
        if taken.started >= self.started:
            self.waiting.discard(taken.name)
        return not self.waiting
