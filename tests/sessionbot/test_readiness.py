"""``/livez`` and ``/readyz`` from a real ASGI server (daphne) on the test database."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from broker.models import BridgeStatus
from plugins.models import QueueWorker
from tests.broker.servers import free_port, port_open
from tests.conftest import ROOT, process_stop, wait_for, worker_env
from tests.thebot import BOT_SESSION_ID, the_bot

pytestmark = pytest.mark.slow


@pytest.fixture
def daphne(transactional_db) -> Iterator[int]:
    if not _importable("daphne"):
        pytest.skip("daphne (requirements-dev.txt) is not installed")
    port = free_port()
    argv = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "sessionbot.asgi:application"]
    proc = subprocess.Popen(argv, cwd=ROOT, env=worker_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert wait_for(lambda: port_open(port) or proc.poll() is not None, timeout=60)
        assert proc.poll() is None
        yield port
    finally:
        process_stop(proc, timeout=20)


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def get(port: int, path: str, host: str = "127.0.0.1") -> tuple[int, dict]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Host": host})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.django_db
def test_the_probes_answer_through_a_synchronous_handler_too(client) -> None:
    assert client.get("/livez").json() == {"live": True}
    for _ in range(2):  # a new event loop each time: its own probe channel
        response = client.get("/readyz", HTTP_HOST="10.9.8.7")
        assert response.status_code == 503
        assert response.json()["checks"]["channel_layer"]["ok"] is True
        assert response.json()["checks"]["worker"]["ok"] is False


def test_livez_answers_without_looking_at_anything(daphne) -> None:
    assert get(daphne, "/livez") == (200, {"live": True})


def test_readyz_is_503_for_an_enabled_bot_without_bridge_and_no_worker_then_200(daphne) -> None:
    bot = the_bot()
    status, body = get(daphne, "/readyz")
    assert status == 503
    assert body["ready"] is False
    checks = body["checks"]
    assert list(checks) == ["database", "channel_layer", "bridges", "worker"]
    assert checks["database"]["ok"]
    assert checks["channel_layer"]["ok"]
    assert checks["bridges"] == {"ok": False, "detail": "0 of 1 enabled bots connected"}
    assert checks["worker"] == {"ok": False, "detail": "no heartbeat in the last 30 s"}
    # Nothing that names the bot or a secret reaches an unauthenticated probe.
    text = json.dumps(body)
    for private in (BOT_SESSION_ID, bot.name, settings.BRIDGE_TOKEN, settings.SECRET_KEY):
        assert private not in text

    now = timezone.now()
    BridgeStatus.objects.create(bot_id=BOT_SESSION_ID, connected=True, lease_until=now + timedelta(seconds=30))
    QueueWorker.objects.create(queue="celery", worker="host/1", seen_at=now - timedelta(seconds=5))
    status, body = get(daphne, "/readyz")
    assert status == 200, body
    assert body["checks"]["bridges"] == {"ok": True, "detail": "1 of 1 enabled bots connected"}
    assert body["checks"]["worker"] == {"ok": True, "detail": "last heartbeat 5 s ago"}


def test_a_dead_broker_process_leaves_its_bridge_marked_connected_but_not_ready(daphne) -> None:
    the_bot()
    QueueWorker.objects.create(queue="celery", worker="host/1")
    gone = timezone.now() - timedelta(seconds=5)
    BridgeStatus.objects.create(bot_id=BOT_SESSION_ID, connected=True, lease_until=gone)
    status, body = get(daphne, "/readyz")
    assert status == 503
    assert body["checks"]["bridges"]["ok"] is False
    assert body["checks"]["worker"]["ok"] is True


def test_a_worker_on_another_queue_or_one_gone_quiet_does_not_count(daphne) -> None:
    QueueWorker.objects.create(queue="llm", worker="gpu/1")
    QueueWorker.objects.create(queue="celery", worker="host/1", seen_at=timezone.now() - timedelta(seconds=45))
    status, body = get(daphne, "/readyz")
    assert status == 503
    assert body["checks"]["worker"] == {"ok": False, "detail": "last heartbeat 45 s ago (stale after 30 s)"}
    assert body["checks"]["bridges"] == {"ok": True, "detail": "no enabled bot"}


def test_probes_answer_a_host_that_allowed_hosts_does_not_list(daphne) -> None:
    assert get(daphne, "/livez", host="10.1.2.3:8000") == (200, {"live": True})
    assert get(daphne, "/readyz", host="10.1.2.3:8000")[0] in (200, 503)
    request = urllib.request.Request(f"http://127.0.0.1:{daphne}/healthz", headers={"Host": "10.1.2.3"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 400  # the rest of the site still checks the host
