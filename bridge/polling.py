"""Poll many bots' mailboxes from a few threads, each bot at its own due time.

A thread per bot cost about a megabyte and a wake-up per poll each; with hundreds of idle
bots the process spent its time switching threads. Here one dispatcher thread sleeps until
the earliest due time and hands that bot's poll round to a small pool; the round returns
when the bot is due again. :class:`DueQueue` holds the decisions (who is due, a wake while
a round runs, a bot removed mid-round) and is driven by table tests without threads.
"""

from __future__ import annotations

import heapq
import logging
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
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

    ``spread`` staggers a newly added key over up to that many seconds, so that bots added
    together (a process starting) do not poll in step for ever after.
    """

    def __init__(self, *, workers: int, name: str = "session-poller") -> None:
        self._cond = threading.Condition()
        self._due: DueQueue[Pollable] = DueQueue()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        self._name = name
        self._dispatcher: threading.Thread | None = None
        self._wake_at: float | None = None  # when the dispatcher wakes by itself (None: never)
        self._removing = 0
        self._closed = False

    def add(self, key: Pollable, *, spread: float = 0.0) -> None:
        with self._cond:
            if self._closed:
                raise RuntimeError("the poll scheduler is closed")
            if self._dispatcher is None:
                self._dispatcher = threading.Thread(target=self._dispatch, name=f"{self._name}-due", daemon=True)
                self._dispatcher.start()
            # a spread for load, not for secrecy
            first = time.monotonic() + (random.uniform(0, spread) if spread > 0 else 0.0)  # noqa: S311
            self._due.schedule(key, first)
            self._cond.notify()

    def wake(self, key: Pollable) -> None:
        with self._cond:
            self._due.wake(key, time.monotonic())
            self._cond.notify()

    def remove(self, key: Pollable, *, timeout: float = 15.0) -> None:
        """Stop polling ``key``; wait (up to ``timeout``) for a round of it that is running."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._due.remove(key)
            self._removing += 1
            try:
                while self._due.running(key) and (left := deadline - time.monotonic()) > 0:
                    self._cond.wait(left)
            finally:
                self._removing -= 1

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _dispatch(self) -> None:
        with self._cond:
            while not self._closed:
                now = time.monotonic()
                key = self._due.pop_due(now)
                if key is not None:
                    self._pool.submit(self._run, key)
                    continue
                self._wake_at = self._due.next_at()
                self._cond.wait(None if self._wake_at is None else self._wake_at - now)

    def _run(self, key: Pollable) -> None:
        try:
            delay = key.round()
        except BaseException:  # a round handles its own failures; this keeps the key scheduled
            log.exception("a poll round failed")
            delay = ROUND_FAILED_DELAY
        with self._cond:
            self._due.done(key, now=time.monotonic(), delay=delay)
            # Wake the dispatcher only if this key is now due before it would wake anyway
            # (most rounds end long before their next), and a remove() waiting for this round.
            at = self._due.next_at()
            if self._removing or (at is not None and (self._wake_at is None or at < self._wake_at)):
                self._cond.notify_all()
