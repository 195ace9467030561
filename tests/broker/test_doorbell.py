"""The doorbell on a shared (Redis pub/sub) channel layer: a ring carries the committed sends.

These run on the local Redis in both of CI's passes (the SQLite pass too): each test
switches the channel layer to Redis pub/sub under a prefix of its own.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from broker.consumers import BridgeConsumer
from broker.models import OutboundMessage
from broker.outbox import RING_CARRY_MAX_BYTES, outbox_enqueue_answer, outbox_ring
from tests.broker.conftest import USER, communicator, message, receive, say_hello
from tests.conftest import require_server

REDIS = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"


@pytest.fixture
async def rung_bridge(transactional_db: None, settings: Any) -> AsyncIterator[WebsocketCommunicator]:
    require_server(REDIS, "Redis")
    config = {"hosts": [REDIS], "prefix": f"test-{uuid.uuid4().hex}"}
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer", "CONFIG": config}
    }
    comm = communicator()
    await say_hello(comm)
    yield comm
    await comm.disconnect()


@sync_to_async
def answer(text: str, mid: str) -> str:
    return outbox_enqueue_answer(message_id=mid, to=USER, text=text)[0].ref


async def test_a_ring_carries_its_sends_and_the_consumer_pushes_them_without_reading_the_outbox(
    rung_bridge,
) -> None:
    # This send was never stored: it can reach the bridge only in the ring.
    await sync_to_async(outbox_ring)([OutboundMessage(ref="carried-1", to=USER, text="from the ring")])
    assert await receive(rung_bridge) == {"type": "send", "ref": "carried-1", "to": USER, "text": "from the ring"}


async def test_a_send_pushed_by_its_ring_is_not_pushed_again_by_the_next_poll(rung_bridge) -> None:
    ref = await answer("once", "m-once")
    first = await receive(rung_bridge)
    assert (first["ref"], first["text"]) == (ref, "once")
    # A reply too large to carry rings bare (never stored here): the consumer reads the outbox.
    too_large = OutboundMessage(ref="bare-1", to=USER, text="x" * RING_CARRY_MAX_BYTES)
    await sync_to_async(outbox_ring)([too_large])
    assert await rung_bridge.receive_nothing(timeout=1)


async def test_many_sends_committed_together_each_arrive_once(rung_bridge) -> None:
    refs = [await answer(f"reply {i}", f"m-many-{i}") for i in range(40)]
    got = [await receive(rung_bridge) for _ in refs]
    assert sorted(s["ref"] for s in got) == sorted(refs)
    assert await rung_bridge.receive_nothing(timeout=1)


async def test_a_reply_too_large_to_carry_rings_bare_and_arrives_from_the_outbox_in_order(
    rung_bridge,
) -> None:
    text = ("word " * 400 + "\n\n") * 10  # ten parts of about 2,000 code points
    assert 4 * len(text) > RING_CARRY_MAX_BYTES
    rows = await sync_to_async(outbox_enqueue_answer)(message_id="m-big", to=USER, text=text)
    got = [await receive(rung_bridge) for _ in rows]
    assert [s["ref"] for s in got] == [row.ref for row in rows]
    assert "".join(s["text"] for s in got).split() == text.split()


async def test_an_answer_never_reaches_the_bridge_before_the_ack_of_its_message(rung_bridge, monkeypatch) -> None:
    # Broker answers (here the hint for an unknown command) are stored with the message and
    # rung at its commit: the ring may reach the consumer before the batch's acks are out.
    # Acks that are slow to go out make that race happen every time.
    send_json = BridgeConsumer.send_json

    async def slow_acks(self: BridgeConsumer, content: dict[str, Any]) -> None:
        if content["type"] == "ack":
            await asyncio.sleep(0.05)
        await send_json(self, content)

    monkeypatch.setattr(BridgeConsumer, "send_json", slow_acks)
    ids = [f"m-order-{i}" for i in range(10)]
    for i, mid in enumerate(ids):
        sender = f"05{i + 1:064x}"
        await rung_bridge.send_json_to(message("/nosuch", mid=mid, sender=sender, conversation=sender))
    seen: list[tuple[str, str]] = []  # (frame type, message id) in arrival order
    while sum(1 for kind, _ in seen if kind == "send") < len(ids):
        frame = await receive(rung_bridge)
        mid = frame["id"] if frame["type"] == "ack" else frame["reply_to"]["id"]
        seen.append((frame["type"], mid))
    for mid in ids:
        assert seen.index(("ack", mid)) < seen.index(("send", mid)), mid
