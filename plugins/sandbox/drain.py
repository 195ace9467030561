"""Read a plugin host's stderr and log it, line by line, under the plugin's name.

No Django. One daemon thread per host: it blocks in ``select`` on that host's pipe only,
so a host that floods its pipe costs its own thread the work and never delays another's
output, and the thread's life is the pipe's (it ends at end of file, when the host and
every process holding the pipe are gone). A worker keeps a handful of hosts, so a thread
each costs less than one shared selector loop would in code, and a forked worker process
inherits no thread to restart. The pipe is read as fast as it fills, whether its lines
are logged or dropped (``plugins.sandbox.output``), so the host never blocks on it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import threading
import time
from collections.abc import Callable
from typing import IO

from plugins.sandbox.output import OutputLines

log = logging.getLogger("plugins.output")
TICK = 1.0  # how often a quiet pipe is looked at: the end of a budget window, a stop
READ = 64 * 1024


class OutputDrain:
    """Log ``stream`` (the host's stderr) as ``plugin <name>: <line>`` until it ends."""

    def __init__(self, *, stream: IO[bytes], plugin: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.plugin = plugin
        self._stream, self._fd, self._clock = stream, stream.fileno(), clock
        self._lines = OutputLines(now=clock())
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"plugin-output-{plugin}", daemon=True)
        self._thread.start()

    def _emit(self, lines: list[str]) -> None:
        for line in lines:
            # The name comes first and from the worker: a plugin cannot write a line without it.
            log.info("plugin %s: %s", self.plugin, line)

    def _run(self) -> None:
        try:
            while True:
                readable = select.select([self._fd], [], [], TICK)[0]
                if not readable:
                    if self._stop.is_set():
                        break  # a process that escaped the host still holds the pipe
                    self._emit(self._lines.tick(self._clock()))
                    continue
                data = os.read(self._fd, READ)
                if not data:
                    break
                self._emit(self._lines.feed(data, self._clock()))
        except (OSError, ValueError):
            pass  # the pipe was closed under us
        finally:
            self._emit(self._lines.end())
            with contextlib.suppress(OSError):
                self._stream.close()

    def finish(self, timeout: float = 2.0) -> None:
        """Wait (a little) for the last lines once the host is gone; then let the thread end."""
        self._stop.set()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)
