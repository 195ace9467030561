"""``runbroker`` asks its own ``/livez`` (and ``/readyz`` when told) and tells systemd.

Once ``/livez`` answers, the server serves: ``READY=1``. Then, at the watchdog's pace (or
every ``PROBE_SECONDS`` without one), it probes again and sends ``WATCHDOG=1`` only when
the probe passed, so a server that stops answering (a stuck event loop, a full connection
limit) is restarted by systemd. ``STATUS=`` says what the last probe found.
"""

from __future__ import annotations

import http.client
import json
import logging
import threading
import time
from dataclasses import dataclass

from broker.sdnotify import Notifier

log = logging.getLogger(__name__)

PROBE_SECONDS = 30.0
PROBE_TIMEOUT = 5.0
START_POLL_SECONDS = 0.2


@dataclass(frozen=True, slots=True)
class Probe:
    ok: bool
    status: str  # for STATUS= and the log


def probe_get(*, host: str, port: int, path: str, timeout: float = PROBE_TIMEOUT) -> tuple[int, bytes]:
    """GET ``path`` from this machine's server; status 0 when nothing answered."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Host": host})
        response = conn.getresponse()
        return response.status, response.read()
    except OSError:
        return 0, b""
    finally:
        conn.close()


def readyz_failing(body: bytes) -> list[str]:
    """The names of the checks ``/readyz`` says failed."""
    try:
        checks = json.loads(body).get("checks", {})
        return sorted(name for name, result in checks.items() if not result.get("ok"))
    except (ValueError, AttributeError):
        return ["(unreadable answer)"]


class SelfProbe:
    """A thread that waits for the server, says READY=1, then feeds the watchdog while probes pass."""

    def __init__(
        self, *, host: str, port: int, notifier: Notifier, watchdog: float | None, readyz: bool = False
    ) -> None:
        self.host, self.port = host, port
        self.notifier, self.watchdog, self.readyz = notifier, watchdog, readyz
        self.serving = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="self-probe", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop probing and tell the service manager the service is stopping."""
        self._stop.set()
        self.notifier.notify(STOPPING="1", STATUS="stopping")
        if self._thread.is_alive():
            self._thread.join(timeout=PROBE_TIMEOUT + 1)

    def probe(self) -> Probe:
        status, _ = probe_get(host=self.host, port=self.port, path="/livez")
        if status != 200:
            return Probe(False, f"/livez answered {status or 'nothing'}")
        if not self.readyz:
            return Probe(True, f"serving on port {self.port}")
        status, body = probe_get(host=self.host, port=self.port, path="/readyz")
        if status == 200:
            return Probe(True, f"serving on port {self.port}, ready")
        return Probe(False, f"serving on port {self.port}, not ready: {', '.join(readyz_failing(body))}")

    def _run(self) -> None:
        while not self._stop.is_set():
            if probe_get(host=self.host, port=self.port, path="/livez")[0] == 200:
                break
            self._stop.wait(START_POLL_SECONDS)
        else:
            return
        self.serving.set()
        first = self.probe()
        log.info("the server answers its own /livez: %s", first.status)
        self.notifier.notify(READY="1", STATUS=first.status)
        self._fed(first)
        interval = self.watchdog or PROBE_SECONDS
        last = first
        while not self._stop.wait(interval):
            started = time.monotonic()
            result = self.probe()
            if self._stop.is_set():
                return
            if result.status != last.status:
                (log.info if result.ok else log.warning)("self-probe: %s", result.status)
                self.notifier.notify(STATUS=result.status)
            self._fed(result)
            last = result
            interval = max((self.watchdog or PROBE_SECONDS) - (time.monotonic() - started), 0.1)

    def _fed(self, result: Probe) -> None:
        if self.watchdog is not None and result.ok:
            self.notifier.notify(WATCHDOG="1")
