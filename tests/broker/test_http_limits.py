"""The server bounds slow request headers and open connections (real ``runbroker``, uvicorn)."""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request

import pytest

from tests.broker.servers import runbroker
from tests.conftest import wait_for, worker_env

pytestmark = pytest.mark.slow


def _half_open(port: int, count: int, start: bytes) -> list[socket.socket]:
    socks = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        if start:
            sock.sendall(start)
        socks.append(sock)
    return socks


def _closed_by_server(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        return sock.recv(1024) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True
    finally:
        sock.setblocking(True)


def _status(port: int, path: str = "/healthz") -> int:
    try:
        return urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10).status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_connections_trickling_their_headers_are_closed_within_the_header_timeout(transactional_db) -> None:
    env = {**worker_env(), "HTTP_HEADER_TIMEOUT": "3"}
    with runbroker("--no-worker", env=env) as (port, _):
        socks = _half_open(port, 50, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        opened = time.monotonic()
        try:
            assert _status(port) == 200  # a normal request is served meanwhile
            closed_at: dict[int, float] = {}
            while len(closed_at) < len(socks) and time.monotonic() - opened < 15:
                for i, sock in enumerate(socks):
                    if i in closed_at:
                        continue
                    if _closed_by_server(sock):
                        closed_at[i] = time.monotonic() - opened
                        continue
                    try:
                        sock.sendall(b"X-Slow: a\r\n")  # a header line now and then: still not done
                    except OSError:
                        closed_at[i] = time.monotonic() - opened
                time.sleep(0.5)
            assert len(closed_at) == 50, f"{50 - len(closed_at)} of 50 half-open connections still open after 15 s"
            # The deadline runs from the connection's start: trickling bytes do not extend it.
            assert min(closed_at.values()) >= 2.5, closed_at
            assert max(closed_at.values()) < 8, closed_at
            assert _status(port) == 200
        finally:
            for sock in socks:
                sock.close()


def test_past_the_connection_limit_requests_get_503_until_idle_ones_are_closed(transactional_db) -> None:
    env = {**worker_env(), "HTTP_HEADER_TIMEOUT": "3", "HTTP_MAX_CONNECTIONS": "20"}
    with runbroker("--no-worker", env=env) as (port, _):
        assert _status(port) == 200
        socks = _half_open(port, 20, b"")  # connected, silent
        try:
            assert _status(port) == 503
            assert wait_for(lambda: all(_closed_by_server(s) for s in socks), timeout=10)
            assert _status(port) == 200
        finally:
            for sock in socks:
                sock.close()
