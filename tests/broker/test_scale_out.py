"""With REDIS_URL: several ``runbroker --no-worker`` processes and a separate worker share the load."""

from __future__ import annotations

import json

import pytest
from django.conf import settings
from websockets.sync.client import ClientConnection

from broker.models import InboundMessage, OutboundMessage
from tests.broker.conftest import BOT, message
from tests.broker.servers import bridge_connect, frame_recv, hello, runbroker
from tests.broker.test_one_bridge import half_open_taken_over, one_bridge_refused
from tests.conftest import require_server, worker_env

pytestmark = [pytest.mark.slow, pytest.mark.services]

USERS = [f"05{i:064x}" for i in range(1, 13)]
OTHER_BOT = "05" + "b1" * 32  # one live bridge per bot: the second broker's bridge is another bot's
LIMITED = "05" + "ee" * 32


@pytest.fixture
def redis_mode() -> None:
    if not settings.REDIS_URL or settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        pytest.skip("runs on Redis and PostgreSQL (set DATABASE_URL and REDIS_URL)")
    require_server(settings.REDIS_URL, "Redis")


def _sends_until(ws: ClientConnection, got: dict[str, str], *, sends: int, acks: int = 0) -> None:
    """Read frames into ``got`` (sends by ref) until it holds ``sends`` and ``acks`` acks came."""
    acked = 0
    while len(got) < sends or acked < acks:
        frame = frame_recv(ws)
        if frame["type"] == "send":
            got[frame["ref"]] = frame["text"]
        elif frame["type"] == "ack":
            acked += 1


def test_two_brokers_and_a_separate_worker_answer_every_message_once(
    redis_mode, builtins, celery_worker, tmp_path
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("rate_limit:\n  messages: 2\n  window_seconds: 3600\n")
    env = {**worker_env(), "SESSIONBOT_CONFIG": str(config)}
    mine: dict[str, str] = {}  # the sends of BOT, whichever broker pushed them
    other: dict[str, str] = {}
    with runbroker("--no-worker", env=env) as (port_a, _), runbroker("--no-worker", env=env) as (port_b, _):
        with bridge_connect(port_a) as a, bridge_connect(port_b) as b:
            hello(a, BOT)
            hello(b, OTHER_BOT)
            for i, user in enumerate(USERS):
                ws = a if i % 2 else b
                ws.send(json.dumps(message("/ping", sender=user, conversation=user, mid=f"scale-{i}")))
            # One user's first two messages to BOT reach broker A; its third, broker B.
            for i in range(2):
                a.send(json.dumps(message("/nosuch", sender=LIMITED, conversation=LIMITED, mid=f"rl-{i}")))
            _sends_until(a, mine, sends=0, acks=len(USERS) // 2 + 2)
            _sends_until(b, other, sends=len(USERS) // 2)
        # BOT's bridge reconnects through the other broker (its lease went with the close):
        # it gets what was not confirmed again, and its rate limit is the one counted in Redis.
        with bridge_connect(port_b) as c:
            hello(c, BOT)
            c.send(json.dumps(message("/nosuch", sender=LIMITED, conversation=LIMITED, mid="rl-2")))
            _sends_until(c, mine, sends=len(USERS) // 2 + 3)
    assert not set(mine) & set(other), "each bot's sends go to its own bridge only"
    assert list(other.values()) == ["pong"] * (len(USERS) // 2)
    texts = list(mine.values())
    assert texts.count("pong") == len(USERS) // 2
    assert texts.count("Unknown command /nosuch. Send /help to see what I can do.") == 2
    assert texts.count("You are sending messages too fast. Please wait a few seconds and try again.") == 1
    assert OutboundMessage.objects.filter(text="pong").count() == len(USERS)
    assert InboundMessage.objects.count() == len(USERS) + 3


def test_across_two_brokers_a_second_bridge_of_a_bot_is_refused(redis_mode, transactional_db) -> None:
    with runbroker("--no-worker") as (port_a, _), runbroker("--no-worker") as (port_b, _):
        one_bridge_refused(port_a, port_b)


def test_across_two_brokers_a_reconnect_takes_over_its_half_open_connection(redis_mode, transactional_db) -> None:
    with runbroker("--no-worker") as (port_a, _), runbroker("--no-worker") as (port_b, _):
        half_open_taken_over(port_a, port_b)
