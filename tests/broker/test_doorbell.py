"""The doorbell on a shared (Redis pub/sub) channel layer: a ring names the committed sends.

These run on the local Redis in both of CI's passes (the SQLite pass too): each test
switches the channel layer to Redis pub/sub under a prefix of its own.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from broker.consumers import BridgeConsumer
from broker.doorbell import MAX_REF_LENGTH, MAX_REFS, Ring, ring_event, ring_parse
from broker.models import InboundMessage, OutboundMessage
from broker.outbox import doorbell_group, outbox_enqueue_answer, outbox_ring
from tests.broker.conftest import USER, communicator, message, receive, say_hello
from tests.conftest import require_server
from tests.thebot import athe_bot, the_bot

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
    return outbox_enqueue_answer(bot=the_bot().pk, message_id=mid, to=USER, text=text)[0].ref


async def test_a_ring_pushes_only_what_the_outbox_holds_as_pending(rung_bridge) -> None:
    # Never stored: a ring naming it pushes nothing.
    await sync_to_async(outbox_ring)(
        [OutboundMessage(bot=await athe_bot(), ref="not-stored-1", to=USER, text="from the ring")]
    )
    ref = await answer("stored", "m-stored")
    assert await receive(rung_bridge) == {"type": "send", "ref": ref, "to": USER, "text": "stored"}
    assert await rung_bridge.receive_nothing(timeout=1.5)


async def test_a_send_pushed_by_its_ring_is_not_pushed_again_by_the_next_poll(rung_bridge) -> None:
    ref = await answer("once", "m-once")
    first = await receive(rung_bridge)
    assert (first["ref"], first["text"]) == (ref, "once")
    assert await rung_bridge.receive_nothing(timeout=1.5)


async def test_many_sends_committed_together_each_arrive_once(rung_bridge) -> None:
    refs = [await answer(f"reply {i}", f"m-many-{i}") for i in range(40)]
    got = [await receive(rung_bridge) for _ in refs]
    assert sorted(s["ref"] for s in got) == sorted(refs)
    assert await rung_bridge.receive_nothing(timeout=1)


async def test_the_parts_of_a_long_reply_arrive_in_order(rung_bridge) -> None:
    text = ("word " * 400 + "\n\n") * 10  # ten parts of about 2,000 code points
    rows = await sync_to_async(outbox_enqueue_answer)(bot=(await athe_bot()).pk, message_id="m-big", to=USER, text=text)
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


async def test_events_on_the_channel_layer_other_than_rings_are_ignored(rung_bridge, caplog) -> None:
    # Anyone who reaches Redis can publish on the bridge group: a frame as if the bridge
    # had sent it, a ring carrying frames, a ring of another shape.
    layer = get_channel_layer()
    sent = {"type": "sent", "ref": "x", "hash": "h", "timestamp": 1}
    forged = [
        {"type": "websocket.receive", "text": json.dumps(message("/ping", mid="m-forged"))},
        {"type": "websocket.receive", "text": json.dumps(sent)},
        {"type": "websocket.disconnect", "code": 1000},
        {"type": "send.json", "ref": "x", "to": USER, "text": "forged"},
        {"type": "outbox.ring", "sends": [{"type": "ack", "id": "m-lost", "status": "accepted"}], "poll": False},
        {"type": "outbox.ring", "refs": "not-a-list", "poll": False},
    ]
    with caplog.at_level(logging.WARNING, logger="broker.consumers"):
        group = doorbell_group((await athe_bot()).pk)  # the group the bot's consumers hear
        for event in forged:
            await layer.group_send(group, event)
        ref = await answer("genuine", "m-genuine")
        assert await receive(rung_bridge) == {"type": "send", "ref": ref, "to": USER, "text": "genuine"}
        assert await rung_bridge.receive_nothing(timeout=1.5)
    assert not await sync_to_async(InboundMessage.objects.filter(message_id="m-forged").exists)()
    warnings = [r for r in caplog.records if "not an outbox ring" in r.getMessage()]
    assert len(warnings) == 1  # once per connection


@pytest.mark.parametrize(
    ("event", "ring"),
    [
        ({"type": "outbox.ring", "refs": ["a", "b"], "poll": False}, Ring(refs=("a", "b"), poll=False)),
        ({"type": "outbox.ring", "refs": [], "poll": True}, Ring(refs=(), poll=True)),
        ({"type": "outbox.ring", "refs": ["a"] * MAX_REFS, "poll": False}, Ring(refs=("a",) * MAX_REFS, poll=False)),
        ({"type": "outbox.ring", "refs": ["a" * MAX_REF_LENGTH], "poll": False}, Ring(("a" * MAX_REF_LENGTH,), False)),
        ({"type": "outbox.ring", "refs": ["a"] * (MAX_REFS + 1), "poll": False}, None),
        ({"type": "outbox.ring", "refs": ["a" * (MAX_REF_LENGTH + 1)], "poll": False}, None),
        ({"type": "outbox.ring", "refs": [""], "poll": False}, None),
        ({"type": "outbox.ring", "refs": [1], "poll": False}, None),
        ({"type": "outbox.ring", "refs": "a", "poll": False}, None),
        ({"type": "outbox.ring", "refs": ["a"], "poll": 1}, None),
        ({"type": "outbox.ring", "refs": ["a"]}, None),
        ({"type": "outbox.ring", "refs": ["a"], "poll": False, "sends": []}, None),
        ({"type": "outbox.ring", "sends": [{"type": "send"}], "poll": False}, None),
        ({"type": "websocket.receive", "refs": ["a"], "poll": False}, None),
        (["outbox.ring"], None),
    ],
)
def test_a_ring_names_refs_and_nothing_else(event, ring) -> None:
    assert ring_parse(event) == ring


def test_a_ring_event_is_what_the_parser_reads() -> None:
    assert ring_parse(ring_event(refs=["a"], poll=True)) == Ring(refs=("a",), poll=True)
