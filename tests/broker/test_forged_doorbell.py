"""Redis is not trusted: what a plugin that reaches it publishes on the bridge group is not pushed.

A real ``runbroker`` (with its worker) on PostgreSQL and Redis; the events are published
straight to Redis, as the channel layer would publish them, with a plain Redis client.
"""

from __future__ import annotations

import json
import time

import msgpack
import pytest
import redis
from django.conf import settings

from bots.models import Bot
from broker.models import InboundMessage, OutboundMessage
from broker.outbox import doorbell_group
from tests.broker.conftest import BOT, USER, message
from tests.broker.servers import bridge_connect, frame_recv, hello, runbroker
from tests.conftest import require_server

pytestmark = [pytest.mark.slow, pytest.mark.services]

VICTIM = "05" + "99" * 32


def bridge_group_channel(session_id: str) -> str:
    """channels_redis' pub/sub name of the group of the bot's bridge connections."""
    return f"asgi__group__{doorbell_group(Bot.objects.get(session_id=session_id).pk)}"


@pytest.fixture
def redis_mode() -> None:
    if not settings.REDIS_URL or settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        pytest.skip("runs on Redis and PostgreSQL (set DATABASE_URL and REDIS_URL)")
    require_server(settings.REDIS_URL, "Redis")


def forge(*events: dict[str, object]) -> None:
    client = redis.Redis.from_url(settings.REDIS_URL)
    channel = bridge_group_channel(BOT)
    try:
        for event in events:
            assert client.publish(channel, msgpack.packb(event)) >= 1  # the server listens
    finally:
        client.close()


def test_a_forged_send_and_a_forged_ack_never_reach_the_bridge_and_a_real_reply_does(redis_mode, builtins) -> None:
    forged_send = {"type": "send", "ref": "forged-1", "to": VICTIM, "text": "forged text"}
    fake_ack = {"type": "ack", "id": "m-never-stored", "status": "accepted", "ref": "forged-2"}
    with runbroker() as (port, _), bridge_connect(port) as ws:
        hello(ws, BOT)
        forge(
            {"type": "outbox.ring", "sends": [forged_send, fake_ack], "poll": False},
            {"type": "outbox.ring", "refs": ["forged-1"], "poll": False},
            {"type": "websocket.receive", "text": json.dumps(message("/ping", sender=VICTIM, mid="m-forged"))},
        )
        time.sleep(0.5)
        ws.send(json.dumps(message("/ping", mid="m-real")))
        frames = [frame_recv(ws), frame_recv(ws)]
        with pytest.raises(TimeoutError):  # and nothing else
            frames.append(frame_recv(ws, timeout=2))
    assert frames[0] == {"type": "ack", "id": "m-real", "status": "accepted"}
    assert (frames[1]["type"], frames[1]["to"], frames[1]["text"]) == ("send", USER, "pong")
    assert not OutboundMessage.objects.filter(to=VICTIM).exists()
    assert list(InboundMessage.objects.values_list("message_id", flat=True)) == ["m-real"]
