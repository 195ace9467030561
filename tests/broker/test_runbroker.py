"""``manage.py runbroker`` as an operator runs it: a real uvicorn, a real worker, clean stops."""

from __future__ import annotations

import json
import signal
import urllib.request

import psutil
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from bridgeprotocol.frames import MAX_FRAME_BYTES
from broker.models import OutboundMessage
from plugins.models import Invocation
from tests.broker.conftest import BOT, USER, message, stored
from tests.broker.servers import bridge_connect, frame_recv, hello, runbroker
from tests.conftest import worker_env

pytestmark = pytest.mark.slow


def test_runbroker_serves_admin_and_bridge_and_answers_ping(builtins) -> None:
    with runbroker() as (port, proc):
        page = urllib.request.urlopen(f"http://127.0.0.1:{port}/admin/login/", timeout=30)
        assert page.status == 200
        with pytest.raises(InvalidStatus) as refused:
            bridge_connect(port, token="wrong")
        assert refused.value.response.status_code == 403
        with bridge_connect(port) as ws:
            hello(ws, BOT)
            ws.send(json.dumps(message("/ping", mid="rb-ping")))
            assert frame_recv(ws) == {"type": "ack", "id": "rb-ping", "status": "accepted"}
            send = frame_recv(ws)
            assert (send["type"], send["text"], send["to"]) == ("send", "pong", USER)
        children = psutil.Process(proc.pid).children(recursive=True)
        assert children, "the Celery worker runs as a child"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=40) == 0
        _, gone_or_alive = psutil.wait_procs(children, timeout=20)
        assert not gone_or_alive
    assert proc.stdout is not None
    output = proc.stdout.read()
    assert f"http://127.0.0.1:{port}/admin/" in output
    assert f"ws://127.0.0.1:{port}/ws/bridge/" in output


def test_the_server_refuses_a_frame_over_16_mib_with_1009(transactional_db) -> None:
    with runbroker("--no-worker") as (port, _), bridge_connect(port) as ws:
        hello(ws, BOT)
        ws.send('{"type":"status","pad":"' + "x" * MAX_FRAME_BYTES + '"}')
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=30)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1009


def test_after_a_crash_an_unfinished_invocation_runs_once_on_start(builtins) -> None:
    inv = stored(builtins["ping"], "crashed", status="running")
    with runbroker() as (port, _), bridge_connect(port) as ws:
        hello(ws, BOT)
        send = frame_recv(ws)
        assert send["text"] == "pong"
        ws.send(json.dumps({"type": "sent", "ref": send["ref"], "hash": "H", "timestamp": 1}))
        ws.send(json.dumps(message("/nosuch", mid="barrier")))  # acked only after "sent" is handled
        # The barrier's own answer may overtake its ack (PostgreSQL accepts concurrently).
        seen = [frame_recv(ws)]
        while seen[-1]["type"] != "ack":
            seen.append(frame_recv(ws))
        assert [f["text"] for f in seen if f["type"] == "send" and f["text"] == "pong"] == []
    with runbroker() as (port, _), bridge_connect(port) as ws:  # a second start finds nothing to do
        hello(ws, BOT)
        assert frame_recv(ws)["text"].startswith("Unknown command")
        with pytest.raises(TimeoutError):
            frame_recv(ws, timeout=3)
    assert OutboundMessage.objects.filter(invocation=inv).count() == 1
    assert Invocation.objects.get(pk=inv.pk).status == "ok"


def exchange_output(*args: str) -> str:
    secret = "SECRET-MARKER-e3b0c442"
    attachment = {"name": "n.txt", "content_type": "text/plain", "size": 14, "data_b64": "U0VDUkVULUZJTEUtOTk="}
    env = {**worker_env(), "LOG_LEVEL": "INFO"}
    with runbroker(*args, env=env) as (port, proc), bridge_connect(port) as ws:
        hello(ws, BOT)
        ws.send(json.dumps(message(f"/echo {secret}", mid="p1", attachments=[attachment])))
        assert frame_recv(ws)["status"] == "accepted"
        assert frame_recv(ws)["text"] == secret
        ws.send(json.dumps(message(f"/nosuch {secret}", mid="p2")))
        ws.send(json.dumps(message(f"plain {secret}", mid="p3")))
        ws.send(json.dumps({"type": "failed", "ref": "nope", "reason": secret, "retry": False}))
        ws.send(json.dumps(message("bad \x00 " + secret, mid="p4")))
        for _ in range(4):
            frame_recv(ws)
    assert proc.stdout is not None
    return proc.stdout.read()


def test_at_the_default_log_level_no_line_carries_message_text_or_secrets(builtins) -> None:
    from django.conf import settings

    output = exchange_output()
    assert "bridge said hello" in output  # the log is on, at INFO
    assert "SECRET-MARKER" not in output
    assert "SECRET-FILE" not in output
    assert "U0VDUkVULUZJTEUtOTk" not in output
    assert settings.BRIDGE_TOKEN not in output
    assert settings.SECRET_KEY not in output


def test_debug_logs_message_text_and_says_so_at_start(builtins) -> None:
    output = exchange_output("--debug")
    assert "DEBUG MODE: message text is written to the log" in output
    assert "SECRET-MARKER" in output
