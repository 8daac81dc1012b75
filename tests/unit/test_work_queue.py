"""The controller's work queue (client-go's workqueue semantics) and its rounds, as pure logic with an
injected clock; one test with real threads counts that no app is ever in two passes at once."""

from __future__ import annotations

import threading
from collections import Counter

from plumbline.controller._queue import Round, Taken, WorkQueue


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def take(queue: WorkQueue) -> Taken:
    taken = queue.get(timeout=0)
    assert taken is not None
    return taken


def test_first_in_first_out_and_an_app_waiting_is_queued_once() -> None:
    queue = WorkQueue(clock=Clock())
    assert queue.add("a") and queue.add("b")
    for _ in range(100):
        assert not queue.add("a")  # a flood of events for one app: still one pass, in its place
    assert queue.add("c")
    assert queue.depth() == 3
    assert [take(queue).name for _ in range(3)] == ["a", "b", "c"]
    assert queue.get(timeout=0) is None


def test_an_app_asked_for_during_its_pass_waits_for_it_and_runs_once_after() -> None:
    queue = WorkQueue(clock=Clock())
    queue.add("a")
    queue.add("b")
    first = take(queue)
    assert first.name == "a"
    queue.add("a")
    queue.add("a")  # asked for twice during its pass: one more pass
    assert take(queue).name == "b"
    assert queue.get(timeout=0) is None  # "a" is being processed: not handed to a second worker
    assert queue.depth() == 1
    queue.done("a")
    assert take(queue).name == "a"
    assert queue.get(timeout=0) is None
    queue.done("a")
    queue.done("b")
    assert queue.idle()


def test_the_wait_is_from_the_first_ask_to_the_start() -> None:
    clock = Clock()
    queue = WorkQueue(clock=clock)
    queue.add("a")
    clock.now += 3.0
    queue.add("a")  # deduplicated: the wait still counts from the first ask
    clock.now += 2.0
    taken = take(queue)
    assert taken.waited_s == 5.0
    assert taken.started == clock.now


def test_an_app_behind_a_busy_one_is_not_starved() -> None:
    queue = WorkQueue(clock=Clock())
    for name in ("hot", "b", "c"):
        queue.add(name)
    order = []
    for _ in range(3):
        taken = take(queue)
        order.append(taken.name)
        queue.add("hot")  # every pass sees another event for "hot"
        queue.done(taken.name)
    assert order == ["hot", "b", "c"]  # "hot" goes to the back of the line each time
    assert take(queue).name == "hot"


def test_close_wakes_a_waiting_worker() -> None:
    queue = WorkQueue()
    got: list[Taken | None] = []
    worker = threading.Thread(target=lambda: got.append(queue.get(timeout=None)))
    worker.start()
    queue.close()
    worker.join()
    assert got == [None]
    assert not worker.is_alive()


def test_a_round_ends_when_every_app_has_had_a_pass_that_started_after_it() -> None:
    clock = Clock()
    queue = WorkQueue(clock=clock)
    queue.add("a")
    running = take(queue)  # a pass over "a" already under way when the round starts
    clock.now += 1.0
    round_ = Round.of(["a", "b"], started=clock())
    queue.add("a")
    queue.add("b")
    b = take(queue)
    assert not round_.passed(running)  # started before the round: it may have read the old state
    queue.done("a")
    assert not round_.passed(b)
    queue.done("b")
    again = take(queue)
    assert again.name == "a"
    assert round_.passed(again)


def test_workers_never_hold_one_app_twice() -> None:
    queue = WorkQueue()
    apps = [f"app-{n}" for n in range(5)]
    inside: Counter[str] = Counter()
    most: Counter[str] = Counter()
    passes: Counter[str] = Counter()
    lock = threading.Lock()

    def worker() -> None:
        while (taken := queue.get(timeout=0.2)) is not None:
            with lock:
                inside[taken.name] += 1
                most[taken.name] = max(most[taken.name], inside[taken.name])
            for name in apps:  # events for every app, during every pass
                queue.add(name)
            with lock:
                inside[taken.name] -= 1
                passes[taken.name] += 1
                stop = sum(passes.values()) >= 400
            queue.done(taken.name)
            if stop:
                queue.close()

    for name in apps:
        queue.add(name)
    workers = [threading.Thread(target=worker) for _ in range(4)]
    for each in workers:
        each.start()
    for each in workers:
        each.join()
    assert set(most.values()) == {1}
    assert set(passes) == set(apps)
    assert min(passes.values()) >= 50  # fair: no app starved by the others' events


def test_an_app_something_happened_to_goes_before_the_polls_round() -> None:
    """A live edit to one app of many is reconciled next, not after the round over all of them; an app
    waiting for the round that is asked for urgently moves up once (never two passes), and urgent
    work is first in, first out between apps as well."""
    queue = WorkQueue(clock=Clock())
    for name in ["a", "b", "c", "d"]:
        assert queue.add(name)  # the poll
    assert queue.add("x", urgent=True)
    assert queue.add("c", urgent=True)  # waiting in the round: moves to the urgent line
    assert not queue.add("c", urgent=True) and not queue.add("c")
    assert queue.depth() == 5
    assert [take(queue).name for _ in range(5)] == ["x", "c", "a", "b", "d"]
    assert queue.get(timeout=0) is None
    queue.add("a", urgent=True)  # asked for during its pass: after it, in the urgent line
    queue.add("e")
    queue.done("a")
    assert [take(queue).name for _ in range(2)] == ["a", "e"]
