"""Poll many bots' mailboxes from a few threads, each bot at its own due time.

A thread per bot would cost about a megabyte and a wake-up per poll each; with hundreds of
idle bots the process would spend its time switching threads. Here a few threads take turns:
the one leading sleeps until the earliest due time and runs that bot's round itself, after
handing the lead on. :class:`DueQueue` holds the decisions (who is due, a wake while a round
runs, a bot removed mid-round) and is driven by table tests without threads.
"""

from __future__ import annotations

import heapq
import logging
import random
import threading
import time
from typing import Generic, Protocol, TypeVar

log = logging.getLogger(__name__)

K = TypeVar("K")
ROUND_FAILED_DELAY = 5.0  # a round that raised past its own handling is tried again after this


class DueQueue(Generic[K]):
    """Due times of keys; a popped key is running until :meth:`done` and is never popped twice."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, K]] = []
        self._entry: dict[K, tuple[float, int]] = {}  # the live heap entry of each queued key
        self._running: set[K] = set()
        self._woken: set[K] = set()  # woken while running: due again as soon as it is done
        self._removed: set[K] = set()  # removed while running: not scheduled again
        self._seq = 0

    def __contains__(self, key: object) -> bool:
        return key in self._entry or (key in self._running and key not in self._removed)

    def schedule(self, key: K, at: float) -> None:
        """Make ``key`` due at ``at`` (replacing its earlier due time); a running key waits for done."""
        self._removed.discard(key)
        if key in self._running:
            return
        self._seq += 1
        self._entry[key] = (at, self._seq)
        heapq.heappush(self._heap, (at, self._seq, key))

    def wake(self, key: K, now: float) -> None:
        """Make ``key`` due now, or, if it is running, as soon as its round is done."""
        if key in self._running:
            if key not in self._removed:
                self._woken.add(key)
        elif key in self._entry and self._entry[key][0] > now:
            self.schedule(key, now)

    def remove(self, key: K) -> None:
        self._entry.pop(key, None)
        self._woken.discard(key)
        if key in self._running:
            self._removed.add(key)

    def running(self, key: K) -> bool:
        return key in self._running

    def next_at(self) -> float | None:
        """The earliest due time, or None when nothing is queued."""
        self._drop_stale()
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: float) -> K | None:
        """The key due earliest if it is due at ``now``; it is running until :meth:`done`."""
        self._drop_stale()
        if not self._heap or self._heap[0][0] > now:
            return None
        _, _, key = heapq.heappop(self._heap)
        del self._entry[key]
        self._running.add(key)
        return key

    def done(self, key: K, *, now: float, delay: float) -> None:
        """``key``'s round ended at ``now`` and asked for the next in ``delay`` seconds."""
        self._running.discard(key)
        if key in self._removed:
            self._removed.discard(key)
            return
        woken = key in self._woken
        self._woken.discard(key)
        self.schedule(key, now if woken else now + delay)

    def _drop_stale(self) -> None:
        while self._heap:
            at, seq, key = self._heap[0]
            if self._entry.get(key) == (at, seq):
                return
            heapq.heappop(self._heap)


class Pollable(Protocol):
    def round(self) -> float:
        """Poll once; return the seconds until the next round."""


class PollScheduler:
    """Run :class:`Pollable` rounds on at most ``workers`` threads, each when it is due.

    The threads take turns: one of them (the leader) sleeps until the earliest due time,
    takes that key, hands the lead to an idle thread and runs the round itself; the idle
    threads sleep without a timeout. A round thus costs no hand-over between threads, and
    only the leader wakes by itself. Threads are started as rounds overlap, up to ``workers``.

    ``spread`` staggers a newly added key over up to that many seconds, so that bots added
    together (a process starting) do not poll in step for ever after.
    """

    def __init__(self, *, workers: int, name: str = "session-poller") -> None:
        if workers < 1:
            raise ValueError("a poll scheduler needs at least one worker")
        lock = threading.Lock()
        self._lead = threading.Condition(lock)  # the leader waits here, until the next due time
        self._follow = threading.Condition(lock)  # idle threads wait here for the lead
        self._finished = threading.Condition(lock)  # remove() waits here for a running round
        self._due: DueQueue[Pollable] = DueQueue()
        self._max_threads, self._name = workers, name
        self._threads = 0
        self._followers = 0
        self._leading = False
        self._wake_at: float | None = None  # when the leader wakes by itself (None: never)
        self._removing = 0
        self._closed = False

    @property
    def threads(self) -> int:
        """How many threads run rounds now (they are started as rounds overlap)."""
        with self._lead:
            return self._threads

    def add(self, key: Pollable, *, spread: float = 0.0) -> None:
        with self._lead:
            if self._closed:
                raise RuntimeError("the poll scheduler is closed")
            if self._threads == 0:
                self._start_thread()
            # a spread for load, not for secrecy
            first = time.monotonic() + (random.uniform(0, spread) if spread > 0 else 0.0)  # noqa: S311
            self._due.schedule(key, first)
            self._lead.notify()

    def wake(self, key: Pollable) -> None:
        with self._lead:
            self._due.wake(key, time.monotonic())
            self._lead.notify()

    def remove(self, key: Pollable, *, timeout: float = 15.0) -> None:
        """Stop polling ``key``; wait (up to ``timeout``) for a round of it that is running."""
        deadline = time.monotonic() + timeout
        with self._lead:
            self._due.remove(key)
            self._removing += 1
            try:
                while self._due.running(key) and (left := deadline - time.monotonic()) > 0:
                    self._finished.wait(left)
            finally:
                self._removing -= 1

    def close(self) -> None:
        """Stop every thread once its round (if any) ends; no round starts after this."""
        with self._lead:
            self._closed = True
            self._lead.notify_all()
            self._follow.notify_all()

    def _start_thread(self) -> None:
        self._threads += 1
        name = f"{self._name}-{self._threads}"
        threading.Thread(target=self._work, name=name, daemon=True).start()

    def _work(self) -> None:
        finished: tuple[Pollable, float] | None = None
        while True:
            with self._lead:
                if finished is not None:
                    self._finish(*finished)
                key = self._next_key()
                if key is None:
                    self._threads -= 1
                    return
            finished = key, self._run(key)

    def _finish(self, key: Pollable, delay: float) -> None:
        """Schedule ``key``'s next round; wake the leader only if that is before it would wake."""
        self._due.done(key, now=time.monotonic(), delay=delay)
        if self._removing:
            self._finished.notify_all()
        at = self._due.next_at()
        if self._leading and at is not None and (self._wake_at is None or at < self._wake_at):
            self._lead.notify()

    def _next_key(self) -> Pollable | None:
        """Follow until the lead is free, lead until a key is due; None once closed. Holds the lock."""
        while not self._closed:
            if self._leading:
                self._followers += 1
                try:
                    self._follow.wait()
                finally:
                    self._followers -= 1
                continue
            self._leading = True
            try:
                key = self._lead_until_due()
            finally:
                self._leading = False
                self._wake_at = None
            if key is None:
                return None
            # The lead passes to an idle thread, or to a new one while rounds overlap.
            if self._followers:
                self._follow.notify()
            elif self._threads < self._max_threads:
                self._start_thread()
            return key
        return None

    def _lead_until_due(self) -> Pollable | None:
        while not self._closed:
            now = time.monotonic()
            key = self._due.pop_due(now)
            if key is not None:
                return key
            self._wake_at = self._due.next_at()
            self._lead.wait(None if self._wake_at is None else self._wake_at - now)
        return None

    def _run(self, key: Pollable) -> float:
        try:
            delay = key.round()
        except BaseException:  # a round handles its own failures; this keeps the key scheduled
            log.exception("a poll round failed")
            delay = ROUND_FAILED_DELAY
        return delay
