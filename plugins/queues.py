"""Celery queues of their own for slow plugins: who serves which queue, and whether anyone does.

A plugin version's ``queue`` ("" for the default queue) names where its invocations are
sent. Every worker records the queues it serves (``QueueWorker``) when it is ready and then
every ``HEARTBEAT_SECONDS``; a queue nobody has been seen serving for ``STALE_SECONDS`` is
unserved, and a command for a plugin on it is answered "unavailable" at once instead of
waiting in a queue no one reads. The default queue is not checked: ``runbroker``'s own
workers serve it.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterable
from datetime import timedelta

from django.db import close_old_connections, connection
from django.utils import timezone

from plugins.models import QueueWorker

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 10.0
STALE_SECONDS = 30.0  # three heartbeats missed: the worker is gone
FORGET_SECONDS = 86400.0  # rows of workers gone this long are removed
_CACHE_SECONDS = 2.0
DEFAULT = "default"  # what ``runbroker --queues`` calls Celery's default queue

_served: dict[str, tuple[float, bool]] = {}


def queue_served(*, queue: str, now: float | None = None) -> bool:
    """Whether a worker was seen serving ``queue`` lately ("": the default queue, always).

    Asked for every command of a plugin on a queue of its own: the answer is kept for two
    seconds per process.
    """
    if not queue:
        return True
    clock = time.monotonic() if now is None else now
    cached = _served.get(queue)
    if cached is not None and clock - cached[0] < _CACHE_SECONDS:
        return cached[1]
    since = timezone.now() - timedelta(seconds=STALE_SECONDS)
    served = QueueWorker.objects.filter(queue=queue, seen_at__gte=since).exists()
    _served[queue] = (clock, served)
    return served


def queue_served_forget() -> None:
    """Drop the cached answers (tests, and a worker that just recorded itself)."""
    _served.clear()


def queue_workers_record(*, worker: str, queues: Iterable[str]) -> None:
    """Record that ``worker`` serves ``queues`` now."""
    now = timezone.now()
    for queue in sorted(set(queues)):
        QueueWorker.objects.update_or_create(queue=queue[:64], worker=worker[:200], defaults={"seen_at": now})
    QueueWorker.objects.filter(seen_at__lt=now - timedelta(seconds=FORGET_SECONDS)).delete()


def queue_workers_forget(*, worker: str) -> None:
    """``worker`` stops: its queues are no longer served by it."""
    QueueWorker.objects.filter(worker=worker[:200]).delete()


def worker_name(hostname: str) -> str:
    """A name no other worker process has: several workers may share a Celery hostname."""
    return f"{hostname or socket.gethostname()}/{os.getpid()}"


class Heartbeat:
    """Records this worker's queues now and every ``HEARTBEAT_SECONDS`` on a thread of its own."""

    def __init__(self, *, worker: str, queues: Iterable[str], interval: float = HEARTBEAT_SECONDS) -> None:
        self.worker, self.queues, self.interval = worker, tuple(queues), interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="queue-heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        try:
            queue_workers_forget(worker=self.worker)
        except Exception:
            log.warning("could not remove this worker's queue records", exc_info=True)
        finally:
            connection.close()

    def _run(self) -> None:
        self._beat()
        while not self._stop.wait(self.interval):
            self._beat()

    def _beat(self) -> None:
        close_old_connections()
        try:
            queue_workers_record(worker=self.worker, queues=self.queues)
        except Exception:
            log.warning("could not record the queues this worker serves", exc_info=True)
        finally:
            connection.close()
