"""Real processes for end-to-end tests: ``runbroker`` on a free port and a sync bridge client."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from websockets.sync.client import ClientConnection, connect

from tests.conftest import ROOT, process_stop, wait_for, worker_env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@contextmanager
def runbroker(*args: str, env: dict[str, str] | None = None) -> Iterator[tuple[int, subprocess.Popen[str]]]:
    """Run ``manage.py runbroker --no-bridge`` on a free port until the block ends (SIGTERM)."""
    port = free_port()
    argv = [sys.executable, "manage.py", "runbroker", "--no-bridge", "--host", "127.0.0.1", "--port", str(port), *args]
    proc = subprocess.Popen(
        argv, cwd=ROOT, env=env or worker_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        assert wait_for(lambda: port_open(port) or proc.poll() is not None, timeout=60)
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        yield port, proc
    finally:
        process_stop(proc, timeout=40)


def bridge_connect(port: int, token: str | None = None) -> ClientConnection:
    headers = {"Authorization": f"Bearer {token or settings.BRIDGE_TOKEN}"}
    return connect(f"ws://127.0.0.1:{port}/ws/bridge/", additional_headers=headers, max_size=None, open_timeout=30)


def frame_recv(ws: ClientConnection, timeout: float = 60) -> dict[str, Any]:
    return json.loads(ws.recv(timeout=timeout))


def hello(ws: ClientConnection, bot_id: str, **extra: Any) -> None:
    ws.send(json.dumps({"type": "hello", "protocol": 1, "bot_id": bot_id, "client": "tests/sync", **extra}))
    assert frame_recv(ws) == {"type": "welcome", "protocol": 1}
