"""``/metrics``: the processes of a real ``runbroker`` by role, and the Celery queue lengths on
the configured broker (the embedded filesystem queue, or Redis when REDIS_URL is set)."""

from __future__ import annotations

import subprocess
import sys
import urllib.request
import uuid
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from plugins.models import QueueWorker
from sessionbot.celery import app
from tests.broker.servers import free_port, port_open
from tests.conftest import ROOT, process_stop, wait_for, worker_env
from tests.sessionbot.botrows import plugin_install


def samples(body: str) -> dict[tuple[str, frozenset], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
    }


@pytest.fixture
def private_queue(db):
    """A queue no worker of the suite serves, emptied after the test."""
    name = f"metrics-{uuid.uuid4().hex[:12]}"
    try:
        yield name
    finally:
        with app.connection_for_write() as conn:
            channel: Any = conn.default_channel
            channel.queue_purge(name)


def test_the_length_of_each_celery_queue_is_exported(client, private_queue) -> None:
    version = plugin_install("slowthing")
    version.queue = private_queue
    version.save()
    for _ in range(3):
        app.send_task("plugins.health_checks_run", queue=private_queue)
    got = samples(client.get("/metrics").content.decode())
    assert got[("sessionbot_celery_queue_length", frozenset({("queue", private_queue)}))] == 3
    assert ("sessionbot_celery_queue_length", frozenset({("queue", "celery")})) in got


def test_a_queue_only_a_worker_serves_is_measured_too(client, private_queue) -> None:
    QueueWorker.objects.create(queue=private_queue, worker="gpu/1")
    app.send_task("plugins.health_checks_run", queue=private_queue)
    got = samples(client.get("/metrics").content.decode())
    assert got[("sessionbot_celery_queue_length", frozenset({("queue", private_queue)}))] == 1


@pytest.mark.slow
def test_runbroker_reports_the_memory_cpu_and_files_of_itself_its_worker_and_its_bridge(transactional_db) -> None:
    port = free_port()
    argv = [sys.executable, "manage.py", "runbroker", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    env = {**worker_env(), "SESSION_NETWORK_URL": "http://127.0.0.1:9"}  # the bridge runs, the network is absent
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_for(lambda: port_open(port) or proc.poll() is not None, timeout=60)
        roles = {("server", ""), ("worker", "default"), ("bridge", "")}

        def scraped() -> dict:
            body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30).read().decode()
            return samples(body)

        def labelled(got: dict, name: str) -> dict[tuple[str, str], float]:
            return {(dict(labels)["role"], dict(labels)["queue"]): v for (n, labels), v in got.items() if n == name}

        assert wait_for(lambda: set(labelled(scraped(), "sessionbot_process_open_fds")) == roles, timeout=60)
        got = scraped()
        memory = labelled(got, "sessionbot_process_resident_memory_bytes")
        assert set(memory) == roles
        assert all(value > 10_000_000 for value in memory.values()), memory  # a Python with Django loaded
        cpu = labelled(got, "sessionbot_process_cpu_seconds_total")
        assert set(cpu) == roles
        assert all(value > 0 for value in cpu.values())
        assert all(value >= 3 for value in labelled(got, "sessionbot_process_open_fds").values())
    finally:
        process_stop(proc, timeout=40)
