"""Slow plugins end to end: bridge protocol → broker → real Celery workers → outbox → bridge.

A plugin that takes 20 s works on a queue of its own, served by a worker of its own, while
``/ping`` from another user is answered at once by the default worker; the user of the
slow plugin sees it typing, its interim message, then its answer, each exactly once.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from broker.models import OutboundMessage
from plugins.models import QueueWorker
from plugins.queues import queue_served_forget
from tests.broker.conftest import OTHER, USER, communicator, message
from tests.conftest import ROOT, process_stop, wait_for, worker_env
from tests.plugins.conftest import derive, install

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
SLOW = "fx_slow:Slow"


@pytest.fixture
def llm_worker(plugin_roots, celery_worker) -> Iterator[subprocess.Popen[bytes]]:
    """A second real worker serving the ``llm`` queue only, started as the docs say:
    ``celery -A sessionbot worker -Q llm`` (Celery's own pool, which enforces its time limits)."""
    argv = [sys.executable, "-m", "celery", "-A", "sessionbot", "worker", "-Q", "llm", "-n", "llm@%h"]
    argv += ["--concurrency=2", "--loglevel=WARNING"]
    proc = subprocess.Popen(argv, cwd=ROOT, env=worker_env())
    try:
        assert wait_for(lambda: QueueWorker.objects.filter(queue="llm").exists(), timeout=60)
        queue_served_forget()
        yield proc
    finally:
        process_stop(proc, timeout=15)


async def hello(features: list[str] | None = None) -> WebsocketCommunicator:
    comm = communicator()
    connected, _ = await comm.connect(timeout=20)
    assert connected
    frame: dict[str, Any] = {"type": "hello", "protocol": 1, "bot_id": "05" + "b0" * 32, "client": "tests/slow"}
    if features is not None:
        frame["features"] = features
    await comm.send_json_to(frame)
    assert json.loads(await comm.receive_from(timeout=20)) == {"type": "welcome", "protocol": 1}
    return comm


class Bridge:
    """What a bridge sees: every frame, each send confirmed as a bridge would."""

    def __init__(self, comm: WebsocketCommunicator) -> None:
        self.comm = comm
        self.frames: list[tuple[float, dict[str, Any]]] = []

    async def until(self, found: Any, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            frame = json.loads(await self.comm.receive_from(timeout=max(0.1, deadline - time.monotonic())))
            self.frames.append((time.monotonic(), frame))
            if frame["type"] == "send":
                confirm = {"type": "sent", "ref": frame["ref"], "hash": "h-" + frame["ref"], "timestamp": 1}
                await self.comm.send_json_to(confirm)
            if found(frame):
                return frame

    def sends(self) -> list[dict[str, Any]]:
        return [frame for _, frame in self.frames if frame["type"] == "send"]


def text_is(text: str) -> Any:
    return lambda frame: frame["type"] == "send" and frame["text"] == text


async def test_a_20_second_plugin_on_its_own_queue_delays_no_one(plugin_roots, celery_worker, llm_worker) -> None:
    await sync_to_async(lambda: derive(install("slow", SLOW, [], timeout_seconds=60, queue="llm")))()
    await sync_to_async(lambda: install("ping", "sessionbot_builtin.ping:Ping", ["ping"], isolation="inline"))()
    bridge = Bridge(await hello(["typing"]))
    try:
        started = time.monotonic()
        await bridge.comm.send_json_to(message("/slow 20", sender=USER, mid="slow-1"))
        await bridge.until(text_is("working"), timeout=30)  # the plugin has started on the llm worker
        asked = time.monotonic()
        await bridge.comm.send_json_to(message("/ping", sender=OTHER, mid="ping-1"))
        pong = await bridge.until(text_is("pong"), timeout=10)
        assert time.monotonic() - asked < 3.0
        assert pong["to"] == OTHER
        done = await bridge.until(text_is("done after 20 s"), timeout=60)
        assert done["to"] == USER
        assert time.monotonic() - started >= 20
        assert await bridge.comm.receive_nothing(timeout=2)  # nothing more: every answer came once
    finally:
        await bridge.comm.disconnect()
    sends = bridge.sends()
    assert [(s["to"], s["text"]) for s in sends] == [
        (USER, "working"),
        (OTHER, "pong"),
        (USER, "done after 20 s"),
    ]
    assert len({s["ref"] for s in sends}) == 3
    # The user waiting for the slow plugin saw it typing while it worked, until its answer.
    typing = [(at, frame["to"]) for at, frame in bridge.frames if frame["type"] == "typing"]
    assert {to for _, to in typing} == {USER}
    done_at = next(at for at, frame in bridge.frames if frame.get("text") == "done after 20 s")
    assert any(at < done_at for at, _ in typing)
    stored = await sync_to_async(lambda: sorted(OutboundMessage.objects.values_list("text", flat=True)))()
    assert stored == ["done after 20 s", "pong", "working"]


async def test_interim_messages_arrive_in_order_and_once_before_the_answer(plugin_roots, celery_worker) -> None:
    await sync_to_async(lambda: derive(install("slow", SLOW, [], timeout_seconds=30)))()
    bridge = Bridge(await hello())
    try:
        await bridge.comm.send_json_to(message("/asteps 4", mid="steps-1"))
        await bridge.until(text_is("async done"), timeout=60)
        assert await bridge.comm.receive_nothing(timeout=2)
    finally:
        await bridge.comm.disconnect()
    sends = bridge.sends()
    assert [s["text"] for s in sends] == [*(f"async step {n} of 4" for n in range(1, 5)), "async done"]
    assert len({s["ref"] for s in sends}) == 5
    assert [("reply_to" in s) for s in sends] == [False] * 4 + [True]  # the answer quotes the question
    assert not any(frame["type"] == "typing" for _, frame in bridge.frames)  # not asked for in the hello


async def test_a_plugin_on_a_queue_nobody_serves_is_unavailable_within_seconds(plugin_roots, transactional_db) -> None:
    await sync_to_async(lambda: derive(install("slow", SLOW, [], queue="gpu")))()
    bridge = Bridge(await hello())
    try:
        asked = time.monotonic()
        await bridge.comm.send_json_to(message("/slow 1", mid="gpu-1"))
        answer = await bridge.until(lambda frame: frame["type"] == "send", timeout=10)
        assert time.monotonic() - asked < 3.0
    finally:
        await bridge.comm.disconnect()
    assert answer["text"] == "Sorry, /slow is unavailable right now. Please try again later."
    inv = await sync_to_async(lambda: OutboundMessage.objects.get(ref=answer["ref"]).invocation)()
    assert inv is not None
    assert inv.status == "failed"
    assert "gpu" in inv.error
