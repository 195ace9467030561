"""Login throttling on a real server: behind a trusted proxy, and under a flood of guesses."""

from __future__ import annotations

import statistics
import threading
import time
import urllib.request

import psutil
import pytest
from django.contrib.auth.models import User

from tests.adminauth.conftest import PASSWORD
from tests.adminauth.webclient import AdminClient
from tests.broker.servers import runbroker
from tests.conftest import worker_env

pytestmark = pytest.mark.slow
LIMIT = 5


@pytest.fixture
def _fast_hasher() -> None:
    """The server process hashes with the real hasher, so the account must too."""


@pytest.fixture
def root(transactional_db) -> User:
    return User.objects.create_superuser("root", "root@example.org", PASSWORD)


def _forwarded(port: int, address: str) -> AdminClient:
    return AdminClient(port, headers={"X-Forwarded-For": f"198.51.100.99, {address}"})


def test_behind_a_trusted_proxy_each_forwarded_client_is_counted_alone(root) -> None:
    with runbroker("--no-worker", env={**worker_env(), "TRUSTED_PROXIES": "127.0.0.1"}) as (port, _):
        for i in range(LIMIT):
            assert _forwarded(port, "203.0.113.1").login(f"guess{i}", "wrong") in (200, 429)
        assert _forwarded(port, "203.0.113.1").login("root", PASSWORD) == 429
        assert _forwarded(port, "203.0.113.2").login("root", PASSWORD) == 302


def test_without_trusted_proxies_forwarded_for_is_ignored(root) -> None:
    with runbroker("--no-worker") as (port, _):
        for i in range(LIMIT):
            _forwarded(port, f"203.0.113.{i + 1}").login(f"guess{i}", "wrong")
        # Every attempt came from 127.0.0.1, whatever the header claimed.
        assert _forwarded(port, "203.0.113.50").login("root", PASSWORD) == 429


def _healthz_ms(port: int) -> float:
    start = time.perf_counter()
    urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=30).read()
    return (time.perf_counter() - start) * 1000


def test_once_locked_a_flood_of_wrong_logins_hashes_no_password(root) -> None:
    """8 parallel loops of wrong passwords for 4 s, once locked: no password is hashed."""
    with runbroker("--no-worker") as (port, proc):
        idle = statistics.median(_healthz_ms(port) for _ in range(20))
        first = AdminClient(port)
        assert [first.login("root", "wrong") for _ in range(LIMIT)][-1] == 429
        server = psutil.Process(proc.pid)
        cpu_before = sum(server.cpu_times()[:2])
        statuses: list[int] = []
        stop = time.monotonic() + 4

        def guess() -> None:
            client = AdminClient(port)
            while time.monotonic() < stop:
                statuses.append(client.login("root", "wrong"))

        loops = [threading.Thread(target=guess) for _ in range(8)]
        for loop in loops:
            loop.start()
        during = []
        while time.monotonic() < stop:
            during.append(_healthz_ms(port))
            time.sleep(0.05)
        for loop in loops:
            loop.join(timeout=60)
        cpu = sum(server.cpu_times()[:2]) - cpu_before
        print(
            f"\nflood: {len(statuses)} wrong logins in 4 s ({statuses.count(429)} locked out), "
            f"server CPU {cpu:.2f} s ({cpu / len(statuses) * 1000:.1f} ms per attempt); "
            f"/healthz median {idle:.1f} ms idle, {statistics.median(during):.1f} ms during "
            f"(max {max(during):.1f} ms)"
        )
        assert set(statuses) == {429}
        assert cpu / len(statuses) < 0.06  # a hashed password costs about 0.25 CPU-s
        assert max(during) < 1000  # /healthz keeps answering (python -m bench.loginflood measures it)
