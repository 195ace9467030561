"""A flood of wrong admin logins against a real server: ``python -m bench.loginflood``.

Starts ``runbroker --no-worker --no-bridge`` on loopback with a fresh SQLite database and
one admin, then runs 8 loops of wrong passwords for 5 s while timing ``/healthz`` every
50 ms. Prints the attempts served, how they were answered, the server's CPU time per
attempt (a hashed password costs about 0.2 CPU-s) and ``/healthz`` latency idle and
during the flood. Loopback only, bounded in time.
"""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlencode

import psutil

ROOT = Path(__file__).resolve().parent.parent
LOOPS = 8
SECONDS = 5.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _request(port: int, method: str, path: str, body: str = "", headers: dict[str, str] | None = None) -> tuple:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, body=body or None, headers=headers or {})
        resp = conn.getresponse()
        resp.read()
        return resp.status, resp.getheader("Set-Cookie") or ""
    finally:
        conn.close()


def _wrong_logins(port: int, stop: float, statuses: list[int]) -> None:
    _, cookie = _request(port, "GET", "/admin/login/")
    match = re.search(r"csrftoken=([^;]+)", cookie)
    csrf = match.group(1) if match else ""
    body = urlencode({"username": "root", "password": "wrong", "csrfmiddlewaretoken": csrf})
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": f"csrftoken={csrf}"}
    while time.monotonic() < stop:
        statuses.append(_request(port, "POST", "/admin/login/", body, headers)[0])


def _healthz_ms(port: int) -> float:
    started = time.perf_counter()
    _request(port, "GET", "/healthz")
    return (time.perf_counter() - started) * 1000


def main() -> None:
    with tempfile.TemporaryDirectory() as data:
        env = {**os.environ, "DATA_DIR": data, "DJANGO_SUPERUSER_PASSWORD": "correct horse battery staple"}
        env.pop("DATABASE_URL", None)
        env.pop("REDIS_URL", None)
        manage = [sys.executable, str(ROOT / "manage.py")]
        subprocess.run([*manage, "migrate", "-v0"], env=env, check=True, cwd=ROOT)
        createsuperuser = ["createsuperuser", "--noinput", "--username", "root", "--email", "root@example.org"]
        subprocess.run([*manage, *createsuperuser], env=env, check=True, cwd=ROOT, capture_output=True)
        port = _free_port()
        argv = [*manage, "runbroker", "--no-worker", "--no-bridge", "--host", "127.0.0.1", "--port", str(port)]
        server = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    _healthz_ms(port)
                    break
                except OSError:
                    time.sleep(0.2)
            idle = [_healthz_ms(port) for _ in range(40)]
            proc = psutil.Process(server.pid)
            cpu_before = sum(proc.cpu_times()[:2])
            statuses: list[int] = []
            stop = time.monotonic() + SECONDS
            loops = [threading.Thread(target=_wrong_logins, args=(port, stop, statuses)) for _ in range(LOOPS)]
            for loop in loops:
                loop.start()
            during = []
            while time.monotonic() < stop:
                during.append(_healthz_ms(port))
                time.sleep(0.05)
            for loop in loops:
                loop.join()
            cpu = sum(proc.cpu_times()[:2]) - cpu_before
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)
    answered = ", ".join(f"{n}x {code}" for code, n in sorted(Counter(statuses).items()))
    print(f"{len(statuses)} wrong logins from {LOOPS} loops in {SECONDS:g} s ({answered})")
    print(f"server CPU {cpu:.2f} s, {cpu / max(len(statuses), 1) * 1000:.1f} ms per attempt")
    print(
        f"/healthz p50 {statistics.median(idle):.1f} ms idle, {statistics.median(during):.1f} ms during "
        f"(p90 {statistics.quantiles(during, n=10)[-1]:.1f} ms, {len(during)} samples)"
    )


if __name__ == "__main__":
    main()
