"""The poll scheduler with real threads: rounds when due, one at a time per bot, few threads."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from bridge import polling
from bridge.polling import PollScheduler


class Key:
    """A bot's rounds: records when each ran and how many of its rounds ran at once."""

    def __init__(self, delay: float, *, body: Callable[[], object] = lambda: None) -> None:
        self.delay, self.body = delay, body
        self.times: list[float] = []
        self._lock = threading.Lock()
        self.running = self.overlap = 0

    def round(self) -> float:
        with self._lock:
            self.running += 1
            self.overlap = max(self.overlap, self.running)
            self.times.append(time.monotonic())
        try:
            self.body()
        finally:
            with self._lock:
                self.running -= 1
        return self.delay


def until(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


@pytest.fixture
def scheduler() -> Iterator[PollScheduler]:
    made = PollScheduler(workers=4, name="test-poller")
    yield made
    made.close()


def test_each_key_runs_at_its_own_interval_and_never_twice_at_once(scheduler: PollScheduler) -> None:
    fast, slow = Key(0.02, body=lambda: time.sleep(0.01)), Key(0.2)
    scheduler.add(fast)
    scheduler.add(slow)
    time.sleep(1.0)
    assert 15 <= len(fast.times) <= 34  # a round every 0.03 s at most (0.01 s running, then 0.02 s)
    assert 3 <= len(slow.times) <= 6
    assert fast.overlap == slow.overlap == 1
    gaps = [b - a for a, b in zip(fast.times, fast.times[1:], strict=False)]
    assert min(gaps) >= 0.029


def test_a_woken_key_runs_now_instead_of_at_its_due_time(scheduler: PollScheduler) -> None:
    key = Key(60.0)
    scheduler.add(key)
    until(lambda: len(key.times) == 1)
    woken = time.monotonic()
    scheduler.wake(key)
    until(lambda: len(key.times) == 2, timeout=1.0)
    assert key.times[1] - woken < 0.1


def test_a_key_woken_during_its_round_runs_again_right_after_it(scheduler: PollScheduler) -> None:
    release = threading.Event()
    key = Key(60.0, body=release.wait)
    scheduler.add(key)
    until(lambda: key.running == 1)
    scheduler.wake(key)
    release.set()
    until(lambda: len(key.times) == 2, timeout=1.0)
    assert key.overlap == 1


def test_a_hanging_round_does_not_hold_up_the_other_keys(scheduler: PollScheduler) -> None:
    release = threading.Event()
    stuck, other = Key(0.01, body=release.wait), Key(0.02)
    scheduler.add(stuck)
    until(lambda: stuck.running == 1)
    scheduler.add(other)
    time.sleep(0.5)
    release.set()
    assert len(other.times) >= 10


def test_rounds_run_on_at_most_workers_threads_and_on_few_when_they_do_not_overlap() -> None:
    gate = threading.Semaphore(0)
    busy = [Key(0.01, body=lambda: gate.acquire(timeout=2)) for _ in range(6)]
    scheduler = PollScheduler(workers=3, name="test-poller")
    try:
        for key in busy:
            scheduler.add(key)
        until(lambda: sum(k.running for k in busy) == 3)
        time.sleep(0.2)
        assert sum(k.running for k in busy) == 3  # three workers, three stuck rounds, no fourth
        assert scheduler.threads == 3
    finally:
        for _ in range(100):
            gate.release()
        scheduler.close()
    quick = [Key(0.05) for _ in range(20)]
    calm = PollScheduler(workers=16, name="test-poller")
    try:
        for key in quick:
            calm.add(key, spread=0.05)
        time.sleep(0.5)
        assert all(len(k.times) >= 5 for k in quick)
        assert calm.threads <= 8  # rounds this short rarely overlap: no thread is started for nothing
    finally:
        calm.close()


def test_remove_waits_for_a_running_round_and_stops_the_key(scheduler: PollScheduler) -> None:
    release = threading.Event()
    key = Key(0.01, body=lambda: release.wait(0.3))
    scheduler.add(key)
    until(lambda: key.running == 1)
    started = time.monotonic()
    scheduler.remove(key)
    assert key.running == 0
    assert time.monotonic() - started > 0.2  # it waited for the round
    count = len(key.times)
    time.sleep(0.2)
    assert len(key.times) == count


def test_a_round_that_raises_is_tried_again(scheduler: PollScheduler, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(polling, "ROUND_FAILED_DELAY", 0.05)

    def fail() -> None:
        raise RuntimeError("broken round")

    key = Key(60.0, body=fail)
    scheduler.add(key)
    until(lambda: len(key.times) >= 3, timeout=2.0)


def test_closing_stops_every_thread_and_refuses_new_keys() -> None:
    scheduler = PollScheduler(workers=4, name="test-poller")
    keys = [Key(0.01) for _ in range(8)]
    for key in keys:
        scheduler.add(key)
    time.sleep(0.2)
    scheduler.close()
    until(lambda: scheduler.threads == 0)
    counts = [len(k.times) for k in keys]
    time.sleep(0.1)
    assert [len(k.times) for k in keys] == counts
    with pytest.raises(RuntimeError):
        scheduler.add(Key(1.0))
