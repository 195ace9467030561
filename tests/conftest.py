"""Shared fixtures: real servers where the suite needs them, and a real Celery worker."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from asgiref.sync import SyncToAsync
from django.conf import settings
from django.db import connection, connections

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None) -> Iterator[None]:
    """pytest-django's, then, before it drops the test database, the connection of asgiref's
    thread for thread-sensitive calls (the consumer's database calls run there) is closed:
    PostgreSQL refuses to drop a database that a session still uses."""
    yield
    SyncToAsync.single_thread_executor.submit(connections.close_all).result(timeout=30)


def services_required() -> bool:
    """In CI (REQUIRE_SERVICES=1) a missing server fails the test instead of skipping it."""
    return os.environ.get("REQUIRE_SERVICES", "") not in ("", "0", "false")


def require_server(url: str, what: str) -> None:
    """Skip (or, in CI, fail) when nothing listens at ``url``."""
    parsed = urlparse(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port
    try:
        with socket.create_connection((host, port or 0), timeout=1):
            return
    except OSError as exc:
        message = f"{what} at {host}:{port} is not reachable ({exc}); set it up or unset REQUIRE_SERVICES"
        if services_required():
            pytest.fail(message)
        pytest.skip(message)


def worker_env() -> dict[str, str]:
    """The environment for a subprocess that must see the test database and queue."""
    env = dict(os.environ)
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        env["DATABASE_URL"] = f"sqlite:///{db['NAME']}"
    else:
        user = db.get("USER") or ""
        password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
        env["DATABASE_URL"] = f"postgres://{user}{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
    env["PYTHONPATH"] = str(ROOT)
    return env


def wait_for(predicate: Callable[[], bool], *, timeout: float = 20.0, interval: float = 0.05) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` seconds pass; return its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


@pytest.fixture
def celery_worker(transactional_db: None) -> Iterator[subprocess.Popen[bytes]]:
    """A real Celery worker process on the test database and the configured broker."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "sessionbot", "worker", "--pool=solo", "--loglevel=WARNING"],
        cwd=ROOT,
        env=worker_env(),
    )
    time.sleep(0.5)
    try:
        yield proc
    finally:
        process_stop(proc, timeout=15)


def process_stop(proc: subprocess.Popen[Any], *, timeout: float) -> None:
    """SIGTERM, then SIGKILL if ``proc`` is still there after ``timeout`` seconds."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(autouse=True)
def _redis_reachable_when_configured() -> None:
    if settings.REDIS_URL:
        require_server(settings.REDIS_URL, "Redis")
