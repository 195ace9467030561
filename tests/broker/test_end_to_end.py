"""A user's command travels bridge → broker → real Celery worker → outbox → bridge."""

from __future__ import annotations

import pytest

from broker.models import OutboundMessage
from tests.broker.conftest import USER, message, receive, receive_until

pytestmark = pytest.mark.slow


async def sends_for(bridge, count: int) -> list[dict]:
    got: list[dict] = []
    while len(got) < count:
        frame = await receive(bridge, timeout=60)
        if frame["type"] == "send":
            got.append(frame)
    return got


async def test_ping_is_answered_pong_through_a_real_worker(bridge, builtins, celery_worker) -> None:
    await bridge.send_json_to(message("/ping", mid="e2e-ping"))
    assert (await receive_until(bridge, "ack"))["status"] == "accepted"
    (send,) = await sends_for(bridge, 1)
    assert send["text"] == "pong"
    assert send["to"] == USER
    assert send["reply_to"]["id"] == "e2e-ping"


async def test_a_5000_character_echo_arrives_as_three_ordered_parts(bridge, builtins, celery_worker) -> None:
    words = [f"word{i:04d}" for i in range(700)]
    text = " ".join(words)[:5000]
    assert len(text) == 5000
    await bridge.send_json_to(message(f"/echo {text}", mid="e2e-echo"))
    sends = await sends_for(bridge, 3)
    assert all(len(s["text"]) <= 2000 for s in sends)
    assert "".join(s["text"] for s in sends) == text
    assert len({s["ref"] for s in sends}) == 3
    for s in sends:
        await bridge.send_json_to({"type": "sent", "ref": s["ref"], "hash": "h" + s["ref"], "timestamp": 1})
    await bridge.send_json_to(message("/ping", mid="after-echo"))
    await receive_until(bridge, "ack")
    confirmed = OutboundMessage.objects.filter(status="sent")
    assert await confirmed.acount() == 3
