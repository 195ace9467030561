"""Keep-alive HTTPS connections to storage nodes, shared by every bot and thread of a process.

An idle bot's whole cost is a mailbox poll every few seconds: one small HTTPS request. Made
through requests it took about 3 ms of CPU on the benchmark machine, more than half of it in
requests' and urllib3's layers; over ``http.client`` on a kept connection, about 1.3 ms.
Storage nodes present self-signed certificates, so (as session-python does) none is verified:
what a node answers is authenticated by the messages' own encryption and signatures.
"""

from __future__ import annotations

import http.client
import ssl
import threading
from collections import OrderedDict

HEADERS = {"Content-Type": "application/json", "User-Agent": "WhatsApp", "Accept-Language": "en-us"}
IDLE_PER_NODE = 4
NODES_KEPT = 256  # idle connections are kept to this many nodes, the least recently used dropped


def _context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # storage nodes present self-signed certificates
    return context


class SnodeConnections:
    def __init__(self) -> None:
        self._context = _context()
        self._idle: OrderedDict[tuple[str, int], list[http.client.HTTPSConnection]] = OrderedDict()
        self._lock = threading.Lock()

    def post(self, host: str, port: int, path: str, body: bytes, *, timeout: float) -> tuple[int, bytes]:
        """POST ``body``; return the status and the body. OSError or HTTPException on failure."""
        conn = self._take(host, port)
        reused = conn is not None
        if conn is None:
            conn = http.client.HTTPSConnection(host, port, context=self._context, timeout=timeout)
        try:
            status, data, closing = self._exchange(conn, path, body, timeout)
        except (OSError, http.client.HTTPException):
            conn.close()
            if not reused:
                raise
            # The node closed a kept connection; requests to it are safe to repeat (a store
            # of the same bytes gives the same hash).
            conn = http.client.HTTPSConnection(host, port, context=self._context, timeout=timeout)
            try:
                status, data, closing = self._exchange(conn, path, body, timeout)
            except (OSError, http.client.HTTPException):
                conn.close()
                raise
        if closing:
            conn.close()
        else:
            self._give(host, port, conn)
        return status, data

    def close(self) -> None:
        with self._lock:
            conns = [conn for idle in self._idle.values() for conn in idle]
            self._idle.clear()
        for conn in conns:
            conn.close()

    @staticmethod
    def _exchange(conn: http.client.HTTPSConnection, path: str, body: bytes, timeout: float) -> tuple[int, bytes, bool]:
        conn.timeout = timeout
        if conn.sock is not None:
            conn.sock.settimeout(timeout)
        conn.request("POST", path, body, HEADERS)
        response = conn.getresponse()
        data = response.read()
        return response.status, data, response.will_close

    def _take(self, host: str, port: int) -> http.client.HTTPSConnection | None:
        with self._lock:
            idle = self._idle.get((host, port))
            return idle.pop() if idle else None

    def _give(self, host: str, port: int, conn: http.client.HTTPSConnection) -> None:
        dropped: list[http.client.HTTPSConnection] = []
        with self._lock:
            idle = self._idle.setdefault((host, port), [])
            self._idle.move_to_end((host, port))
            if len(idle) < IDLE_PER_NODE:
                idle.append(conn)
            else:
                dropped.append(conn)
            while len(self._idle) > NODES_KEPT:
                dropped.extend(self._idle.popitem(last=False)[1])
        for old in dropped:
            old.close()
