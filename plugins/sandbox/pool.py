"""Plugin hosts kept warm per worker process, one set per plugin version and generation.

A reload bumps the plugin's generation: idle hosts of an older generation are closed at
the next acquire, and a host still running an invocation is closed when it comes back,
so an invocation always finishes on the code it started with. Hosts idle longer than
``IDLE_SECONDS`` are closed at any acquire: those of a version no longer active (replaced,
rolled back, disabled) are never asked for again, and each holds a process.
"""

from __future__ import annotations

import os
import threading
import time

from plugins.sandbox.host import Host, HostSpec

MAX_IDLE_PER_VERSION = 2
IDLE_SECONDS = 300.0


class HostPool:
    def __init__(self) -> None:
        self._idle: dict[int, list[tuple[str, Host, float]]] = {}  # key: (generation, host, idle since)
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def _forked(self) -> None:
        # A forked worker child must not share its parent's pipes: start afresh.
        if os.getpid() != self._pid:
            self._idle, self._pid = {}, os.getpid()
            self._lock = threading.Lock()

    def acquire(self, *, key: int, generation: str, spec: HostSpec) -> Host:
        """An idle host of this generation, or a new one (HostLoadError if it cannot load)."""
        stale: list[Host] = []
        found: Host | None = None
        now = time.monotonic()
        with self._lock:
            self._forked()
            for other, entries in self._idle.items():
                kept = []
                for gen, host, since in entries:
                    usable = now - since <= IDLE_SECONDS and (other != key or (gen == generation and host.alive()))
                    if not usable:
                        stale.append(host)
                    elif other == key and found is None:
                        found = host
                    else:
                        kept.append((gen, host, since))
                entries[:] = kept
        for host in stale:
            host.close()
        return found if found is not None else Host(spec)

    def release(self, *, key: int, generation: str, host: Host) -> None:
        """Give ``host`` back; it is closed if it died or the pool is full (stale: next acquire)."""
        with self._lock:
            self._forked()
            idle = self._idle.setdefault(key, [])
            if host.alive() and len(idle) < MAX_IDLE_PER_VERSION:
                idle.append((generation, host, time.monotonic()))
                return
        host.close()

    def hosts(self) -> list[Host]:
        with self._lock:
            self._forked()
            return [host for entries in self._idle.values() for _, host, _ in entries]

    def close_all(self) -> None:
        with self._lock:
            self._forked()
            entries, self._idle = self._idle, {}
        for items in entries.values():
            for _, host, _ in items:
                host.close()
