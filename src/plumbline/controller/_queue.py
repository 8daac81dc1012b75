"""The controller's work queue of app names, as client-go's workqueue keeps one: first in, first out,
deduplicated, and never handing one app to two workers at once.

* ``dirty`` — the apps asked for and not yet started (each with when it was first asked for);
* ``processing`` — the apps a worker is reconciling now.

An app asked for while it is waiting is not queued twice (a flood of events for one app is one pass,
so it cannot starve the others: they keep their place in the line). An app asked for while a worker
is reconciling it is not handed to another worker: it goes to the back of the line when that pass is
:meth:`done`, once, however many times it was asked for meanwhile.

There are two lines, taken in order: the *urgent* one — something happened to the app (a watched
object changed, a push, an operation asked for) — and the *periodic* one, the poll's every interval.
A live edit to one app of a thousand is then reconciled next, not after the poll's round over all of
them (its edit → OutOfSync time is one pass, not a round); an app waiting in the periodic line that
is asked for urgently moves to the urgent one. Each line is first in, first out and deduplicated, so
urgent work is fair between apps too; the periodic line waits only while urgent work is queued.

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
        self._urgent: deque[str] = deque()
        self._line: deque[str] = deque()  # the periodic line
        self._dirty: dict[str, float] = {}  # app -> when it was asked for (the first time)
        self._pressing: set[str] = set()  # dirty apps asked for urgently
        self._processing: set[str] = set()
        self._changed = threading.Condition()
        self._closed = False

    def add(self, name: str, *, urgent: bool = False) -> bool:
        """Ask for a pass over ``name`` (``urgent``: something happened to it, see the module
        docstring); False if one is already waiting in that line or an earlier one (nothing changes)."""
        with self._changed:
            if name in self._pressing or (name in self._dirty and not urgent):
                return False
            self._dirty.setdefault(name, self._clock())
            if urgent:
                self._pressing.add(name)
            if name not in self._processing:
                (self._urgent if urgent else self._line).append(name)  # a stale periodic place is skipped
                self._changed.notify()
            return True

    def _next(self) -> str | None:
        """The first app in line that still waits there (an app moved to the urgent line left a stale
        place in the periodic one)."""
        if self._urgent:
            return self._urgent.popleft()
        while self._line:
            name = self._line.popleft()
            if name in self._dirty and name not in self._pressing and name not in self._processing:
                return name
        return None

    def get(self, timeout: float | None = None) -> Taken | None:
        """The app first in line, now being processed; None if none came within ``timeout`` seconds
        (0: do not wait) or the queue is closed."""
        with self._changed:
            if not (self._urgent or self._line) and not self._closed and timeout != 0:
                self._changed.wait_for(lambda: bool(self._urgent or self._line) or self._closed, timeout)
            name = None if self._closed else self._next()
            if name is None:
                return None
            asked = self._dirty.pop(name)
            self._pressing.discard(name)
            self._processing.add(name)
            moment = self._clock()
            return Taken(name=name, waited_s=max(0.0, moment - asked), started=moment)

    def done(self, name: str) -> None:
        """The pass over ``name`` is over; if it was asked for again meanwhile, it goes in line now."""
        with self._changed:
            self._processing.discard(name)
            if name in self._dirty:
                (self._urgent if name in self._pressing else self._line).append(name)
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
