"""Plugin hosts kept warm per worker process, one set per plugin version and generation.

A reload bumps the plugin's generation: idle hosts of an older generation are closed at
the next acquire, and a host still running an invocation is closed when it comes back,
so an invocation always finishes on the code it started with.
"""

from __future__ import annotations

import os
import threading

from plugins.sandbox.host import Host, HostSpec

MAX_IDLE_PER_VERSION = 2


class HostPool:
    def __init__(self) -> None:
        self._idle: dict[int, list[tuple[str, Host]]] = {}
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
        with self._lock:
            self._forked()
            kept = []
            for gen, host in self._idle.get(key, []):
                if gen != generation or not host.alive():
                    stale.append(host)
                elif found is None:
                    found = host
                else:
                    kept.append((gen, host))
            self._idle[key] = kept
        for host in stale:
            host.close()
        return found if found is not None else Host(spec)

    def release(self, *, key: int, generation: str, host: Host) -> None:
        """Give ``host`` back; it is closed if it died or the pool is full (stale: next acquire)."""
        with self._lock:
            self._forked()
            idle = self._idle.setdefault(key, [])
            if host.alive() and len(idle) < MAX_IDLE_PER_VERSION:
                idle.append((generation, host))
                return
        host.close()

    def hosts(self) -> list[Host]:
        with self._lock:
            self._forked()
            return [host for entries in self._idle.values() for _, host in entries]

    def close_all(self) -> None:
        with self._lock:
            self._forked()
            entries, self._idle = self._idle, {}
        for items in entries.values():
            for _, host in items:
                host.close()
