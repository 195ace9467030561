"""Keep child processes (the Celery worker, the bridge) running beside the ASGI server."""

from __future__ import annotations

import ctypes
import logging
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

BACKOFF_FIRST = 1.0
BACKOFF_MAX = 60.0
HEALTHY_AFTER = 30.0  # a child that ran this long starts over with the first backoff


@dataclass(frozen=True, slots=True)
class ChildSpec:
    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    role: str = ""  # bridge or worker, for the process metrics (broker.processmetrics)
    queue: str = ""  # a worker's queue


@dataclass(slots=True)
class _Child:
    spec: ChildSpec
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    backoff: float = BACKOFF_FIRST
    restart_at: float = 0.0


try:
    _LIBC: ctypes.CDLL | None = ctypes.CDLL(None)  # resolved before fork: nothing may load after it
except OSError:
    _LIBC = None


def _die_with_parent() -> None:
    """On Linux, have the kernel send SIGTERM to the child if runbroker dies without cleanup."""
    prctl = getattr(_LIBC, "prctl", None)
    if prctl is not None:
        prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def backoff_next(current: float) -> float:
    """Double the wait before the next restart, up to a minute."""
    return min(current * 2, BACKOFF_MAX)


class Supervisor:
    """Start children, restart any that exits (with backoff), stop them all on request."""

    def __init__(self, specs: list[ChildSpec], *, cwd: str) -> None:
        self._children = [_Child(spec) for spec in specs]
        self._cwd = cwd
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="supervisor", daemon=True)

    def start(self) -> None:
        for child in self._children:
            self._spawn(child)
        self._thread.start()

    def running(self) -> list[tuple[ChildSpec, int]]:
        """Each child that runs now, with its process ID."""
        found = []
        for child in self._children:
            proc = child.proc
            if proc is not None and proc.returncode is None:
                found.append((child.spec, proc.pid))
        return found

    def _spawn(self, child: _Child) -> None:
        log.info("starting %s", child.spec.name)
        # A session of its own: a terminal's Ctrl-C reaches only us, and we stop the children
        # in order instead of racing their restarts.
        child.proc = subprocess.Popen(
            child.spec.argv,
            cwd=self._cwd,
            env=child.spec.env or None,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        child.started = time.monotonic()

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            for child in self._children:
                self._check(child)

    def _check(self, child: _Child) -> None:
        now = time.monotonic()
        if child.proc is not None:
            code = child.proc.poll()
            if code is None:
                return
            if now - child.started > HEALTHY_AFTER:
                child.backoff = BACKOFF_FIRST
            log.warning("%s exited with code %s; restarting in %.0f s", child.spec.name, code, child.backoff)
            child.proc = None
            child.restart_at = now + child.backoff
            child.backoff = backoff_next(child.backoff)
        elif now >= child.restart_at and not self._stop.is_set():
            self._spawn(child)

    def stop(self, *, timeout: float = 20.0) -> None:
        """Ask every child to stop (SIGTERM), then kill what is still running after ``timeout``."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        running = [c.proc for c in self._children if c.proc is not None and c.proc.poll() is None]
        for proc in running:
            proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in running:
            try:
                proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


class Periodic:
    """Call ``job`` every ``interval`` seconds in a thread of its own until stopped.

    A failing job is logged and tried again at the next tick: the recovery sweep must
    outlive a database restart.
    """

    def __init__(self, name: str, job: Callable[[], object], *, interval: float) -> None:
        self._name = name
        self._job = job
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._job()
            except Exception:
                log.exception("%s failed; trying again in %.0f s", self._name, self._interval)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
